"""The documentation stays true to the code: generated, complete, linked, runnable.

- docs/parameters.md is exactly what ``python -m sim.output.paramdocs`` generates from the schema.
- docs/model.md names every model parameter, every monthly record column and every KPI, and
  every parameter path any doc names exists.
- The rules across fields that parameters.md lists are really enforced by the loader.
- Every CLI verb is in docs/guide.md, and the guide documents no verb that does not exist.
- Local links and in-page anchors resolve.
- The validation script's theory code agrees with Erlang C where both apply, and its checks
  print the sections docs/validation.md quotes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re

import pytest

from sim.engine import model
from sim.output import paramdocs
from sim.params.scenario import ScenarioError, load_text
from sim.params.schema import Params
from sim.params.walk import iter_params
from sim.runs.metrics import KPIS
from tests.conftest import ROOT

DOCS = ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
SECTIONS = {p.section for p in iter_params()}


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ parameters.md


def test_parameters_md_is_generated_from_the_schema_and_not_stale():
    assert read("parameters.md") == paramdocs.render(), "docs/parameters.md is stale: run `python -m sim.output.paramdocs`"


def test_paramdocs_check_mode_detects_a_stale_file(tmp_path):
    f = tmp_path / "p.md"
    assert paramdocs.main(["--out", str(f)]) == 0
    assert paramdocs.main(["--check", "--out", str(f)]) == 0
    f.write_text(f.read_text().replace("Master seed", "Master sed"))
    assert paramdocs.main(["--check", "--out", str(f)]) == 1


def test_every_parameter_row_has_unit_default_range_and_description():
    rows = [p for p in iter_params() if p.type in ("int", "float")]
    assert rows
    for p in rows:
        assert p.unit or p.path == "run.seed", p.path
        assert p.allowed.startswith(("[", "(")), p.path
        assert p.description, p.path
    text = read("parameters.md")
    for p in iter_params():
        assert f"`{p.path}`" in text, p.path


CROSS_FIELD_CASES = {
    "`customers.segments[].share`": "[[customers.segments]]\nname = 'a'\nshare = 0.5\n",
    "Segment names": "[[customers.segments]]\nname = 'a'\nshare = 0.5\n"
                     "[[customers.segments]]\nname = 'a'\nshare = 0.5\n",
    "`satisfaction.initial_shares`": "[satisfaction]\ninitial_shares = [0.1, 0.1, 0.1, 0.1, 0.1]\n",
    "`support.min_agents`": "[support]\nmin_agents = 9\nmax_agents = 3\n",
    "`support.open_hour`": "[support]\nopen_hour = 17\nclose_hour = 9\n",
    "Policy names": "[policies.'a b']\n",
    "`scenario.reference_policy`": "[scenario]\nreference_policy = 'nope'\n",
    "A policy may override": "[policies.p]\nrun.months = 3\n",
}


@pytest.mark.parametrize("rule", paramdocs.CROSS_FIELD_RULES)
def test_documented_rules_across_fields_are_enforced(rule):
    case = next((text for key, text in CROSS_FIELD_CASES.items() if rule.startswith(key)), None)
    assert case is not None, f"no violating example for the documented rule: {rule}"
    with pytest.raises(ScenarioError):
        load_text(case)


# ------------------------------------------------------------------ model.md


def test_model_md_names_every_model_parameter():
    text = read("model.md")
    missing = [p.path for p in iter_params(Params) if p.path not in text]
    assert not missing, f"docs/model.md does not say how these parameters enter the model: {missing}"


def test_model_md_names_every_record_column_and_kpi():
    text = read("model.md")
    record = model.run(Params.model_validate({"customers": {"initial": 20}}), months=1, seed=1)[0]
    missing = [k for k in record if f"`{k}`" not in text and not k.startswith("share_")]
    assert not missing, f"monthly record columns missing from docs/model.md: {missing}"
    assert "`share_below`" in text and "`share_wow`" in text
    assert not [k for k in KPIS if f"`{k}`" not in text]


def test_model_md_covers_every_mechanism_and_what_is_not_captured():
    text = read("model.md")
    for heading in ("Issue arrival", "Help-seeking", "support desk", "Staffing", "satisfaction ladder",
                    "Churn hazard", "Word of mouth", "Acquisition", "Trials and conversion", "VIP programme",
                    "Loyalty", "Money", "KPIs", "What the model does not capture"):
        assert re.search(rf"^##.*{re.escape(heading)}", text, re.M | re.I), heading


_ALT = "|".join(sorted(SECTIONS))
PATH_RE = re.compile(rf"`((?:{_ALT})\.[A-Za-z_\[\]\.]+)`")


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_parameter_paths_named_in_docs_exist(doc):
    known = {p.path for p in iter_params()}
    known |= {path[:i] for path in known for i in range(len(path)) if path[i] in ".["}  # tables and lists
    named = set(PATH_RE.findall(doc.read_text(encoding="utf-8")))
    unknown = sorted(n for n in named if n.rstrip(".") not in known)
    assert not unknown, f"{doc.name} names parameters the schema does not have: {unknown}"


# ------------------------------------------------------------------ guide.md and the CLI


def cli_verbs() -> set[str]:
    from tests.procs import supportsim

    out = supportsim("--help").stdout
    block = out.split("COMMAND", 2)[-1]
    return set(re.findall(r"^    (\w[\w-]*)\s", block, re.M))


def test_guide_documents_every_cli_verb_and_invents_none():
    verbs = cli_verbs()
    assert {"run", "validate", "schema"} <= verbs
    guide = read("guide.md")
    documented = set(re.findall(r"^### `supportsim (\w[\w-]*)", guide, re.M))
    assert verbs - documented == set(), f"verbs missing from docs/guide.md: {verbs - documented}"
    assert documented - verbs == set(), f"docs/guide.md documents verbs that do not exist: {documented - verbs}"


def test_guide_worked_example_is_a_valid_scenario():
    guide = read("guide.md")
    blocks = re.findall(r"```toml\n(.*?)```", guide, re.S)
    assert blocks, "the guide has no TOML example"
    for block in blocks:
        if "# worked example" in block:
            s = load_text(block)
            assert s.policies
            return
    pytest.fail("no TOML block marked '# worked example' in docs/guide.md")


# ------------------------------------------------------------------ links


def _slug(heading: str) -> str:
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_local_links_and_anchors_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        assert dest.exists(), f"{doc.name}: broken link {target}"
        if anchor and dest.suffix == ".md":
            slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(encoding="utf-8"), re.M)}
            assert anchor in slugs, f"{doc.name}: no heading for #{anchor} in {dest.name}"


def test_readme_links_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("model.md", "parameters.md", "validation.md", "guide.md", "design.md"):
        assert f"docs/{name}" in readme, name


# ------------------------------------------------------------------ the validation script


@pytest.fixture(scope="module")
def validate_model():
    spec = importlib.util.spec_from_file_location("validate_model", ROOT / "scripts" / "validate_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_erlang_a_theory_tends_to_erlang_c_without_abandonment(validate_model):
    from sim.engine import erlang

    for agents, load in ((5, 4.0), (3, 1.5), (10, 9.0)):
        a = validate_model.erlang_a(agents, load / 0.5, 0.5, patience_mean=1e9)
        assert a["p_wait"] == pytest.approx(erlang.erlang_c(agents, load), rel=1e-4)
        assert a["time_in_queue"] == pytest.approx(erlang.mean_wait(agents, load, 0.5), rel=1e-4)
        assert a["p_abandon"] < 1e-6


def test_validation_checks_print_the_sections_validation_md_quotes(validate_model):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        validate_model.check_erlang_c(agents=2, handle_mean=0.5, rhos=[0.5], reps=2, base_n=300, seed=1)
        validate_model.check_erlang_a(agents=2, handle_mean=0.5, patience_mean=1.0, rhos=[1.0], reps=2, n=500,
                                      seed=1)
    printed = buf.getvalue()
    doc = read("validation.md")
    for title in re.findall(r"^### (\d\. [^(]+)", printed, re.M):
        assert title.strip() in doc, f"docs/validation.md lacks the section the script prints: {title}"
    assert "| 0.50 |" in printed and "| 1.00 |" in printed

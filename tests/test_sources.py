"""Every default cites a source that resolves, and nothing points outside the repository.

- Every parameter of the schema (walked by ``sim.output.paramdocs.iter_params``) has a source
  string that is either ``[key] note`` with every key an entry of docs/sources.md, or
  ``assumption: <reason>``. Only the labels and the policy table carry no source.
- docs/sources.md is what the generator writes from ``sim.params.sources`` and gives every
  entry an author, a title, a year and a link (or the reason there is none).
- No file of the repository refers to a document outside it, and no local link leaves it.
"""

from __future__ import annotations

import re

import pytest

from sim.output import paramdocs
from sim.output.paramdocs import iter_params, source_cell
from sim.params.sources import SOURCES, parse, readable
from tests.conftest import ROOT

# Fields that are names or containers, not behavioural parameters: they act on no output.
NOT_BEHAVIOURAL = {
    "customers.segments[].name", "scenario.name", "scenario.description", "scenario.reference_policy", "policies",
    "uncertainty",  # the distributions of `supportsim decide`, not a parameter of a run
}
SOURCES_MD = ROOT / "docs" / "sources.md"


def test_every_parameter_cites_a_source_that_resolves():
    problems = []
    for p in iter_params():
        if p.path in NOT_BEHAVIOURAL:
            continue
        try:
            parse(p.source)
        except ValueError as err:
            problems.append(f"{p.path}: {err}")
    assert not problems, "fix the source= of these fields (see docs/sources.md, 'How to cite a default'):\n" + \
        "\n".join(problems)


def test_only_labels_and_containers_go_without_a_source():
    unsourced = {p.path for p in iter_params() if not p.source}
    assert unsourced == NOT_BEHAVIOURAL


@pytest.mark.parametrize("text, problem", [
    ("DOM" "AIN §1 (Netflix argument)", "neither"),  # the old form, citing a file outside the repository
    ("assumption", "neither"),  # the bare default of param(): no reason given
    ("assumption: guess", "without a real reason"),
    ("[no-such-source] a claim", "unknown source key"),
    ("[lambrecht2006][nope] a claim", "unknown source key"),
    ("[lambrecht2006]", "neither"),  # a key with no note
    ("Lambrecht & Skiera 2006", "neither"),  # a citation in prose, not by key
])
def test_a_source_that_resolves_nowhere_is_rejected(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse(text)


def test_citations_parse_into_keys_and_note():
    c = parse("[lambrecht2006][article-flat-vs-tiered] pay-per-use raises churn")
    assert c.keys == ("lambrecht2006", "article-flat-vs-tiered") and c.note == "pay-per-use raises churn"
    assert parse("assumption: a policy choice, not a figure").is_assumption
    assert readable("[gallo2014] 5-25x") == "Gallo 2014 (HBR): 5-25x"
    assert readable("assumption: a policy choice, not a figure") == "Assumption: a policy choice, not a figure"


def test_parameters_md_links_each_source_to_its_entry():
    text = (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8")
    for p in iter_params():
        if p.source:
            assert source_cell(p.source) in text, p.path
            for key in parse(p.source).keys:
                assert f"(sources.md#{key})" in text, (p.path, key)


# ------------------------------------------------------------------ docs/sources.md


def test_sources_md_is_generated_from_the_registry_and_not_stale():
    assert SOURCES_MD.read_text(encoding="utf-8") == paramdocs.render_sources(), \
        "docs/sources.md is stale: run `python -m sim.output.paramdocs`"


def test_sources_md_starts_with_how_to_cite_a_default():
    headings = re.findall(r"^## (.*)$", SOURCES_MD.read_text(encoding="utf-8"), re.M)
    assert headings[0] == "How to cite a default"


def _entries() -> dict[str, str]:
    """Entry text of docs/sources.md by key (the text under each '### key' heading)."""
    text = SOURCES_MD.read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


def test_every_source_has_key_author_title_year_and_link():
    entries = _entries()
    assert set(entries) == set(SOURCES), "docs/sources.md and sim.params.sources.SOURCES list different keys"
    for key, body in entries.items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", key), key
        for field in ("Author", "Title", "Year", "Link"):
            m = re.search(rf"^- \*\*{field}:\*\* (.+)$", body, re.M)
            assert m and m.group(1).strip(), f"{key}: no {field}"
        year = re.search(r"^- \*\*Year:\*\* (.+)$", body, re.M).group(1)
        assert re.fullmatch(r"(19|20)\d\d|n\.d\.", year), f"{key}: year {year!r}"
        link = re.search(r"^- \*\*Link:\*\* (.+)$", body, re.M).group(1)
        assert re.fullmatch(r"<https?://\S+>", link) or link.startswith("none: "), f"{key}: link {link!r}"


def test_every_registry_entry_is_complete():
    for s in SOURCES.values():
        assert s.authors and s.title and s.year and s.published_in and s.supports, s.key
        assert bool(s.link) != bool(s.no_link), f"{s.key}: a link, or the reason there is none (not both)"


# ------------------------------------------------------------------ nothing outside the repository

SCANNED = ["sim", "docs", "tests", "scenarios", "scripts", "bench", "examples", "README.md", "app.py",
           "Makefile", "pyproject.toml"]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh", ".csv", ""}
# Built from parts so that this file does not match itself.
OUTSIDE = [re.compile(p) for p in (r"\b" + "DOM" + r"AIN\b", "sha" + "red/", r"\.\." + "/", "/wo" + "rk/")]


def _files():
    for name in SCANNED:
        path = ROOT / name
        found = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for f in found:
            if f.is_file() and f.suffix in TEXT_SUFFIXES and "__pycache__" not in f.parts:
                yield f


def test_no_file_refers_to_a_document_outside_the_repository():
    hits = []
    for f in _files():
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if any(p.search(line) for p in OUTSIDE):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


def test_no_local_link_leaves_the_repository():
    for f in _files():
        if f.suffix != ".md":
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", f.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", target) or target.startswith(("#", "mailto:")):
                continue
            dest = (f.parent / target.partition("#")[0]).resolve()
            assert dest.is_relative_to(ROOT), f"{f.relative_to(ROOT)}: link {target} leaves the repository"

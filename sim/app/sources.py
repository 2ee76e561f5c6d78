"""Where the app's scenario comes from, how large a run it admits, and how to reproduce it.

Where it sits: scenario files and uploads -> **sources** -> the sidebar (:mod:`sim.app.kit`
turns a source into controls) -> ``app.py``. A shipped file or an upload becomes a
:class:`Source`, validated with the same schema as ``supportsim validate``; the app's
scenario is always ``build_scenario(source, overrides)``, exactly what ``supportsim run FILE
--set ...`` builds, and :func:`cli_command` and :func:`scenario_toml` say so. The app's
guardrail (:func:`check_workload`) is the CLI's with a lower limit.

It never imports Streamlit and never runs the model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.params.scenario import (
    ScenarioError,
    decode_text,
    parse_toml_text,
    read_scenario_dict,
    scenario_hash,
    to_toml,
    validate_dict,
)
from sim.params.schema import Scenario
from sim.runs import guardrails

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_FILE = "baseline.toml"
FIXTURES = ("smoke.toml",)  # test scenarios: in scenarios/ for the CLI and tests, not in the app's picker

# The app refuses runs above this much work (customer-month equivalents of sim.runs.guardrails,
# an upper bound about 3-6x the customer-months really simulated; CLI: guardrails.DEFAULT_MAX_WORK).
# 300M admits every shipped scenario (vip.toml, the largest, is ~270M): a few minutes on two
# cores. SUPPORTSIM_APP_MAX_WORK changes it; each run's memory is capped as well (sim.app.procs).
APP_MAX_WORK = 300_000_000


# ---------------------------------------------------------------- scenario sources


@dataclass(frozen=True)
class Source:
    """Where the app's base scenario comes from: a shipped file or an upload."""

    label: str  # file name shown to the user
    data: dict[str, Any]  # the parsed TOML, before defaults
    scenario: Scenario  # the validated file, no overrides
    path: Path | None = None  # shipped file (None: upload)

    @property
    def id(self) -> str:
        """Identity of the source: controls reset when it changes."""
        return hashlib.sha256((self.label + "\0" + scenario_hash(self.scenario)).encode()).hexdigest()[:16]

    @property
    def cli_name(self) -> str:
        return f"scenarios/{self.label}" if self.path is not None else self.label


def shipped_scenarios(folder: Path = SCENARIO_DIR, *, fixtures: bool | None = None) -> dict[str, Path]:
    """Shipped scenario files by name, the default first, then alphabetical.

    Test fixtures (:data:`FIXTURES`) are left out of the picker unless ``fixtures`` (default:
    the environment variable ``SUPPORTSIM_APP_FIXTURES=1``, which the app's tests set).
    """
    if fixtures is None:
        fixtures = os.environ.get("SUPPORTSIM_APP_FIXTURES") == "1"
    files = sorted(folder.glob("*.toml"), key=lambda p: (p.name != DEFAULT_FILE, p.name))
    return {p.name: p for p in files if fixtures or p.name not in FIXTURES}


def load_source(path: Path) -> Source:
    """A shipped scenario file as a :class:`Source` (ScenarioError if invalid)."""
    data = read_scenario_dict(path)
    return Source(path.name, data, validate_dict(data, None, path.name), path)


def load_upload(name: str, content: bytes) -> Source:
    """An uploaded TOML, validated with the same schema as files (ScenarioError if not)."""
    text = decode_text(content, name)
    data = parse_toml_text(text, name)
    return Source(name, data, validate_dict(data, None, name), None)


def build_scenario(source: Source, overrides: Sequence[str]) -> Scenario:
    """The source with the app's overrides applied and validated (as the CLI's --set)."""
    if not overrides:
        return source.scenario
    return validate_dict(source.data, list(overrides), source.label)


def file_stem(name: str) -> str:
    """A scenario name as a safe file name stem: 'Q3 plan / v2' -> 'Q3_plan_v2'."""
    stem = re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("._")
    return stem or "scenario"


def cli_command(source: Source, overrides: Sequence[str], out: str = "results/app", *, verb: str = "run",
                options: Sequence[str] = ()) -> str:
    """The command that reproduces the app's run (or, with ``verb`` and ``options``, its
    analysis, e.g. ``decide`` with ``--samples 24``) from the shipped file and the overrides."""
    sets = " ".join(f"--set {shlex.quote(o)}" for o in overrides)
    # the order of sim.cli.common.reproduce_command, so the command a decision records is the one shown
    return (f"supportsim {verb} {shlex.quote(source.cli_name)} {' '.join(['--out', out, *options])}"
            + (f" {sets}" if sets else ""))


# ---------------------------------------------------------------- guardrail


def app_max_work() -> int:
    """The app's workload limit (customer-months); never above the CLI's."""
    raw = os.environ.get("SUPPORTSIM_APP_MAX_WORK")
    try:
        limit = int(float(raw)) if raw else APP_MAX_WORK
    except (ValueError, OverflowError):
        raise ScenarioError([f"SUPPORTSIM_APP_MAX_WORK: expected a number (got {raw!r})"], "environment") from None
    return max(1, min(limit, guardrails.max_work()))


def check_workload(scenario: Scenario) -> int:
    """ScenarioError (a clear message) if the run is too large for the app; else its work."""
    return guardrails.check(scenario, scenario.run.replications, app_max_work())


# ---------------------------------------------------------------- export and assumptions


def scenario_toml(scenario: Scenario, *, source: Source | None = None, overrides: Sequence[str] = ()) -> str:
    """The scenario as a complete TOML file; ``supportsim run`` on it gives the app's numbers."""
    head = [f"# supportsim scenario exported by the app (sha256 {scenario_hash(scenario)})"]
    if source is not None:
        head.append(f"# based on {source.cli_name}" + (" with:" if overrides else ""))
        head += [f"#   --set {o}" for o in overrides]
    return "\n".join(head) + "\n\n" + to_toml(scenario)

"""How numbers read: one module for cards, tables, the report, plot axes and the CLI.

Where it sits: runs (the KPI registry says each KPI's format) -> **fmt** -> plots, report,
app, cli. Pure functions of numbers; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sim.runs.metrics import KPIS

DASH = "–"  # a value that does not exist (NaN, one replication)


def usd(x: float, *, signed: bool = False, digits: int = 2) -> str:
    """Compact dollars: $950, $12.3k, $4.52M, -$1.20B (``signed`` adds "+")."""
    if x is None or not math.isfinite(x):
        return DASH
    sign = "-" if x < 0 else ("+" if signed and x > 0 else "")
    a = abs(x)
    for size, suffix, d in ((1e9, "B", digits), (1e6, "M", digits), (1e3, "k", 1)):
        if a >= size:
            return f"{sign}${a / size:,.{d}f}{suffix}"
    return f"{sign}${a:,.0f}"


def kpi(name: str, x: float | None, *, signed: bool = False) -> str:
    """A KPI value (or, ``signed``, a paired difference) with its unit, as cards and tables show it."""
    if x is None or not math.isfinite(x):
        return DASH
    plus = "+" if signed and x > 0 else ""
    kind = KPIS[name].fmt if name in KPIS else ""
    if kind == "usd":
        return usd(x, signed=signed)
    if kind == "count":
        return f"{plus}{x:,.0f}"
    if kind == "pct":
        return f"{plus}{x:,.2f} pp" if signed else f"{x:,.2f}%"
    if kind == "share":
        return f"{plus}{100 * x:,.1f} pp" if signed else f"{100 * x:,.1f}%"
    if kind == "ratio":
        return f"{plus}{x:,.2f}×"
    return f"{plus}{x:,.3g}"


def interval(name: str, s: dict[str, float], *, signed: bool = False) -> str:
    """"low to high" of a t-interval, or a dash when there is none."""
    lo, hi = s.get("ci_low", math.nan), s.get("ci_high", math.nan)
    if lo is None or not math.isfinite(lo):
        return DASH
    return f"{kpi(name, lo, signed=signed)} to {kpi(name, hi, signed=signed)}"


def axis(unit: str) -> Callable[[float], str]:
    """Tick labels for an axis in ``unit`` (the unit itself goes in the axis title)."""
    if unit == "USD":
        return lambda x: usd(x, digits=1)
    if unit in ("%", "percentage points"):
        return lambda x: f"{x:,.2f}"
    if unit == "customers":
        return lambda x: f"{x:,.0f}"
    if unit.startswith("share"):
        return lambda x: f"{x:,.3f}"
    if unit == "ratio":
        return lambda x: f"{x:,.2f}"
    return lambda x: f"{x:,.3g}"


def difference_unit(unit: str) -> str:
    """The unit of a difference of two values in ``unit``."""
    return "percentage points" if unit == "%" else unit


def param(value: Any) -> str:
    """A parameter value as the assumptions table and control summaries show it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, list):
        return "[" + ", ".join(param(x) for x in value) + "]"
    return str(value)


def cell(x: Any) -> str:
    """A number in a printed study table: thousands separators, no scientific notation for
    ordinary magnitudes, so every row of a column reads alike."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e15:
        return f"{x:,.0f}"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def scenario_ref(name: str, sha256: str, edits: int = 0) -> str:
    """How a footer names the scenario a figure, slide or table comes from: "Scenario 'baseline'",
    or, after changes to the file (``--set``, the app's sidebar), "Scenario 'baseline', edited (2
    changes; sha256 1a2b3c4d5e)": the edited scenario is not the file of that name. ``name`` is
    user text: callers make it safe for where it is shown."""
    if not edits:
        return f"Scenario '{name}'"
    return f"Scenario '{name}', edited ({edits} change{'s' if edits != 1 else ''}; sha256 {sha256[:10]})"


def edited_suffix(edits: list[str]) -> str:
    """What a title adds after the scenario's name once the file was changed: " (edited)"."""
    return " (edited)" if edits else ""


def terminal(text: Any, *, keep_newlines: bool = False) -> str:
    """User text (a policy label, a scenario, segment or file name, a value from a file) as the
    command line prints it: every character a terminal would act on rather than show (C0 and
    C1 controls such as ESC, BEL, CR and the CSI byte, DEL, line and paragraph separators,
    bidirectional overrides, other invisible format characters) is shown escaped, repr-style
    (``\\x1b``, ``\\n``, ``\\u202e``), so a name cannot recolour the screen, set the window title,
    rewrite a line or reorder what follows. ``keep_newlines``: ``\\n`` stays a line break (for
    a multi-line message whose lines are built by supportsim). The one cleaner of printed text."""
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable() or (keep_newlines and ch == "\n"):
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)

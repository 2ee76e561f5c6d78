"""The package's layers, checked from the code: imports point down only, no cycles.

sim/base -> sim/params -> sim/engine -> sim/runs -> sim/decision -> sim/output -> sim/calibrate ->
sim/cli, sim/app (see docs/design.md, "Layout"). A module may import its own layer and
the layers below; argparse lives only in sim/cli, streamlit only in sim/app (and app.py);
a project module is imported at the top of a module, never inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

SIM = ROOT / "sim"
LAYERS = ["base", "params", "engine", "runs", "decision", "output", "calibrate", "cli", "app"]
TOP = {"cli", "app"}  # callers: neither imports the other


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SIM.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None  # sim itself (the version)
    return LAYERS.index(parts[1])


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported sim module, line, at module level) of every import of a sim module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks count as module level
        if isinstance(node, ast.If):
            top_level |= {id(n) for n in node.body}
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n == "sim" or n.startswith("sim."):
                out.append((n, node.lineno, id(node) in top_level))
    return out


def resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    known = modules()
    g: dict[str, set[str]] = {m: set() for m in known}
    for m, path in known.items():
        for name, _, _ in imports(path):
            target = resolve(name, known)
            if target and target != m and not m.startswith(target + ".") or target and m == "sim" and target != m:
                g[m].add(target)
    return g


def test_imports_point_down_only():
    bad = []
    for m, targets in graph().items():
        lm = layer(m)
        for t in targets:
            lt = layer(t)
            if lm is None or lt is None:
                continue
            if lt > lm or (lt == lm and LAYERS[lm] in TOP and t.split(".")[1] != m.split(".")[1]):
                bad.append(f"{m} imports {t} ({LAYERS[lm]} -> {LAYERS[lt]})")
            if {LAYERS[lm], LAYERS[lt]} == TOP:
                bad.append(f"{m} imports {t} (cli and app are both callers)")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_project_modules_are_imported_at_module_level():
    late = [f"{path.relative_to(ROOT)}:{line} imports {name}"
            for path in modules().values() for name, line, top in imports(path) if not top]
    assert not late, "\n".join(late)


@pytest.mark.parametrize("library,home", [("argparse", "cli"), ("streamlit", "app")])
def test_argparse_only_in_cli_and_streamlit_only_in_app(library, home):
    bad = []
    for m, path in modules().items():
        if m.startswith(f"sim.{home}"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n == library or n.startswith(library + ".") for n in names):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


def test_the_checker_can_fail(tmp_path):
    """The walker sees an upward import and a function-level one (the checks above can fail)."""
    src = tmp_path / "m.py"
    src.write_text("from sim.output import plots\n\ndef f():\n    from sim.cli import main\n")
    found = imports(src)
    assert ("sim.output", 1, True) in found and ("sim.cli", 4, False) in found
    assert layer("sim.output.plots") > layer("sim.engine.model")

"""The package's layers (docs/ARCHITECTURE.md): a module imports only from its own layer or the
layers below it, engines never see the Neutron model or the agents, agents never see the engines,
the simulator or the backends, renderers see the engines only through their result types, the
walker (sim) never sees the real backends or the Neutron model (verify may use the backends), and
the use cases (app) sit above both, below the CLI; and no module is over ~800 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neutrace"

LAYERS = {
    "addr": 0, "packet": 0, "errors": 0, "limits": 0, "bulk": 0,
    "model": 1, "dataplane": 1,
    "trace": 2, "syntax": 2, "drift": 2,
    "agents": 3, "engines": 3, "render": 3, "importers": 3, "backends": 3, "topology": 3,
    "builder": 3,
    "sim": 4, "verify": 4,
    "app": 5,
    "cli": 6, "web": 6,
}
FORBIDDEN = {
    "engines": {"model", "agents", "topology", "builder", "sim", "backends"},
    "agents": {"engines", "sim", "backends"},
    "render": {"sim", "agents", "engines"},
    "sim": {"backends", "topology", "builder", "model", "importers", "verify"},
}
ALLOWED = {("render", "neutrace.engines.results")}


def _unit(module: str) -> str:
    return module.split(".")[1] if module.startswith("neutrace.") else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down(path: Path) -> None:
    rel = path.relative_to(SRC)
    unit = rel.parts[0].removesuffix(".py")
    assert unit in LAYERS, f"{rel}: add its unit to LAYERS (and to docs/ARCHITECTURE.md)"
    layer = LAYERS[unit]
    for line, module in _imports(path):
        other = _unit(module)
        if not other or other == unit:
            continue
        assert LAYERS[other] <= layer, (
            f"{rel}:{line} imports {module} (layer {LAYERS[other]}) from layer {layer}")
        if (unit, module) in ALLOWED:
            continue
        assert other not in FORBIDDEN.get(unit, set()), (
            f"{rel}:{line}: {unit} must not import {other}")



MAX_LINES = 800


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, (f"{path.relative_to(SRC)} has {lines} lines (> {MAX_LINES}): "
                                "split it along its nouns (docs/ARCHITECTURE.md)")

"""Import hygiene: core never imports textual; the scalar path never imports torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.slow
def test_no_core_module_imports_textual():
    core_modules = sorted(
        "core." + ".".join(p.relative_to(ROOT / "core").with_suffix("").parts)
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__init__.py" and not p.name.startswith("_lightning")
    )
    code = "import importlib\nfor m in %r:\n    importlib.import_module(m)\n" % core_modules
    mods = _modules_after(code)
    assert "textual" not in _top(mods)


@pytest.mark.parametrize(
    "module",
    ["core.engine", "core.nn", "core.optim", "core.config", "core.events", "core.backends",
     "core.backends.scalar", "core.data", "core.backends.lightning", "core.cli"],
)
def test_importing_does_not_import_torch_or_lightning(module):
    if not (ROOT / (module.replace(".", "/") + ".py")).exists() and not (ROOT / module.replace(".", "/")).is_dir():
        pytest.skip(f"{module} not written yet")
    top = _top(_modules_after(f"import {module}"))
    assert not top & {"torch", "lightning", "pytorch_lightning", "textual", "torchvision"}


@pytest.mark.parametrize("name", ["engine.py", "nn.py", "optim.py"])
def test_engine_modules_use_the_standard_library_only(name):
    path = ROOT / "core" / name
    if not path.exists():
        pytest.skip(f"core/{name} not written yet")
    stdlib = set(sys.stdlib_module_names) | {"core", "__future__"}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for n in names:
            assert n.split(".")[0] in stdlib, f"core/{name} imports {n}"


def _imported_names(path: Path) -> list[str]:
    """Every module named by an import statement anywhere in the file, lazy ones inside functions included."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_no_core_module_imports_tui_even_lazily():
    offenders = {str(p.relative_to(ROOT)): name for p in (ROOT / "core").rglob("*.py")
                 for name in _imported_names(p) if name == "tui" or name.startswith("tui.")}
    assert offenders == {}

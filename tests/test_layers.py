"""No module imports from a layer above its own (the layers of docs/architecture.md), function-level imports
included: the folder tree is the architecture, and a cycle or an upward import is refused here, not found later."""

import ast
from pathlib import Path

import pytest

LAYERS = [
    {"errors", "version", "registry", "fingerprint", "tokens", "storage", "prompting"},
    {"requests", "architectures", "forward"},
    {"hooks"},
    {"changes", "stats", "datasets", "knowledge"},
    {"lm", "testbeds", "models"},
    {"methods"},
    {"editing", "diagnostics", "tracing"},
    {"evaluation", "abilities"},
    {"cli", "__init__", "__main__"},
]
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}
SOURCE = Path(__file__).parents[1] / "src" / "amend"


def _package(path: Path) -> str:
    return path.relative_to(SOURCE).parts[0].removesuffix(".py")


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found |= {name.split(".")[1] for name in names if name.startswith("amend.")}
    return found


MODULES = sorted(SOURCE.rglob("*.py"))


def test_every_package_has_a_layer():
    assert {_package(path) for path in MODULES} <= set(LAYER)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_no_module_imports_from_a_layer_above(path):
    own = LAYER[_package(path)]
    above = sorted(name for name in _imported_packages(path) if LAYER.get(name, -1) > own)
    assert not above, f"{path.relative_to(SOURCE)} (layer {own}) imports {above} from above"

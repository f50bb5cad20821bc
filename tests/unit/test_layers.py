"""The folders of the package are its layers (docs/architecture.md): no module imports a layer above its own.

Read from the source (every `import`, at module level or inside a function), so a lazy import
cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "agent_datastore"

# Lower number = lower layer. A module may import its own layer and any lower one.
LAYERS = {"core": 0, "stores": 1, "api": 2, "edges": 3, "admin": 3, "commands": 4, "cli": 4, "__main__": 5}


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py" or path.parent != PACKAGE)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the layout uses absolute imports)"
            if node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("agent_datastore.")}


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    assert own in LAYERS, f"{path}: not in any layer of docs/architecture.md"
    upward = sorted(name for name in imported(path) if LAYERS.get(layer_of(name), -1) > LAYERS[own])
    assert not upward, f"{path.relative_to(PACKAGE)} ({own}) imports a higher layer: {upward}"


def test_api_knows_no_edge_and_no_concrete_backend() -> None:
    for path in (PACKAGE / "api").rglob("*.py"):
        for name in imported(path):
            assert not name.startswith("agent_datastore.edges"), (path, name)
            assert not any(
                name.startswith(f"agent_datastore.stores.{b}")
                for b in ("dynamodb", "firestore", "couchdb", "sqlite", "memory")
            ), (path, name)

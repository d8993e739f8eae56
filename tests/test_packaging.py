"""`pip install dbapp` (no extras) must be enough for every module-level import of dbapp."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:  # top level only: imports inside functions may need an extra
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_module_level_import_is_a_core_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ;!~]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for path in (REPO / "dbapp").rglob("*.py"):
        for module in _module_level_imports(path):
            if module in sys.stdlib_module_names or module in ("dbapp", "__future__"):
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
            if not dists & {d.replace("_", "-") for d in declared}:
                missing[f"{path.relative_to(REPO)}: {module}"] = sorted(dists)
    assert not missing, missing

"""The package's layout holds (docs/layout.md): the product never imports the stand-ins or the
developer tools, the stand-ins never import the tools; only the top-level command shims reach them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "python_enrich"
SHIMS = {"sandbox.py", "sample.py", "bench.py", "demo.py", "mutate.py", "sqlgen.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, lazy imports inside functions included."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


def group_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if relative.parts[0] in ("standins", "tools"):
        return relative.parts[0]
    return "shim" if len(relative.parts) == 1 and relative.name in SHIMS else "product"


def reaches(modules: set[str], group: str) -> set[str]:
    prefix = f"python_enrich.{group}"
    return {m for m in modules if m == prefix or m.startswith(prefix + ".")}


def test_the_product_never_imports_standins_or_tools() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    counts = {"product": 0, "standins": 0, "tools": 0, "shim": 0}
    wrong: list[str] = []
    for path in files:
        group = group_of(path)
        counts[group] += 1
        modules = imported_modules(path)
        forbidden = {"product": ("standins", "tools"), "standins": ("tools",)}.get(group, ())
        wrong += [f"{path.relative_to(PACKAGE)} imports {m}" for g in forbidden for m in sorted(reaches(modules, g))]
        if group == "shim":  # a shim imports its command's main and nothing else
            assert len(modules) == 2 and reaches(modules, "standins") | reaches(modules, "tools"), path
    print(f"layout: {counts}; imports across the rule: {len(wrong)}")
    assert counts["shim"] == len(SHIMS) and counts["standins"] and counts["tools"] and counts["product"] > 30
    assert wrong == []

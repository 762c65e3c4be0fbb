"""The layout the architecture page promises, checked on the source (docs/architecture.md).

Every import in the project, module-level or inside a function, is read with ``ast``:

- the apps depend one way, ``invoices → usage → plans → accounts → common``;
- ``common`` imports no app, and nothing but the entry points imports ``billing_site``;
- no module reaches project code through ``importlib`` (no plugin layer for code that
  always ships) and no two modules import each other, directly or round a loop;
- the Stripe services take ``now`` instead of reading the clock.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: a package may import its own layer and those before it, never one after.
LAYERS = ("common", "accounts", "plans", "usage", "invoices")
SITE = "billing_site"  # settings, URLs, Celery app, wsgi/asgi, checks, management commands
PACKAGES = (*LAYERS, SITE)
STRIPE = "invoices.stripe"
CLOCK_FREE = ("invoices.stripe.sync", "invoices.stripe.steps", "invoices.stripe.webhooks")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports: a project module, or a third-party name
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = source_files()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path) -> list[Import]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            for alias in node.names:
                # ``from invoices.stripe import tasks`` imports the module invoices.stripe.tasks.
                submodule = f"{source}.{alias.name}"
                found.append(Import(module, submodule if submodule in MODULES else source,
                                    node.lineno))
    return found


IMPORTS = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]


def top(name: str) -> str:
    return name.split(".")[0]


def project_imports() -> list[Import]:
    return [imp for imp in IMPORTS if top(imp.target) in PACKAGES and imp.target != imp.module]


def test_the_source_walk_sees_the_project():
    assert {"common.api.errors", "accounts.services", "invoices.stripe.tasks",
            "billing_site.settings"} <= set(MODULES)
    assert len(project_imports()) > 300


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_apps_only_import_their_own_layer_or_those_below():
    upward = [
        str(imp) for imp in project_imports()
        if top(imp.module) in LAYERS and top(imp.target) in LAYERS
        and LAYERS.index(top(imp.target)) > LAYERS.index(top(imp.module))
    ]
    assert upward == []


def test_common_imports_no_app_and_accounts_no_other_app():
    common = [str(imp) for imp in project_imports()
              if top(imp.module) == "common" and top(imp.target) != "common"]
    accounts = [str(imp) for imp in project_imports()
                if top(imp.module) == "accounts" and top(imp.target) not in ("accounts", "common")]
    assert common == [] and accounts == []


def test_nothing_but_the_entry_points_imports_billing_site():
    outside = [str(imp) for imp in project_imports()
               if top(imp.target) == SITE and top(imp.module) != SITE]
    assert outside == []


def test_no_module_loads_project_code_through_importlib():
    assert [str(imp) for imp in IMPORTS if top(imp.target) == "importlib"] == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (as a path that ends where it starts), or []."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return []
        for target in sorted(graph.get(node, ())):
            if cycle := visit(target, [*path, node]):
                return cycle
        done.add(node)
        return []

    for node in sorted(graph):
        if cycle := visit(node, []):
            return cycle
    return []


def import_graph(prefix: str = "") -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in project_imports():
        if imp.module.startswith(prefix) and imp.target.startswith(prefix):
            # Importing a package runs its __init__ only; count an edge to it, not to its
            # parents, and skip a module's own package (an __init__ imports nothing here).
            if not imp.module.startswith(f"{imp.target}."):
                graph.setdefault(imp.module, set()).add(imp.target)
    return graph


def test_the_cycle_finder_finds_a_loop():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "d": {"c"}}) == []


def test_the_stripe_package_has_no_import_cycle():
    graph = import_graph(STRIPE)
    assert {"invoices.stripe.tasks", "invoices.stripe.sync"} <= set(graph)
    assert _cycle(graph) == []


def test_no_import_cycle_anywhere_in_the_project():
    assert _cycle(import_graph()) == []


def _reads_the_clock(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today")
                and isinstance(node.value, ast.Name)
                and node.value.id in ("timezone", "datetime", "dt", "date")):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("module", CLOCK_FREE)
def test_stripe_services_take_now_instead_of_reading_the_clock(module):
    assert _reads_the_clock(MODULES[module]) == []


def test_the_clock_check_sees_a_clock_read():
    assert _reads_the_clock(MODULES["invoices.stripe.tasks"])  # the edge may read it

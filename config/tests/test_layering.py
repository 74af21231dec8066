"""Apps depend one way (DESIGN.md §1): campaigns → calls → voice; contacts below them; monitoring at the bottom.

These tests read the imports of every app's own modules (tests and migrations aside) with `ast`, so a new
upward import, an app importing `config`, or a module-level import cycle fails CI with the offending line.
Imports inside functions count too: a late import is still a dependency.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("campaigns", "calls", "voice", "contacts", "monitoring")
# What each app may import of the project, besides itself: the apps below it (campaigns may reach voice, below
# calls), and of monitoring only its metrics and its phone-number masking (the same mask in logs and on pages).
BOTTOM = {"monitoring.metrics", "monitoring.logging.mask_phone_numbers"}
MAY_IMPORT = {
    "campaigns": {"calls", "voice", "contacts", *BOTTOM},
    "calls": {"voice", "contacts", *BOTTOM},
    "voice": BOTTOM,
    "contacts": BOTTOM,
    "monitoring": set(),
}
PROJECT_PACKAGES = {*APPS, "config"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(app: str) -> Iterator[Path]:
    for path in sorted((ROOT / app).rglob("*.py")):
        if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
            yield path


def imports(path: Path, *, module_level_only: bool = False) -> Iterator[tuple[int, str]]:
    """(line, imported module or module.name) for each absolute or relative import in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else ast.walk(tree)
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def allowed(app: str, imported: str) -> bool:
    top = imported.split(".")[0]
    if top not in PROJECT_PACKAGES or top == app:
        return True
    return any(imported == dep or imported.startswith(f"{dep}.") for dep in MAY_IMPORT[app])


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in source_files(app)
        for line, imported in imports(path)
        if not allowed(app, imported)
    ]
    may = ", ".join(sorted(MAY_IMPORT[app])) or "nothing of the project"
    assert wrong == [], f"{app} may import only {may} (DESIGN.md §1):\n" + "\n".join(wrong)


def test_the_rule_catches_an_upward_import_and_an_import_of_config():
    assert not allowed("calls", "campaigns.models.Campaign")
    assert not allowed("monitoring", "config.celery.app")
    assert not allowed("voice", "calls.models")
    assert not allowed("contacts", "monitoring.health")
    assert allowed("campaigns", "calls.tasks.place_call")
    assert allowed("voice", "monitoring.metrics.PLAYOUT_LAG")


# Reaching into a higher app's rows through a foreign key or a reverse relation (`call.campaign.status`,
# `campaign__status`, `contact.calls.all()`) is reading its fields without importing it: also upward.
REACHES_UP = {
    "calls": re.compile(r"\b(campaign|target|agent)(__|\.)[a-z]"),
    "voice": re.compile(r"\b(campaign|target|agent)(__|\.)[a-z]|get_model\("),
    "contacts": re.compile(r"\b(calls|campaign_targets|campaigns)(__|\.)[a-z]|get_model\("),
}


@pytest.mark.parametrize("app", sorted(REACHES_UP))
def test_an_app_does_not_reach_into_a_higher_apps_rows(app):
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in source_files(app)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if REACHES_UP[app].search(line.split("#")[0])
    ]
    assert wrong == [], f"{app} reads a higher app's data through a relation:\n" + "\n".join(wrong)


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each import cycle in `graph` (module → modules it imports), as "a → b → a"."""
    cycles: list[str] = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" → ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_module_level_import_cycle():
    """A cycle at import time (e.g. services ⇄ tasks) breaks depending on which module loads first.

    The rule the apps follow: a task imports its service inside its body; whoever enqueues imports the task.
    """
    modules = {module_name(path): path for app in APPS for path in source_files(app)}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {
        module: {resolve(name) for _, name in imports(path, module_level_only=True)} - {None, module}
        for module, path in modules.items()
    }
    assert find_cycles(graph) == [], "module-level import cycles:\n" + "\n".join(find_cycles(graph))


def test_the_cycle_check_finds_a_services_tasks_cycle():
    graph = {"a.services": {"a.tasks", "a.models"}, "a.tasks": {"a.services"}, "a.models": set()}
    assert find_cycles(graph) == ["a.services → a.tasks → a.services"]

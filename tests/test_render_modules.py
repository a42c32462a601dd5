"""The render package's shape: no import cycles, and one name per thing across the package."""

import ast
import pkgutil
from pathlib import Path

import reporter
import reporter.render

ROOT = Path(reporter.__file__).parent


def imports_of(path: Path, package_modules: set[str]) -> set[str]:
    """The modules of ``package_modules`` that the file at ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in package_modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & package_modules


def render_modules() -> dict[str, Path]:
    return {
        f"reporter.render.{info.name}": ROOT / "render" / f"{info.name}.py"
        for info in pkgutil.iter_modules(reporter.render.__path__)
    }


def test_render_modules_import_each_other_in_one_direction() -> None:
    modules = render_modules()
    graph = {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        assert name not in visiting, " -> ".join([*visiting, name])
        visiting.append(name)
        for dependency in sorted(graph[name]):
            visit(dependency)
        visiting.pop()
        order.append(name)

    for name in sorted(graph):
        visit(name)
    assert len(order) == len(modules) >= 10


def top_level_names(path: Path) -> set[str]:
    """The public names a module defines (functions, classes, constants), by reading it."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_render_names_are_not_names_of_other_things() -> None:
    """A public name defined in render/ is defined nowhere else in reporter/ (loggers aside)."""
    defined: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        for name in top_level_names(path) - {"log"}:
            defined.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    render = {path.relative_to(ROOT).as_posix() for path in render_modules().values()}
    clashes = {
        name: places
        for name, places in defined.items()
        if len(places) > 1 and render.intersection(places)
    }
    assert clashes == {}

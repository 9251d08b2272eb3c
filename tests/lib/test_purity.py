"""Layering guards (DESIGN.md): what each part of microdc, and the simulator, may import.

- lib/ imports nothing from Home Assistant, nor any of microdc's glue: it is tested without a
  running Home Assistant and could be published as its own library;
- lib/protocols knows nothing of profiles, roles or devices; lib/heat and lib/routing know
  lib/points only, and do no I/O; lib/points, lib/profile do no I/O either;
- imports run downward only: platforms and flows -> site and coordinator -> lib/devices ->
  lib/protocols, with no circle, and no module imports the package's __init__.py;
- the simulator imports nothing from custom_components: it reads the profiles as data.

Each source is parsed, not imported, so a forbidden import is found even in a branch that never
runs (TYPE_CHECKING, a function body). Relative imports are resolved against the module's
package.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MICRODC = "custom_components.microdc"
LIB = f"{MICRODC}.lib"
IO_LIBRARIES = ("asyncio", "aiohttp", "socket", "pymodbus", "bacpypes3")
NO_IO = (f"{LIB}.points", f"{LIB}.profile", f"{LIB}.heat", f"{LIB}.routing")
# What each part of lib/ may import of lib/ besides itself.
LIB_ALLOWED = {
    f"{LIB}.points": (),
    f"{LIB}.protocols": (),
    f"{LIB}.profile": (f"{LIB}.points", f"{LIB}.protocols.modbus"),
    f"{LIB}.heat": (f"{LIB}.points",),
    f"{LIB}.routing": (f"{LIB}.points",),
    f"{LIB}.devices": (f"{LIB}.points", f"{LIB}.profile", f"{LIB}.protocols"),
}
# The floors of the house, lowest first: a module imports its own floor or one below.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lib", (LIB,)),
    (
        "glue's settings",
        tuple(
            f"{MICRODC}.{name}"
            for name in (
                "const",
                "settings",
                "device_config",
                "destination_config",
                "profile_store",
                "site_points",
            )
        ),
    ),
    (
        "site and coordinator",
        tuple(
            f"{MICRODC}.{name}"
            for name in (
                "coordinator",
                "command_record",
                "device_builder",
                "heat_accounting",
                "routing",
                "site",
                "models",
            )
        ),
    ),
    (
        "entities",
        tuple(
            f"{MICRODC}.{name}"
            for name in (
                "entity",
                "discovery",
                "command",
                "heat_sensor",
                "routing_entity",
                "routed_entities",
            )
        ),
    ),
    (
        "platforms and flows",
        tuple(
            f"{MICRODC}.{name}"
            for name in (
                "sensor",
                "binary_sensor",
                "number",
                "select",
                "switch",
                "valve",
                "flows",
                "config_flow",
                "services",
                "logbook",
                "diagnostics",
                "profile_check",
            )
        ),
    ),
)

Rule = Callable[[str, str], str | None]
"""(importing module, imported dotted name) -> why it is forbidden, or None."""


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def lib_rule(module: str, name: str) -> str | None:
    """lib/: no Home Assistant, no glue, only the lower parts of lib/, no I/O where pure."""
    if _within(name, "homeassistant"):
        return "Home Assistant"
    part = next((p for p in LIB_ALLOWED if _within(module, p)), None)
    if _within(name, MICRODC):
        if not _within(name, LIB):
            return "microdc's Home Assistant glue"
        outside = part is not None and not _within(name, part)
        if outside and not any(_within(name, allowed) for allowed in LIB_ALLOWED[part or ""]):
            return f"a part of lib/ that {(part or '').removeprefix(LIB + '.')} must not know"
    if any(_within(module, p) for p in NO_IO) and name.partition(".")[0] in IO_LIBRARIES:
        return "an I/O library"
    return None


def floor_of(module: str) -> int | None:
    """The floor a module of microdc stands on (None: not placed, which is itself an error)."""
    for number, (_, prefixes) in enumerate(FLOORS):
        if any(_within(module, prefix) for prefix in prefixes):
            return number
    return None


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of this repository."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def target_module(name: str) -> str:
    """The module a dotted imported name lives in (``a.b.C`` -> ``a.b``)."""
    while name and not is_module(name):
        name = name.rpartition(".")[0]
    return name


def floor_rule(module: str, name: str) -> str | None:
    """Downward only, and never the package's __init__.py."""
    if not _within(name, MICRODC):
        return None
    target = target_module(name)
    if target == MICRODC:
        return "the package's __init__.py (a module imports what it needs from where it lives)"
    mine, theirs = floor_of(module), floor_of(target)
    if mine is None or theirs is None:
        return f"a module not placed on a floor ({module if mine is None else target})"
    if theirs > mine:
        return f"a higher floor ({FLOORS[theirs][0]} above {FLOORS[mine][0]})"
    return None


def simulator_rule(module: str, name: str) -> str | None:
    return "the integration" if _within(name, "custom_components") else None


def imported_names(source: str, module: str, is_package: bool) -> Iterator[str]:
    """Every dotted name the source imports, relative imports resolved against its package.

    ``from a.b import c`` yields ``a.b.c`` (c may be a module or a name in a.b). A relative
    import above the top-level package yields ``<beyond top level>``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 >= len(parts):
                    yield "<beyond top level>"
                    continue
                anchor = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def _is_dynamic_import(func: ast.expr) -> bool:
    """__import__("x") or (importlib.)import_module("x") with a literal name."""
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(source: str, module: str, rule: Rule, *, is_package: bool = False) -> list[str]:
    found = []
    for name in imported_names(source, module, is_package):
        why = "it leaves the package tree" if name == "<beyond top level>" else rule(module, name)
        if why:
            found.append(f"{module} imports {name}: {why}")
    return found


def _modules(*paths: str) -> list[tuple[str, Path]]:
    files: list[Path] = []
    for path in paths:
        target = ROOT / path
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return [(".".join(f.relative_to(ROOT).with_suffix("").parts), f) for f in files]


def _check(modules: list[tuple[str, Path]], rule: Rule) -> list[str]:
    found = []
    for name, path in modules:
        is_package = path.name == "__init__.py"
        module = name.removesuffix(".__init__")
        found += violations(path.read_text(encoding="utf-8"), module, rule, is_package=is_package)
    return found


def test_lib_imports_no_home_assistant_and_only_lower_parts_of_lib() -> None:
    modules = _modules("custom_components/microdc/lib")
    names = {name for name, _ in modules}
    # The walk found what it should: an empty walk would pass anything.
    assert {
        f"{LIB}.points",
        f"{LIB}.protocols.modbus",
        f"{LIB}.devices.bacnet",
        f"{LIB}.heat.ledger",
        f"{LIB}.profile",
    } <= names
    assert len(names) > 20
    assert _check(modules, lib_rule) == []


def test_every_import_runs_downward_and_no_module_imports_the_package_init() -> None:
    modules = [
        (name, path)
        for name, path in _modules("custom_components/microdc")
        if name != f"{MICRODC}.__init__"
    ]
    assert len(modules) > 40
    assert _check(modules, floor_rule) == []


def test_no_module_of_microdc_is_part_of_a_circle() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in _modules("custom_components/microdc"):
        module = name.removesuffix(".__init__")
        is_package = path.name == "__init__.py"
        source = path.read_text(encoding="utf-8")
        graph[module] = {
            target
            for imported in imported_names(source, module, is_package)
            if _within(imported, MICRODC)
            and (target := target_module(imported)) != module
            # A package's own __init__ importing its submodules is how packages hand names on.
            and not (is_package and _within(target, module))
        }
    assert find_circle(graph) is None


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph, or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def test_simulator_imports_nothing_from_the_integration() -> None:
    modules = _modules("simulator")
    assert {"simulator.model", "simulator.bacnet_device", "simulator.__main__"} <= {
        name for name, _ in modules
    }
    assert _check(modules, simulator_rule) == []


# --- the checkers themselves fail where they should --------------------------------------


def test_the_walk_reports_a_forbidden_import_in_a_file(tmp_path: Path) -> None:
    heat = tmp_path / "heat"
    heat.mkdir()
    (heat / "__init__.py").write_text("from ...sensor import S\n", encoding="utf-8")
    (heat / "ok.py").write_text("from .errors import E\n", encoding="utf-8")
    modules = [
        (f"{LIB}.heat.__init__", heat / "__init__.py"),
        (f"{LIB}.heat.ok", heat / "ok.py"),
    ]
    assert _check(modules, lib_rule) == [
        f"{LIB}.heat imports {MICRODC}.sensor.S: microdc's Home Assistant glue"
    ]


@pytest.mark.parametrize(
    ("module", "source", "forbidden"),
    [
        (f"{LIB}.protocols.modbus", "import homeassistant.core", "homeassistant.core"),
        (f"{LIB}.profile", "from homeassistant.const import X", "homeassistant.const.X"),
        (f"{LIB}.heat.ledger", "from homeassistant import core", "homeassistant.core"),
        (f"{LIB}.protocols.modbus", "from ...const import DOMAIN", f"{MICRODC}.const.DOMAIN"),
        (f"{LIB}.protocols.modbus", "from ..profile import Point", f"{LIB}.profile.Point"),
        (f"{LIB}.protocols.block_planner", "from ..points import Role", f"{LIB}.points.Role"),
        (f"{LIB}.heat.power", "from ..profile import P", f"{LIB}.profile.P"),
        (f"{LIB}.heat.power", "from ..devices import base", f"{LIB}.devices.base"),
        (f"{LIB}.routing.router", "from ..protocols import bacnet", f"{LIB}.protocols.bacnet"),
        (f"{LIB}.devices.modbus", "from ..heat import ledger", f"{LIB}.heat.ledger"),
        (f"{LIB}.heat.power", "from ...coordinator import C", f"{MICRODC}.coordinator.C"),
        (f"{LIB}.heat.power", "from ....... import x", "<beyond top level>"),
        (f"{LIB}.points", "import custom_components.microdc.sensor", f"{MICRODC}.sensor"),
        (f"{LIB}.heat.ledger", "import asyncio", "asyncio"),
        (f"{LIB}.routing.router", "import asyncio", "asyncio"),
        (f"{LIB}.profile", "from pymodbus.client import C", "pymodbus.client.C"),
        (
            f"{LIB}.protocols.modbus",
            "def f():\n    import importlib\n    importlib.import_module('homeassistant.core')",
            "homeassistant.core",
        ),
        (
            f"{LIB}.heat.ledger",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from homeassistant.core import HomeAssistant",
            "homeassistant.core.HomeAssistant",
        ),
    ],
)
def test_the_checker_finds_forbidden_imports_in_lib(
    module: str, source: str, forbidden: str
) -> None:
    found = violations(source, module, lib_rule)
    assert len(found) == 1
    assert f" imports {forbidden}: " in found[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (f"{LIB}.devices.modbus", "from ..profile import P\nfrom ..protocols import modbus"),
        (f"{LIB}.profile", "from .points import Role\nfrom .protocols.modbus import Table"),
        (f"{LIB}.heat.ledger", "from .errors import E\nfrom ..points import Role"),
        (f"{LIB}.protocols.bacnet", "import asyncio\nimport socket\nimport bacpypes3"),
        (f"{LIB}.profile", "import voluptuous as vol\nimport yaml"),
    ],
)
def test_the_checker_allows_what_lib_may_import(module: str, source: str) -> None:
    assert violations(source, module, lib_rule) == []


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        (f"{MICRODC}.sensor", "from . import MicrodcConfigEntry", "__init__.py"),
        (f"{MICRODC}.coordinator", "from .sensor import S", "a higher floor"),
        (f"{MICRODC}.site", "from .flows.modbus import F", "a higher floor"),
        (f"{MICRODC}.settings", "from .coordinator import C", "a higher floor"),
        (f"{MICRODC}.heat_accounting", "from .entity import E", "a higher floor"),
        (f"{MICRODC}.unplaced", "from .const import X", "not placed"),
        (f"{MICRODC}.sensor", "from .nowhere import X", "__init__.py"),
    ],
)
def test_the_floor_checker_finds_upward_imports(module: str, source: str, why: str) -> None:
    found = violations(source, module, floor_rule)
    assert len(found) == 1
    assert why in found[0]


def test_the_floor_checker_allows_downward_imports() -> None:
    source = "from .site import Site\nfrom .lib.points import Role\nfrom .const import DOMAIN"
    assert violations(source, f"{MICRODC}.sensor", floor_rule) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("simulator.model", "from custom_components.microdc.lib.profile import load_profile"),
        ("simulator.site", "import custom_components.microdc.lib.heat"),
        ("simulator.model", "from custom_components import microdc"),
        ("simulator.model", "from .. import custom_components"),
    ],
)
def test_the_checker_finds_the_simulator_importing_the_integration(
    module: str, source: str
) -> None:
    assert len(violations(source, module, simulator_rule)) == 1
    assert (
        violations("from simulator import water\nfrom . import faults", module, simulator_rule)
        == []
    )

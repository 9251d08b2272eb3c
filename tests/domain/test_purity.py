"""Layering guards (DESIGN.md, layout): what the pure parts of microdc and the simulator import.

- protocols/, profile.py, decode.py and heat/ import nothing from Home Assistant, nor any of
  microdc's other modules (the Home Assistant glue), absolutely or relatively;
- heat/, profile.py and decode.py do no I/O: no network or event-loop libraries either;
- everything under lib/ imports nothing from Home Assistant nor from the glue (anything of
  microdc outside lib/);
- lib/routing imports only the standard library, lib/points and itself;
- the simulator imports nothing from custom_components: it reads the profiles as data.

Each source is parsed, not imported, so a forbidden import is found even in a branch that never
runs (TYPE_CHECKING, a function body). Relative imports are resolved against the module's
package; one that climbs above the top-level package is reported too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).parents[2]
MICRODC = "custom_components.microdc"
# The modules with no Home Assistant in them; any other module of microdc counts as glue.
PURE = (f"{MICRODC}.protocols", f"{MICRODC}.profile", f"{MICRODC}.decode", f"{MICRODC}.heat")
NO_IO = (f"{MICRODC}.heat", f"{MICRODC}.profile", f"{MICRODC}.decode")
IO_LIBRARIES = ("asyncio", "aiohttp", "socket", "pymodbus", "bacpypes3")

Rule = Callable[[str, str], str | None]
"""(importing module, imported dotted name) -> why it is forbidden, or None."""


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def pure_rule(module: str, name: str) -> str | None:
    if _within(name, "homeassistant"):
        return "Home Assistant"
    if _within(name, "custom_components") and not any(_within(name, p) for p in PURE):
        return "microdc's Home Assistant glue"
    if any(_within(module, p) for p in NO_IO) and name.partition(".")[0] in IO_LIBRARIES:
        return "an I/O library"
    return None


LIB = f"{MICRODC}.lib"
ROUTING_MAY_IMPORT = (f"{LIB}.points", f"{LIB}.routing")


def lib_rule(module: str, name: str) -> str | None:
    if _within(name, "homeassistant"):
        return "Home Assistant"
    if _within(name, "custom_components") and not _within(name, LIB):
        return "microdc's Home Assistant glue"
    if (
        _within(module, f"{LIB}.routing")
        and not any(_within(name, p) for p in ROUTING_MAY_IMPORT)
        and name.partition(".")[0] not in sys.stdlib_module_names
    ):
        return "routing imports only the standard library and lib/points"
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


def test_pure_modules_import_no_home_assistant() -> None:
    base = "custom_components/microdc"
    modules = _modules(
        f"{base}/protocols", f"{base}/profile.py", f"{base}/decode.py", f"{base}/heat"
    )
    names = {name for name, _ in modules}
    # The walk found what it should: an empty walk would pass anything.
    assert {f"{MICRODC}.protocols.modbus", f"{MICRODC}.heat.ledger", f"{MICRODC}.decode"} <= names
    assert len(names) > 12
    assert _check(modules, pure_rule) == []


def test_lib_imports_no_home_assistant_nor_glue() -> None:
    modules = _modules("custom_components/microdc/lib")
    names = {name for name, _ in modules}
    # The walk found what it should: an empty walk would pass anything.
    assert {f"{LIB}.points", f"{LIB}.routing.router", f"{LIB}.routing.__init__"} <= names
    assert _check(modules, lib_rule) == []


def test_simulator_imports_nothing_from_the_integration() -> None:
    modules = _modules("simulator")
    assert {"simulator.model", "simulator.bacnet_device", "simulator.__main__"} <= {
        name for name, _ in modules
    }
    assert _check(modules, simulator_rule) == []


# --- the checker itself fails where it should ------------------------------------------


def test_the_walk_reports_a_forbidden_import_in_a_file(tmp_path: Path) -> None:
    heat = tmp_path / "heat"
    heat.mkdir()
    (heat / "__init__.py").write_text("from ..sensor import S\n", encoding="utf-8")
    (heat / "ok.py").write_text("from .errors import E\n", encoding="utf-8")
    modules = [
        (f"{MICRODC}.heat.__init__", heat / "__init__.py"),
        (f"{MICRODC}.heat.ok", heat / "ok.py"),
    ]
    assert _check(modules, pure_rule) == [
        f"{MICRODC}.heat imports {MICRODC}.sensor.S: microdc's Home Assistant glue"
    ]


@pytest.mark.parametrize(
    ("module", "source", "forbidden"),
    [
        (f"{MICRODC}.protocols.modbus", "import homeassistant.core", "homeassistant.core"),
        (f"{MICRODC}.profile", "from homeassistant.const import X", "homeassistant.const.X"),
        (f"{MICRODC}.heat.ledger", "from homeassistant import core", "homeassistant.core"),
        (f"{MICRODC}.protocols.modbus", "from ..const import DOMAIN", f"{MICRODC}.const.DOMAIN"),
        (f"{MICRODC}.protocols.bacnet", "from .. import sensor", f"{MICRODC}.sensor"),
        (f"{MICRODC}.decode", "from . import DOMAIN", f"{MICRODC}.DOMAIN"),
        (f"{MICRODC}.heat.power", "from ...microdc import entity", f"{MICRODC}.entity"),
        (f"{MICRODC}.heat.power", "from ..coordinator import C", f"{MICRODC}.coordinator.C"),
        (f"{MICRODC}.heat.power", "from ..... import x", "<beyond top level>"),
        (f"{MICRODC}.decode", "import custom_components.microdc.sensor", f"{MICRODC}.sensor"),
        (f"{MICRODC}.heat.ledger", "import asyncio", "asyncio"),
        (f"{MICRODC}.profile", "from pymodbus.client import C", "pymodbus.client.C"),
        (
            f"{MICRODC}.protocols.modbus",
            "def f():\n    import importlib\n    importlib.import_module('homeassistant.core')",
            "homeassistant.core",
        ),
        (
            f"{MICRODC}.heat.ledger",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from homeassistant.core import HomeAssistant",
            "homeassistant.core.HomeAssistant",
        ),
    ],
)
def test_the_checker_finds_forbidden_imports_in_pure_modules(
    module: str, source: str, forbidden: str
) -> None:
    found = violations(source, module, pure_rule)
    assert len(found) == 1
    assert f" imports {forbidden}: " in found[0]


def test_the_checker_resolves_relative_imports_in_a_package_init() -> None:
    # In heat/__init__.py "." is heat itself, so ".." is microdc: glue.
    module = f"{MICRODC}.heat"
    assert violations("from ..const import X", module, pure_rule, is_package=True) != []
    assert violations("from .errors import X", module, pure_rule, is_package=True) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (f"{MICRODC}.protocols.modbus", "from ..profile import Point\nfrom ..decode import d"),
        (f"{MICRODC}.protocols.block_planner", "from .. import profile"),
        (f"{MICRODC}.heat.ledger", "from .errors import E\nfrom . import attribution"),
        (f"{MICRODC}.protocols.bacnet", "import asyncio\nimport socket\nimport bacpypes3"),
        (f"{MICRODC}.profile", "import voluptuous as vol\nimport yaml"),
    ],
)
def test_the_checker_allows_pure_imports(module: str, source: str) -> None:
    assert violations(source, module, pure_rule) == []


@pytest.mark.parametrize(
    ("module", "source", "forbidden"),
    [
        (f"{LIB}.points", "import homeassistant.core", "homeassistant.core"),
        (f"{LIB}.heat.ledger", "from ...sensor import S", f"{MICRODC}.sensor.S"),
        (f"{LIB}.routing.router", "from ...const import DOMAIN", f"{MICRODC}.const.DOMAIN"),
        (f"{LIB}.routing.router", "import voluptuous", "voluptuous"),
        (f"{LIB}.routing.safety", "from ..profile import Profile", f"{LIB}.profile.Profile"),
        (f"{LIB}.routing", "from ..devices import Device", f"{LIB}.devices.Device"),
    ],
)
def test_the_checker_finds_forbidden_imports_in_lib(
    module: str, source: str, forbidden: str
) -> None:
    is_package = module == f"{LIB}.routing"
    found = violations(source, module, lib_rule, is_package=is_package)
    assert len(found) == 1
    assert f" imports {forbidden}: " in found[0]


def test_the_checker_allows_routing_the_standard_library_and_points() -> None:
    source = "import math\nfrom ..points import PointRef\nfrom .latch import Latch"
    assert violations(source, f"{LIB}.routing.safety", lib_rule) == []
    assert (
        violations("from .decision import Reason", f"{LIB}.routing", lib_rule, is_package=True)
        == []
    )
    assert violations("import yaml\nfrom .points import Role", f"{LIB}.profile", lib_rule) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("simulator.model", "from custom_components.microdc.profile import load_profile"),
        ("simulator.site", "import custom_components.microdc.heat"),
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

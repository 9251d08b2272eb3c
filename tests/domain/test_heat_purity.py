"""The heat domain stays pure: no Home Assistant, no I/O libraries (DESIGN.md, the data flow)."""

import ast
from pathlib import Path

from custom_components.microdc import heat

FORBIDDEN = ("homeassistant", "asyncio", "aiohttp", "socket", "pymodbus", "bacpypes3")


def test_heat_package_imports_nothing_impure() -> None:
    package = Path(heat.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert len(sources) > 1
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{source.name} imports {name}"

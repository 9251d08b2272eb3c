"""Every built-in profile of a real device, read through microdc's Modbus transport.

The simulator (a real subprocess, its own profile reader and encoder) serves each profile on its
own unit id; microdc's ModbusDevice polls it as it would the device. Each point must decode to
the constant the simulator serves, or to the model quantity it follows, to its resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custom_components.microdc.lib.devices.modbus import ModbusDevice
from custom_components.microdc.lib.profile import BUILTIN_PROFILES_DIR, Profile, load_profiles
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnection
from tests.real_devices import CONSTANTS, QUANTITIES, UNITS, site_with_real_devices
from tests.simulator_process import SimulatorProcess, start_simulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant instance needed here (overrides the suite's autouse fixture)."""


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """The demo site plus one unit per real device, time held still."""
    sim = start_simulator(
        speed=0.0, site=site_with_real_devices(Path(tmp_path_factory.mktemp("real")))
    )
    try:
        yield sim
    finally:
        sim.stop()


def _profiles() -> dict[str, Profile]:
    result = load_profiles(BUILTIN_PROFILES_DIR)
    assert result.errors == []
    return {key: result.profiles[key] for key in UNITS}


def test_every_real_profile_is_covered_and_passes_the_schema() -> None:
    builtin = {path.stem for path in BUILTIN_PROFILES_DIR.glob("*.yaml")}
    assert {name for name in builtin if not name.startswith("demo_")} == set(UNITS)
    for profile_id, profile in _profiles().items():
        # The site maps every point: nothing of a real profile goes untested.
        assert set(profile.points) == set(QUANTITIES[profile_id]) | set(CONSTANTS[profile_id])


@pytest.mark.parametrize("profile_id", list(UNITS))
async def test_every_point_decodes_as_served(
    profile_id: str, real_site: SimulatorProcess, socket_enabled: None
) -> None:
    profile = _profiles()[profile_id]
    connection = ModbusConnection(Endpoint(real_site.host, real_site.modbus_port), timeout=2)
    try:
        result = await ModbusDevice(connection, UNITS[profile_id], profile).poll()
    finally:
        await connection.close()
    assert result.skipped == frozenset()
    served = (await real_site.async_state())["modbus"][profile_id]["points"]
    quantities = (await real_site.async_state())["quantities"]
    for key, point in profile.points.items():
        value = result.values[key]
        resolution = abs(point.scale) / 2 + 1e-6
        if key in CONSTANTS[profile_id]:
            expected = CONSTANTS[profile_id][key][1]
            if isinstance(expected, frozenset | str):
                assert value == expected, key
            else:
                assert value == pytest.approx(expected, abs=resolution), key
            continue
        source = QUANTITIES[profile_id][key]
        name, factor = (
            (source, 1.0) if isinstance(source, str) else (source["quantity"], source["factor"])
        )
        assert isinstance(value, int | float), key
        assert value == pytest.approx(quantities[name] * factor, rel=1e-5, abs=resolution), key
        assert value == pytest.approx(served[key]["value"], rel=1e-5, abs=resolution), key

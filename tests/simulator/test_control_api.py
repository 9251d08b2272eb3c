"""The simulator as a process: ready line, control API, faults seen over Modbus, shutdown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pymodbus.client import ModbusTcpClient
import pytest

from tests.simulator_process import ControlError, SimulatorProcess, start_simulator


@pytest.fixture
def ups_client(simulator: SimulatorProcess, socket_enabled: None) -> Iterator[ModbusTcpClient]:
    modbus = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=2, retries=0)
    assert modbus.connect()
    try:
        yield modbus
    finally:
        modbus.close()
        simulator.clear_faults()


def _ups_flags(client: ModbusTcpClient) -> set[str]:
    bits = client.read_input_registers(0, count=1, device_id=2).registers[0]
    names = ("online", "on_battery", "low_battery", "charging", "bypass", "fault")
    return {name for bit, name in enumerate(names) if bits >> bit & 1}


def test_ready_line_names_every_server(simulator: SimulatorProcess) -> None:
    ready = simulator.ready
    assert ready["ready"] is True
    assert ready["modbus"]["host"] == "127.0.0.1"
    assert ready["modbus"]["port"] > 0
    assert ready["control"]["port"] > 0
    assert ready["bacnet"]["port"] > 0
    assert ready["bacnet"]["device_instance"] == 47110
    assert ready["speed"] == 0.0


@pytest.mark.usefixtures("socket_enabled")
def test_state_holds_still_at_speed_0_and_advance_moves_it(simulator: SimulatorProcess) -> None:
    first = simulator.state()
    again = simulator.state()
    assert again["time"] == first["time"]
    assert again["quantities"] == first["quantities"]
    moved = simulator.advance(90)
    assert moved["simulated_s"] == first["time"]["simulated_s"] + 90
    later = simulator.state()
    assert later["ledgers"]["it_energy_wh"] > first["ledgers"]["it_energy_wh"]
    for section in ("quantities", "valves", "pump", "ledgers", "requests", "modbus", "bacnet"):
        assert section in later
    assert set(later["valves"]) == {
        "stockroom",
        "tenant_a",
        "tenant_b",
        "shared_loop",
        "dry_cooler",
    }
    assert later["valves"]["dry_cooler"]["bacnet"]["relinquish_default"] == 100.0


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("POST", "/faults", b"{not json", "not valid JSON"),
        ("POST", "/faults", b"[1, 2]", "JSON object"),
        ("POST", "/faults", {"fault": "gremlins"}, "unknown fault"),
        ("POST", "/faults", {"fault": "device_offline", "device": "toaster"}, "unknown device"),
        ("POST", "/faults", {"fault": "valve_stuck", "device": "attic"}, "unknown valve"),
        ("POST", "/faults", {"fault": "sensor_stuck", "device": 1, "point": "x"}, "no point"),
        (
            "POST",
            "/faults",
            {"fault": "exception_replies", "device": 1, "address": 0, "code": 9},
            "code",
        ),
        ("POST", "/advance", {"seconds": -5}, "seconds"),
        ("POST", "/advance", {"seconds": "soon"}, "must be a number"),
        ("POST", "/advance", {"secs": 5}, "unknown field"),
        ("POST", "/speed", {"speed": -1}, "speed"),
        ("POST", "/bacnet", {"rpm_enabled": "yes"}, "true or false"),
    ],
)
def test_bad_requests_get_400_with_a_message(
    simulator: SimulatorProcess, method: str, path: str, body: object, message: str
) -> None:
    status, answer = simulator.request(method, path, body)
    assert status == 400
    assert message in answer["error"]
    # Nothing changed and the simulator still answers.
    assert simulator.state()["faults"] == []


@pytest.mark.usefixtures("socket_enabled")
def test_fault_helpers_report_and_clear(simulator: SimulatorProcess) -> None:
    with simulator.fault("valve_stuck", device="tenant_b", duration_s=600) as added:
        assert added["fault"]["device"] == "tenant_b"
        assert added["fault"]["until_s"] == added["fault"]["started_s"] + 600
        assert simulator.state()["valves"]["tenant_b"]["stuck"] is True
    assert simulator.state()["faults"] == []
    with pytest.raises(ControlError) as refused:
        simulator.inject_fault("valve_stuck", device="garage")
    assert refused.value.status == 400


@pytest.mark.usefixtures("socket_enabled")
async def test_async_helpers_do_the_same(simulator: SimulatorProcess) -> None:
    before = (await simulator.async_state())["time"]["simulated_s"]
    assert (await simulator.async_advance(30))["simulated_s"] == before + 30
    added = await simulator.async_inject_fault("device_offline", device="hvac-controller")
    assert added["fault"]["device"] == "hvac-controller"
    assert (await simulator.async_state())["bacnet"]["offline"] is True
    slow = await simulator.async_inject_fault("slow_replies", device=47110, delay_s=0.5)
    assert slow["fault"]["device"] == "hvac-controller"
    assert await simulator.async_clear_faults() == 2
    status, answer = await simulator.async_request("POST", "/faults", b"{")
    assert status == 400
    assert "JSON" in answer["error"]


@pytest.mark.usefixtures("socket_enabled")
def test_bacnet_restart_and_cov_table_size(
    simulator_factory: Callable[..., SimulatorProcess], socket_enabled: None
) -> None:
    sim = simulator_factory()
    assert sim.bacnet_options(cov_table_size=3)["cov_table_size"] == 3
    assert sim.state()["bacnet"]["cov_table_size"] == 3
    fault = sim.inject_fault("bacnet_restart", device=47110)["fault"]
    assert fault["device"] == "hvac-controller"
    state = sim.state()
    assert state["bacnet"]["restarts"] == 1
    assert state["faults"] == []  # one-shot: not kept on the board
    assert sim.bacnet_options(cov_table_size=None)["cov_table_size"] is None
    for body in ({"cov_table_size": -1}, {"cov_table_size": "big"}):
        status, answer = sim.request("POST", "/bacnet", body)
        assert status == 400, body
        assert "cov_table_size" in answer["error"]
    with pytest.raises(ControlError, match="unknown BACnet device"):
        sim.inject_fault("bacnet_restart", device="ups")
    with pytest.raises(ControlError, match="takes no device"):
        sim.inject_fault("gateway_silent", device="ups")


def test_a_fault_ends_after_its_simulated_duration(
    simulator: SimulatorProcess, socket_enabled: None
) -> None:
    simulator.inject_fault("pump_failure", duration_s=60)
    assert simulator.state()["quantities"]["loop_flow_m3h"] == 0.0
    simulator.advance(61)
    state = simulator.state()
    assert state["faults"] == []
    assert state["quantities"]["loop_flow_m3h"] > 0.0


def test_mains_outage_seen_on_the_ups_registers(
    ups_client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    assert _ups_flags(ups_client) >= {"online"}
    charge_before = ups_client.read_input_registers(2, count=1, device_id=2).registers[0]
    simulator.inject_fault("mains_outage")
    assert _ups_flags(ups_client) >= {"on_battery"}
    assert "online" not in _ups_flags(ups_client)
    assert ups_client.read_input_registers(6, count=1, device_id=2).registers == [0]
    simulator.advance(600)
    charge = ups_client.read_input_registers(2, count=1, device_id=2).registers[0]
    assert charge < charge_before
    for _ in range(60):
        if "low_battery" in _ups_flags(ups_client):
            break
        simulator.advance(120)
    assert "low_battery" in _ups_flags(ups_client)
    runtime = ups_client.read_input_registers(3, count=2, device_id=2).registers
    assert runtime[0] * 65536 + runtime[1] < 300
    simulator.clear_faults()
    assert _ups_flags(ups_client) >= {"online", "charging"}


def test_pump_failure_seen_on_the_heat_meter(
    ups_client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    def flow() -> float:
        registers = ups_client.read_holding_registers(0, count=2, device_id=4).registers
        value = ModbusTcpClient.convert_from_registers(registers, ModbusTcpClient.DATATYPE.FLOAT32)
        assert isinstance(value, float)
        return value

    assert flow() > 0.5
    simulator.inject_fault("pump_failure")
    simulator.advance(60)
    assert flow() == 0.0
    power = ups_client.read_holding_registers(6, count=2, device_id=4).registers
    assert power == [0, 0]


def test_clean_shutdown_on_sigterm(simulator_factory: Callable[..., SimulatorProcess]) -> None:
    sim = simulator_factory(speed=60.0, seed=7)
    assert sim.ready["seed"] == 7
    assert sim.stop() == 0
    assert "Traceback" not in sim.stderr_text()


def test_a_bad_site_file_fails_before_ready(tmp_path: Path) -> None:
    site = tmp_path / "broken.yaml"
    site.write_text("clock: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="section 'clock'"):
        start_simulator(site=site)


def _meter_values(state: dict[str, Any], meter: str) -> dict[str, float]:
    objects = state["bacnet_meters"][meter]["objects"]
    return {o["name"]: float(o["present_value"]) for o in objects}


@pytest.mark.usefixtures("socket_enabled")
def test_bacnet_meters_count_the_models_heat(simulator: SimulatorProcess) -> None:
    """Each BACnet heat meter is its own device and port; its counter is the model's truth,
    in the unit its object says."""
    meters = simulator.bacnet_meters
    assert set(meters) == {
        "loop-energy-meter",
        "stockroom-energy-meter",
        "tenant-a-energy-meter",
        "shared-loop-energy-meter",
    }
    ports = {port for port, _ in meters.values()} | {simulator.bacnet_port}
    instances = {instance for _, instance in meters.values()} | {simulator.bacnet_device_instance}
    assert len(ports) == len(instances) == 5
    simulator.advance(600)
    state = simulator.state()
    q, ledgers = state["quantities"], state["ledgers"]
    loop = _meter_values(state, "loop-energy-meter")
    assert loop["EM-LOOP-ENERGY"] == pytest.approx(q["heat_meter_energy_wh"] / 1000)
    assert loop["EM-LOOP-POWER"] == pytest.approx(q["heat_meter_power_w"] / 1000)
    stockroom = _meter_values(state, "stockroom-energy-meter")
    assert stockroom["EM-STOCKROOM-ENERGY"] == pytest.approx(
        86000.0 + ledgers["delivered_wh.stockroom"]
    )
    shared = _meter_values(state, "shared-loop-energy-meter")
    assert shared["EM-SHARED-ENERGY"] == pytest.approx(
        (86000.0 + ledgers["delivered_wh.shared_loop"]) / 1e6
    )
    # The loop meter's counter moves with the heat the loop takes in (the Modbus meter's truth).
    simulator.advance(600)
    later = simulator.state()
    gained_kwh = (
        _meter_values(later, "loop-energy-meter")["EM-LOOP-ENERGY"] - loop["EM-LOOP-ENERGY"]
    )
    truth_wh = later["ledgers"]["heat_to_loop_wh"] - ledgers["heat_to_loop_wh"]
    assert truth_wh > 100
    assert gained_kwh * 1000 == pytest.approx(truth_wh, rel=1e-6)


@pytest.mark.usefixtures("socket_enabled")
def test_a_bacnet_meter_goes_offline_by_its_name_or_instance(simulator: SimulatorProcess) -> None:
    try:
        added = simulator.inject_fault("device_offline", device=47121)
        assert added["fault"]["device"] == "stockroom-energy-meter"
        state = simulator.state()
        assert state["bacnet_meters"]["stockroom-energy-meter"]["offline"] is True
        assert state["bacnet_meters"]["loop-energy-meter"]["offline"] is False
        assert state["bacnet"]["offline"] is False
    finally:
        simulator.clear_faults()
    with pytest.raises(ControlError, match="loop-energy-meter"):
        simulator.inject_fault("device_offline", device="garage-meter")

"""The simulator's Modbus gateway, spoken to with a plain pymodbus client (no microdc code).

Uses the session's simulator (time held still): each test reads what it needs, moves time with
advance() where it must, and clears the faults it injects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import math
from pathlib import Path
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse
import pytest
import yaml

from simulator.faults import FaultBoard
from simulator.modbus_server import ModbusGateway
from simulator.model import SiteModel
from simulator.site import DEFAULT_SITE, SiteError, load_site
from tests.simulator_process import SimulatorProcess

PROFILES = Path(__file__).resolve().parents[2] / "custom_components" / "microdc" / "profiles"
UNITS = {"rack_pdu": 1, "ups": 2, "environment": 3, "heat_meter": 4}
PROFILE_OF = {
    "rack_pdu": "demo_rack_pdu",
    "ups": "demo_ups",
    "environment": "demo_environment",
    "heat_meter": "demo_heat_meter",
}
DT = ModbusTcpClient.DATATYPE
_TYPES = {
    "u16": DT.UINT16,
    "s16": DT.INT16,
    "u32": DT.UINT32,
    "s32": DT.INT32,
    "u64": DT.UINT64,
    "f32": DT.FLOAT32,
    "f64": DT.FLOAT64,
}
_WORDS = {"u16": 1, "s16": 1, "bool": 1, "enum": 1, "bitfield": 1, "u32": 2, "s32": 2, "f32": 2}
# What each point may plausibly read on the demo site, in the profile's unit.
PLAUSIBLE = {
    ("rack_pdu", "active_power"): (2000, 6000),
    ("rack_pdu", "voltage"): (207, 253),
    ("rack_pdu", "current"): (8, 30),
    ("rack_pdu", "energy"): (1e6, 4.3e9),
    ("rack_pdu", "firmware_version"): (1, 99),
    # Each outlet carries a share of the rack's current; outlet 8 is free.
    **{("rack_pdu", f"outlet_{n}_current"): (0, 8) for n in range(1, 9)},
    ("ups", "battery_charge"): (0, 100),
    ("ups", "runtime_remaining"): (0, 86400),
    ("ups", "load"): (20, 80),
    ("ups", "input_voltage"): (207, 253),
    ("ups", "output_power"): (2000, 6000),
    ("ups", "firmware_version"): (1, 99),
    ("environment", "inlet_temperature"): (15, 35),
    ("environment", "exhaust_temperature"): (15, 60),
    ("environment", "humidity"): (10, 90),
    ("environment", "firmware_version"): (1, 99),
    ("environment", "exhaust_alarm_limit"): (20, 60),
    ("heat_meter", "flow"): (0.1, 5),
    ("heat_meter", "supply_temperature"): (15, 60),
    ("heat_meter", "return_temperature"): (15, 60),
    ("heat_meter", "thermal_power"): (0, 8),
    ("heat_meter", "energy"): (100, 1e7),
    ("heat_meter", "firmware_version"): (1, 99),
}


def _profile(device: str) -> dict[str, Any]:
    return yaml.safe_load((PROFILES / f"{PROFILE_OF[device]}.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def client(simulator: SimulatorProcess, socket_enabled: None) -> Iterator[ModbusTcpClient]:
    """A plain pymodbus client on the session simulator's gateway; faults cleared afterwards."""
    modbus = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=2, retries=0)
    assert modbus.connect()
    try:
        yield modbus
    finally:
        modbus.close()
        simulator.clear_faults()


def read_point(client: ModbusTcpClient, device: str, key: str) -> Any:
    """Read and decode one point as docs/contracts.md defines it (None for a NaN reading)."""
    point = _profile(device)["points"][key]
    unit, table, address = UNITS[device], point["table"], point["address"]
    if table in ("coil", "discrete_input"):
        read_bits = client.read_coils if table == "coil" else client.read_discrete_inputs
        reply = read_bits(address, count=1, device_id=unit)
        assert not reply.isError(), reply
        return bool(reply.bits[0])
    read = client.read_holding_registers if table == "holding" else client.read_input_registers
    reply = read(address, count=_WORDS[point["data_type"]], device_id=unit)
    assert not reply.isError(), reply
    return decode(point, reply.registers)


def decode(point: dict[str, Any], registers: list[int]) -> Any:
    """value = raw * scale + offset, with sentinels, bitfields and enums."""
    data_type = point["data_type"]
    if data_type in ("bitfield", "enum", "bool"):
        raw = registers[0]
        if data_type == "bitfield":
            return {flag for bit, flag in point["labels"].items() if raw >> bit & 1}
        return point["labels"][raw] if data_type == "enum" else bool(raw)
    word_order = point.get("word_order", "big")
    raw = ModbusTcpClient.convert_from_registers(list(registers), _TYPES[data_type], word_order)
    unsigned = ModbusTcpClient.convert_from_registers(
        list(registers), _TYPES["u16" if len(registers) == 1 else "u32"], word_order
    )
    assert isinstance(raw, int | float)
    if isinstance(raw, float) and math.isnan(raw):
        return None
    if raw in point.get("nan", []) or unsigned in point.get("nan", []):
        return None
    return raw * point.get("scale", 1) + point.get("offset", 0)


def test_every_point_of_every_profile_reads_a_plausible_value(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    """Each point decodes to what the gateway says it serves and to a plausible figure."""
    served = simulator.state()["modbus"]
    checked = 0
    for device in UNITS:
        for key, point in _profile(device)["points"].items():
            value = read_point(client, device, key)
            expected = served[device]["points"][key]["value"]
            assert value is not None, (device, key)
            if point["data_type"] == "bitfield":
                assert value == set(expected)
                assert "online" in value
                assert "on_battery" not in value
            elif point["data_type"] == "enum":
                assert value == expected == "normal"
            elif point["data_type"] == "bool":
                assert value is expected
            else:
                assert value == pytest.approx(expected, rel=1e-6, abs=1e-9), (device, key)
                low, high = PLAUSIBLE[(device, key)]
                assert low <= value <= high, (device, key, value)
            checked += 1
    assert checked == sum(len(_profile(d)["points"]) for d in UNITS)


def test_points_follow_the_model_quantities(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    """Decoded readings equal the model's quantities to the register's resolution."""
    quantities = simulator.state()["quantities"]
    pairs = [
        ("rack_pdu", "active_power", quantities["it_power_w"], 0.5),
        ("rack_pdu", "voltage", quantities["pdu_voltage_v"], 0.05),
        ("environment", "inlet_temperature", quantities["inlet_temperature_c"], 0.05),
        ("environment", "exhaust_temperature", quantities["exhaust_temperature_c"], 0.005),
        ("heat_meter", "flow", quantities["loop_flow_m3h"], 1e-5),
        ("heat_meter", "supply_temperature", quantities["loop_supply_temperature_c"], 1e-4),
        ("heat_meter", "thermal_power", quantities["heat_meter_power_w"] / 1000, 0.0005),
        ("ups", "runtime_remaining", quantities["ups_runtime_s"], 0.5),
    ]
    for device, key, quantity, resolution in pairs:
        assert read_point(client, device, key) == pytest.approx(quantity, abs=resolution)


def test_requests_are_counted_per_unit_and_function_code(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    before = simulator.state()["requests"]["modbus"]["by_unit"].get("3", {}).get("4", 0)
    for _ in range(3):
        assert not client.read_input_registers(0, count=3, device_id=3).isError()
    after = simulator.state()["requests"]["modbus"]["by_unit"]["3"]["4"]
    assert after == before + 3


def test_unmapped_addresses_writes_and_unknown_units_get_exceptions(
    client: ModbusTcpClient,
) -> None:
    beyond = client.read_holding_registers(28, count=1, device_id=1)  # past the last outlet
    assert isinstance(beyond, ExceptionResponse)
    assert beyond.exception_code == 2
    write = client.write_register(0, 5, device_id=1)
    assert isinstance(write, ExceptionResponse)
    assert write.exception_code == 2
    unknown = client.read_holding_registers(0, count=1, device_id=9)
    assert isinstance(unknown, ExceptionResponse)
    assert unknown.exception_code == 0x0B


def test_device_offline_silences_one_unit(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    simulator.inject_fault("device_offline", device="ups")
    with pytest.raises(ModbusIOException):
        client.read_input_registers(0, count=1, device_id=2)
    # The gateway itself and the other units still answer.
    client.connect()
    assert not client.read_holding_registers(0, count=2, device_id=1).isError()
    simulator.clear_faults()
    assert not client.read_input_registers(0, count=1, device_id=2).isError()


def test_a_silent_gateway_accepts_connections_but_answers_nothing(
    simulator: SimulatorProcess, socket_enabled: None
) -> None:
    impatient = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=0.3, retries=0)
    try:
        with simulator.fault("gateway_silent"):
            assert impatient.connect()  # the TCP connection is accepted
            for unit in (1, 2, 3, 4, 99):  # every unit id, known or not, is silent
                with pytest.raises(ModbusIOException):
                    impatient.read_holding_registers(0, count=1, device_id=unit)
                impatient.close()
                assert impatient.connect()
            assert all(d["offline"] for d in simulator.state()["modbus"].values())
        assert not impatient.read_holding_registers(0, count=2, device_id=1).isError()
    finally:
        impatient.close()


def test_slow_replies_outlast_a_short_timeout_but_arrive(
    simulator: SimulatorProcess, socket_enabled: None
) -> None:
    impatient = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=0.2, retries=0)
    patient = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=30, retries=0)
    try:
        with simulator.fault("slow_replies", device="environment", delay_s=1.0):
            assert impatient.connect()
            with pytest.raises(ModbusIOException):
                impatient.read_input_registers(0, count=1, device_id=3)
            assert patient.connect()
            reply = patient.read_input_registers(0, count=3, device_id=3)
            assert not reply.isError()
            assert len(reply.registers) == 3
    finally:
        impatient.close()
        patient.close()


def test_exception_replies_for_an_address_range(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    simulator.inject_fault(
        "exception_replies", device="rack_pdu", address=2, count=2, table="holding", code=4
    )
    overlapping = client.read_holding_registers(0, count=3, device_id=1)
    assert isinstance(overlapping, ExceptionResponse)
    assert overlapping.exception_code == 4
    outside = client.read_holding_registers(4, count=2, device_id=1)
    assert not outside.isError()
    other_unit = client.read_holding_registers(2, count=2, device_id=4)
    assert not other_unit.isError()


def test_stuck_sensor_keeps_its_value_while_the_model_moves(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    stuck_at = read_point(client, "rack_pdu", "active_power")
    simulator.inject_fault("sensor_stuck", device="rack_pdu", point="active_power")
    simulator.advance(1800)
    true_power = simulator.state()["quantities"]["it_power_w"]
    assert abs(true_power - stuck_at) > 1
    assert read_point(client, "rack_pdu", "active_power") == stuck_at
    simulator.clear_faults()
    assert read_point(client, "rack_pdu", "active_power") == pytest.approx(true_power, abs=0.5)


def test_nan_sentinels_and_float_nan(client: ModbusTcpClient, simulator: SimulatorProcess) -> None:
    simulator.inject_fault("sensor_nan", device="environment", point="inlet_temperature")
    simulator.inject_fault("sensor_nan", device="heat_meter", point="supply_temperature")
    raw = client.read_input_registers(0, count=1, device_id=3).registers
    assert raw == [0x7FFF]
    assert read_point(client, "environment", "inlet_temperature") is None
    assert read_point(client, "heat_meter", "supply_temperature") is None
    assert read_point(client, "heat_meter", "return_temperature") is not None


def test_counter_jumps_near_wrap_then_wraps_by_the_true_energy(
    client: ModbusTcpClient, simulator: SimulatorProcess
) -> None:
    simulator.inject_fault("counter_near_wrap", device="rack_pdu", point="energy", margin=100)
    assert read_point(client, "rack_pdu", "energy") == 2**32 - 100
    # One-shot: it is not a fault in force, and clearing faults does not undo the jump.
    assert simulator.clear_faults() == 0
    before = simulator.state()["ledgers"]["it_energy_wh"]
    simulator.advance(600)
    after = simulator.state()["ledgers"]["it_energy_wh"]
    wrapped = read_point(client, "rack_pdu", "energy")
    assert wrapped < 2**32 - 100
    assert (wrapped - (2**32 - 100)) % 2**32 == pytest.approx(after - before, abs=1)


def test_a_point_without_a_sentinel_refuses_the_nan_fault(
    simulator: SimulatorProcess, socket_enabled: None
) -> None:
    status, body = simulator.request(
        "POST", "/faults", {"fault": "sensor_nan", "device": "ups", "point": "runtime_remaining"}
    )
    assert status == 400
    assert "no NaN sentinel" in body["error"]
    assert simulator.state()["faults"] == []


def test_a_site_point_naming_no_quantity_is_refused_at_start(tmp_path: Path) -> None:
    text = DEFAULT_SITE.read_text(encoding="utf-8")
    broken = tmp_path / "typo.yaml"
    broken.write_text(text.replace("flow: loop_flow_m3h", "flow: loop_flw_m3h"), encoding="utf-8")
    site = load_site(broken)
    faults = FaultBoard(site)
    with pytest.raises(SiteError, match=r"heat_meter\.points\.flow.*loop_flw_m3h"):
        ModbusGateway(site, SiteModel(site, faults), faults)


def test_writable_points_take_writes_and_others_refuse(
    simulator_factory: Callable[..., SimulatorProcess], socket_enabled: None
) -> None:
    """A profile's writable holding registers take function 6 and 16; any other write gets
    exception 2 and changes nothing. (A simulator of its own: writes last.)"""
    simulator = simulator_factory()
    client = ModbusTcpClient(simulator.host, port=simulator.modbus_port, timeout=2, retries=0)
    assert client.connect()
    try:
        _write_and_refuse(client, simulator)
    finally:
        client.close()


def _write_and_refuse(client: ModbusTcpClient, simulator: SimulatorProcess) -> None:
    unit = UNITS["environment"]
    address = _profile("environment")["points"]["exhaust_alarm_limit"]["address"]
    assert not client.write_register(address, 380, device_id=unit).isError()
    assert not client.write_registers(address + 1, [0], device_id=unit).isError()  # the buzzer
    served = simulator.state()["modbus"]["environment"]["points"]
    assert served["exhaust_alarm_limit"]["value"] == pytest.approx(38.0)
    assert served["alarm_buzzer"]["value"] is False
    assert client.read_holding_registers(address, count=2, device_id=unit).registers == [380, 0]
    # The firmware register beside them is read-only, also inside a longer write.
    refused = client.write_registers(address - 1, [1, 2, 3], device_id=unit)
    assert refused.isError()
    assert refused.exception_code == 2
    assert simulator.state()["modbus"]["environment"]["points"]["exhaust_alarm_limit"][
        "value"
    ] == pytest.approx(38.0)
    refused = client.write_register(0, 1, device_id=UNITS["rack_pdu"])
    assert refused.isError()

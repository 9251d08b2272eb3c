"""A simulated site with every built-in profile of a real device, each on its own unit id.

The demo site (simulator/sites/demo.yaml) plus the real devices: the heat meters and the Energy
Valve follow the model's loop, the UPS cards its UPS, the energy meter its rack; points the
model has no quantity for serve the constants below. EXPECTED is what microdc must decode from
each point that serves a constant (enums and bitfields as their state and flags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.simulator_process import REPO_ROOT

UNITS = {
    "apc_smart_ups": 11,
    "tripp_lite_modbuscard_ups": 12,
    "eastron_sdm630": 13,
    "itron_cf_echo_ii": 14,
    "belimo_energy_valve_v4": 15,
    "onicon_system_10": 16,
    "eaton_9px_modbus_ms": 17,
}
# Point key -> the model quantity it follows (with a unit conversion factor where needed).
QUANTITIES: dict[str, dict[str, Any]] = {
    "apc_smart_ups": {
        "runtime_remaining": "ups_runtime_s",
        "battery_charge": "ups_battery_charge_pct",
        "load": "ups_load_pct",
        "input_voltage": "ups_input_voltage_v",
    },
    "tripp_lite_modbuscard_ups": {
        "runtime_remaining": {"quantity": "ups_runtime_s", "factor": 1 / 60},
        "battery_charge": "ups_battery_charge_pct",
    },
    "eastron_sdm630": {
        "total_power": "it_power_w",
        "average_voltage": "pdu_voltage_v",
        "total_current": "pdu_current_a",
        "import_energy": {"quantity": "it_energy_wh", "factor": 0.001},
    },
    "itron_cf_echo_ii": {
        "energy": {"quantity": "heat_meter_energy_wh", "factor": 0.001},
        "thermal_power": {"quantity": "heat_meter_power_w", "factor": 0.001},
        "flow": "loop_flow_m3h",
        "supply_temperature": "loop_supply_temperature_c",
        "return_temperature": "loop_return_temperature_c",
    },
    "belimo_energy_valve_v4": {
        "supply_temperature": "loop_supply_temperature_c",
        "return_temperature": "loop_return_temperature_c",
        "heating_power": "heat_meter_power_w",
        "heating_energy": {"quantity": "heat_meter_energy_wh", "factor": 0.001},
    },
    "onicon_system_10": {
        "energy": {"quantity": "heat_meter_energy_wh", "factor": 0.001},
        "thermal_power": {"quantity": "heat_meter_power_w", "factor": 0.001},
        "flow": "loop_flow_m3h",
        "supply_temperature": "loop_supply_temperature_c",
        "return_temperature": "loop_return_temperature_c",
    },
    "eaton_9px_modbus_ms": {
        "runtime_remaining": {"quantity": "ups_runtime_s", "factor": 1 / 60},
        "battery_charge": "ups_battery_charge_pct",
        "load": "ups_load_pct",
        "input_voltage": "ups_input_voltage_v",
        "output_power": "ups_output_power_w",
    },
}
# Point key -> (the constant served, what microdc decodes from it).
CONSTANTS: dict[str, dict[str, tuple[float, Any]]] = {
    "apc_smart_ups": {
        "status": (0b10, frozenset({"online"})),  # UPS_STATUS bit 1
        "battery_system_error": (0b100, frozenset({"needs_replacement"})),
        "battery_voltage": (54.5, 54.5),
        "battery_temperature": (-3.25, -3.25),
        "output_apparent_power_load": (41.5, 41.5),
        "output_current": (12.25, 12.25),
        "output_voltage": (230.5, 230.5),
        "output_frequency": (50.0, 50.0),
    },
    "tripp_lite_modbuscard_ups": {
        "battery_condition": (1, "weak"),
        "battery_status": (0, "ok"),
        "charger_state": (3, "discharging"),
        "seconds_on_battery": (95, 95),
        "battery_voltage": (27.3, 27.3),
        "battery_current": (4.2, 4.2),
        "battery_temperature": (31, 31),
    },
    "eastron_sdm630": {
        **{f"phase_{n}_voltage": (228.5 + n, 228.5 + n) for n in (1, 2, 3)},
        **{f"phase_{n}_current": (3.25 * n, 3.25 * n) for n in (1, 2, 3)},
        **{f"phase_{n}_power": (700.0 * n, 700.0 * n) for n in (1, 2, 3)},
        "frequency": (50.0, 50.0),
        "export_energy": (12.5, 12.5),
    },
    "itron_cf_echo_ii": {
        "volume": (123456.0, 123456.0),
        "temperature_difference": (6.25, 6.25),
        "cooling_energy": (42.0, 42.0),
    },
    "belimo_energy_valve_v4": {
        "setpoint": (62.5, 62.5),
        "relative_position": (61.75, 61.75),
        "cooling_power": (0, 0),
        "cooling_energy": (17, 17),
    },
    "onicon_system_10": {
        "cooling_energy": (315.5, 315.5),
        "heating_volume": (98765.0, 98765.0),
        "cooling_volume": (4321.0, 4321.0),
    },
    "eaton_9px_modbus_ms": {
        # Bits 0, 2, 4 and 6: bit 2 ("Unit general alarm") has no label and reads as nothing.
        "status": (0b101_0101, frozenset({"online", "on_battery", "low_battery"})),
        "battery_flags": (0b1, frozenset({"present"})),
        "input_alarms": (1 << 8, frozenset({"voltage_out_of_tolerance"})),
        "mains_2_alarms": (
            1 << 7 | 1 << 1,
            frozenset({"output_on_bypass", "maintenance_position"}),
        ),
        "charger_alarms": (0, frozenset()),
        "inverter_alarms": (1 << 2, frozenset({"overload"})),
        "mains_2_current": (1, 1),
        "output_current": (12, 12),
        "mains_2_voltage": (229, 229),
        "output_voltage": (230, 230),
        "battery_voltage": (72, 72),
        "output_apparent_power": (2900, 2900),
        "power_factor": (0.95, 0.95),
        "input_frequency": (50, 50),
        "mains_2_frequency": (49, 49),
        "output_frequency": (50, 50),
    },
}


def site_with_real_devices(folder: Path) -> Path:
    """Write the demo site plus the real devices into folder; return the site file."""
    site = yaml.safe_load((REPO_ROOT / "simulator/sites/demo.yaml").read_text(encoding="utf-8"))
    for profile, unit in UNITS.items():
        points: dict[str, Any] = dict(QUANTITIES[profile])
        points |= {key: {"value": value} for key, (value, _) in CONSTANTS[profile].items()}
        site["modbus"]["devices"][profile] = {"unit_id": unit, "profile": profile, "points": points}
    path = folder / "real_devices_site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path

"""The simulator's physics, driven directly (no sockets): conservation, faults, water."""

from __future__ import annotations

import pytest

from simulator import water
from simulator.faults import FaultBoard, FaultError
from simulator.model import SiteModel
from simulator.site import load_site

# The runner ticks every 0.1 s of wall time; at --speed 600 each tick is a 60 s step.
SPEED_600_TICK_S = 60.0
DAY_S = 86400.0
VALVES = ("stockroom", "tenant_a", "tenant_b", "shared_loop", "dry_cooler")


def _model(seed: int = 0) -> SiteModel:
    site = load_site()
    return SiteModel(site, FaultBoard(site), seed=seed)


def _route(model: SiteModel, **positions: float) -> None:
    for valve in VALVES:
        model.command_valve(valve, positions.get(valve, 0.0))


def test_energy_is_conserved_over_a_simulated_day() -> None:
    """IT energy = delivered + rejected + stored within 0.5 % while heat is routed around."""
    model = _model()
    # A day of routing: every destination in turn, an hour with no path, the pump off a while.
    plan = {
        0: {"tenant_a": 100.0},
        3: {"stockroom": 60.0, "tenant_b": 100.0},
        8: {"shared_loop": 100.0},
        12: {},
        13: {"dry_cooler": 100.0, "tenant_a": 30.0},
        18: {"dry_cooler": 100.0},
    }
    for tick in range(int(DAY_S / SPEED_600_TICK_S)):
        hour, rest = divmod(tick * SPEED_600_TICK_S, 3600.0)
        if rest == 0 and hour in plan:
            _route(model, **plan[hour])
        if rest == 0 and hour in (15, 16):
            model.command_pump(hour == 16)
        model.step(SPEED_600_TICK_S)
    ledgers = model.ledgers()
    it_energy = ledgers["it_energy_wh"]
    accounted = ledgers["delivered_wh"] + ledgers["rejected_wh"] + ledgers["stored_wh"]
    assert it_energy > 40_000  # a day of 2..6 kW
    assert accounted == pytest.approx(it_energy, rel=0.005)
    # Every destination received heat, and the heat meter's truth is the heat into the loop.
    for destination in ("stockroom", "tenant_a", "tenant_b", "shared_loop"):
        assert ledgers[f"delivered_wh.{destination}"] > 100, destination
    assert ledgers["rejected_wh.dry_cooler"] > 100
    meter = (
        model.quantity("heat_meter_energy_wh")
        - load_site().params["heat_meter"]["initial_energy_wh"]
    )
    assert meter == pytest.approx(ledgers["heat_to_loop_wh"])


def test_it_power_follows_a_retail_day_between_2_and_6_kw() -> None:
    model = _model(seed=3)
    night, day = [], []
    visits = {0.0: 0, 1.0: 0}
    for _ in range(24 * 60):
        model.step(60.0)
        power = model.quantity("it_power_w")
        assert 2000.0 <= power <= 6000.0
        is_open = model.quantity("shop_open")
        (day if is_open else night).append(power)
        if model.quantity("occupancy.stockroom"):
            visits[is_open] += 1
        assert model.quantity("occupancy.tenant_a") == is_open
    assert sum(day) / len(day) > sum(night) / len(night) + 800
    assert max(day) > 4500  # inference bursts
    # Staff visit the stockroom during opening hours only, and not all the time.
    assert visits[0.0] == 0
    assert 30 < visits[1.0] < 12 * 60 - 30


def test_seeded_days_repeat_and_differ_between_seeds() -> None:
    first, again, other = _model(seed=1), _model(seed=1), _model(seed=2)
    for model in (first, again, other):
        model.step(6 * 3600.0)
    assert first.quantities() == again.quantities()
    assert first.ledgers()["it_energy_wh"] != other.ledgers()["it_energy_wh"]


def _morning_of_day_2(start_hour: float) -> list[tuple[float, float, bool]]:
    """Door, stockroom occupancy and burst (True/False) each 10 s from 08:00 to 12:00 of day 2."""
    site = load_site()
    site.params["clock"]["start_hour"] = start_hour
    site.params["model"] = {"internal_step_s": 10.0}  # events last >= 20 s: 10 s sees each one
    model = SiteModel(site, FaultBoard(site), seed=5)
    model.step((24.0 + 8.0 - start_hour) * 3600.0)
    assert model.quantity("time_of_day_h") == pytest.approx(8.0)
    samples = []
    for _ in range(4 * 360):
        model.step(10.0)
        # Before noon: open baseline + lunchtime slope + ripple < 3900 W; a burst adds >= 800 W.
        burst = model.quantity("it_power_w") > 4000.0
        samples.append((model.quantity("door_open"), model.quantity("occupancy.stockroom"), burst))
    return samples


def test_a_start_after_opening_keeps_the_next_mornings_events() -> None:
    """Started at 12:00, day 2 still has door openings, visits and bursts before noon, the same
    ones (by seed) as a simulation started at midnight."""
    late = _morning_of_day_2(12.0)
    assert sum(door for door, _, _ in late) > 0
    assert sum(visit for _, visit, _ in late) > 0
    assert any(burst for _, _, burst in late)
    assert late == _morning_of_day_2(0.0)


def test_heat_piles_up_when_no_path_takes_it() -> None:
    routed, blocked = _model(), _model()
    _route(blocked)  # every valve shut: only the bypass flows
    for model in (routed, blocked):
        model.step(3 * 3600.0)
    assert (
        blocked.quantity("loop_return_temperature_c")
        > routed.quantity("loop_return_temperature_c") + 3
    )
    assert blocked.quantity("exhaust_temperature_c") > routed.quantity("exhaust_temperature_c") + 2
    assert blocked.ledgers()["rejected_wh.dry_cooler"] < routed.ledgers()["rejected_wh.dry_cooler"]


def test_valves_send_heat_to_the_open_destination() -> None:
    model = _model()
    _route(model, tenant_a=100.0)
    model.step(2 * 3600.0)
    assert model.quantity("valve_position_pct.tenant_a") == 100.0
    assert model.quantity("valve_position_pct.dry_cooler") == 0.0
    assert model.quantity("destination_power_w.tenant_a") > 500
    assert model.quantity("destination_power_w.dry_cooler") == 0.0
    heating_without = _model()
    heating_without.step(2 * 3600.0)
    # Recovered heat displaces the tenant's own heating and warms the space.
    assert (
        model.ledgers()["space_heating_wh.tenant_a"]
        < heating_without.ledgers()["space_heating_wh.tenant_a"]
    )


def test_a_valve_moves_at_its_stroke_rate() -> None:
    model = _model()
    model.command_valve("stockroom", 100.0)
    model.step(30.0)
    assert model.quantity("valve_position_pct.stockroom") == pytest.approx(50.0)
    model.step(60.0)
    assert model.quantity("valve_position_pct.stockroom") == 100.0


def test_a_stuck_valve_ignores_commands() -> None:
    model = _model()
    model.faults.add({"fault": "valve_stuck", "device": "dry_cooler"})
    model.command_valve("dry_cooler", 0.0)
    model.step(300.0)
    assert model.quantity("valve_command_pct.dry_cooler") == 0.0
    assert model.quantity("valve_position_pct.dry_cooler") == 100.0


def test_pump_failure_stops_the_flow_and_heats_the_exhaust() -> None:
    healthy, failed = _model(), _model()
    failed.faults.add({"fault": "pump_failure"})
    for model in (healthy, failed):
        model.step(1800.0)
    assert failed.quantity("loop_flow_m3h") == 0.0
    assert failed.quantity("heat_meter_power_w") == 0.0
    assert failed.quantity("pump_on") == 0.0
    assert failed.quantity("pump_command") == 1.0
    assert failed.quantity("exhaust_temperature_c") > healthy.quantity("exhaust_temperature_c") + 3


def test_cooling_failure_of_the_dry_cooler_warms_the_loop() -> None:
    healthy, failed = _model(), _model()
    failed.faults.add({"fault": "cooling_failure"})
    for model in (healthy, failed):
        model.step(2 * 3600.0)
    assert (
        failed.quantity("loop_supply_temperature_c")
        > healthy.quantity("loop_supply_temperature_c") + 2
    )


def test_room_cooling_failure_warms_the_inlet() -> None:
    healthy, failed = _model(), _model()
    failed.faults.add({"fault": "cooling_failure", "device": "room"})
    for model in (healthy, failed):
        model.step(2 * 3600.0)
    assert failed.quantity("room_ac_power_w") == 0.0
    assert failed.quantity("inlet_temperature_c") > healthy.quantity("inlet_temperature_c") + 1


def test_mains_outage_drains_the_battery_until_the_ups_drops_the_load() -> None:
    model = _model()
    model.step(600.0)
    assert model.quantity("ups_status.online") == 1.0
    for idle in ("input_bad", "output_off", "self_test", "high_efficiency", "info_alert"):
        assert model.quantity(f"ups_status.{idle}") == 0.0, idle
    full_runtime = model.quantity("ups_runtime_s")
    model.faults.add({"fault": "mains_outage"})
    model.step(600.0)
    assert model.quantity("ups_status.on_battery") == 1.0
    assert model.quantity("ups_status.online") == 0.0
    assert model.quantity("ups_input_voltage_v") == 0.0
    assert model.quantity("ups_status.input_bad") == 1.0
    assert model.quantity("ups_status.output_off") == 0.0
    assert model.quantity("ups_battery_charge_pct") < 100.0
    assert model.quantity("ups_runtime_s") < full_runtime
    assert model.quantity("ups_status.low_battery") == 0.0
    while not model.quantity("ups_status.low_battery"):
        model.step(60.0)
        assert model.time_s < 4 * 3600.0
    assert model.quantity("ups_runtime_s") < 300.0
    model.step(900.0)
    assert model.quantity("ups_output_source.off") == 1.0
    assert model.quantity("ups_status.output_off") == 1.0
    assert model.quantity("it_power_w") == 0.0
    model.faults.clear()
    model.step(60.0)
    assert model.quantity("ups_status.charging") == 1.0
    assert model.quantity("it_power_w") > 0.0


def test_faults_expire_after_their_simulated_duration() -> None:
    model = _model()
    model.faults.add({"fault": "pump_failure", "duration_s": 120})
    model.step(60.0)
    assert model.quantity("loop_flow_m3h") == 0.0
    model.step(120.0)
    assert model.quantity("loop_flow_m3h") > 0.0


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"fault": "melted"}, "unknown fault"),
        ({"fault": "valve_stuck", "device": "attic"}, "unknown valve"),
        ({"fault": "device_offline", "device": "toaster"}, "unknown device"),
        ({"fault": "sensor_nan", "device": "ups"}, "needs 'point'"),
        ({"fault": "sensor_nan", "device": "ups", "point": "colour"}, "has no point"),
        ({"fault": "pump_failure", "duration_s": -1}, "duration_s"),
        ({"fault": "pump_failure", "device": "ups"}, "takes no device"),
        ({"fault": "slow_replies", "device": "ups", "delay": 2}, "no parameter"),
        (["pump_failure"], "JSON object"),
    ],
)
def test_bad_fault_requests_are_refused_with_a_reason(request_body: object, message: str) -> None:
    model = _model()
    with pytest.raises(FaultError, match=message):
        model.faults.add(request_body)
    assert model.faults.faults() == []


def test_water_properties_match_iapws_95() -> None:
    assert water.density(20.0) == pytest.approx(998.21, abs=0.01)
    assert water.density(45.0) == pytest.approx(990.21, rel=1e-4)  # between table rows
    assert water.specific_heat(40.0) == pytest.approx(4179.6, abs=0.1)
    assert water.specific_heat(35.0) == pytest.approx(4179.3, rel=2e-4)  # between table rows
    assert water.specific_heat(5.0) == pytest.approx(4205.0, rel=1.5e-3)  # c_p curves most here
    # Enthalpy is the integral of c_p: its difference quotient is c_p.
    for temperature in (3.0, 27.5, 64.0):
        slope = (water.enthalpy(temperature + 1e-3) - water.enthalpy(temperature - 1e-3)) / 2e-3
        assert slope == pytest.approx(water.specific_heat(temperature), rel=1e-6)

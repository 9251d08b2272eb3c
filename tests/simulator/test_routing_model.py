"""The physics the heat router and the blueprints lean on, driven directly (no sockets):
a space that overheats, the shared loop's heating curve, named outdoor days, set spaces."""

from __future__ import annotations

import pytest

from simulator.faults import FaultBoard
from simulator.model import SiteModel
from simulator.site import load_site

VALVES = ("stockroom", "tenant_a", "tenant_b", "shared_loop", "dry_cooler")
HOUR_S = 3600.0


def _model(step_s: float = 2.0) -> SiteModel:
    site = load_site()
    model = SiteModel(site, FaultBoard(site))
    # Coarser than the default 1 s, still far below the loop's time constant (~10 min).
    model.internal_step_s = step_s
    return model


def _route(model: SiteModel, **positions: float) -> None:
    for valve in VALVES:
        model.command_valve(valve, positions.get(valve, 0.0))


def test_a_stockroom_fed_all_the_racks_heat_passes_26_c() -> None:
    """Nothing cools a space: with every other path shut it warms past any comfort limit."""
    model = _model()
    _route(model, stockroom=100.0)
    start = model.quantity("space_temperature_c.stockroom")
    model.step(8 * HOUR_S)
    assert model.quantity("space_temperature_c.stockroom") > 26.0 > start
    assert model.quantity("space_heating_power_w.stockroom") == 0.0  # its own heating is off
    ledgers = model.ledgers()
    assert abs(ledgers["balance_wh"]) < 0.005 * ledgers["it_energy_wh"]


def test_the_shared_loop_takes_heat_only_while_the_mall_heats() -> None:
    model = _model()
    _route(model, shared_loop=100.0)
    model.step(HOUR_S)
    # Winter morning (about 3 °C): the mall asks 300 W/K * (15 - T_out) and takes heat.
    t_out = model.quantity("outdoor_temperature_c")
    demand = model.quantity("destination_demand_w.shared_loop")
    assert demand == pytest.approx(300.0 * (15.0 - t_out))
    taken = model.quantity("destination_power_w.shared_loop")
    assert 0.0 < taken <= demand + 1e-9

    # A warm day: no demand, no heat taken; the heat piles up in the loop.
    model.set_outdoor(mean_c=20.0, amplitude_k=0.0)
    supply_before = model.quantity("loop_supply_temperature_c")
    delivered_before = model.ledgers()["delivered_wh.shared_loop"]
    model.step(2 * HOUR_S)
    assert model.quantity("destination_demand_w.shared_loop") == 0.0
    assert model.quantity("destination_power_w.shared_loop") == 0.0
    assert model.ledgers()["delivered_wh.shared_loop"] == delivered_before
    assert model.quantity("loop_supply_temperature_c") > supply_before + 5.0

    # So reject is the right choice in summer: the dry cooler takes the heat away.
    _route(model, dry_cooler=100.0)
    model.step(HOUR_S)
    assert model.quantity("destination_power_w.dry_cooler") > 1000.0
    ledgers = model.ledgers()
    assert abs(ledgers["balance_wh"]) < 0.005 * ledgers["it_energy_wh"]


def test_demand_is_capped_when_the_exchanger_could_give_more() -> None:
    """At 14.5 °C the mall asks 150 W, less than the plate HX could pass: 150 W it is."""
    model = _model()
    _route(model, shared_loop=100.0)
    model.step(HOUR_S)
    model.set_outdoor(mean_c=14.5, amplitude_k=0.0)
    model.step(600.0)
    assert model.quantity("destination_demand_w.shared_loop") == pytest.approx(150.0)
    assert model.quantity("destination_power_w.shared_loop") == pytest.approx(150.0)


def _day_range(**curve: float | str) -> tuple[float, float]:
    """The lowest and highest hourly outdoor temperature of one day under this curve."""
    model = _model(step_s=600.0)
    model.set_outdoor(**curve)  # type: ignore[arg-type]
    temps = []
    for _ in range(24):
        model.step(HOUR_S)
        temps.append(model.quantity("outdoor_temperature_c"))
    return min(temps), max(temps)


def test_named_days_and_an_offset_shift_the_outdoor_curve() -> None:
    model = _model()
    assert set(model.outdoor_days()) == {"winter", "spring"}
    assert _day_range(day="spring") == (pytest.approx(6.0), pytest.approx(16.0))
    assert _day_range(day="winter", offset_k=-5.0) == (pytest.approx(-5.0), pytest.approx(3.0))
    # A named day starts from the site file's curve: an earlier offset is gone.
    model.set_outdoor(offset_k=3.0)
    assert model.set_outdoor(day="spring")["offset_k"] == 0.0
    with pytest.raises(KeyError, match="unknown day"):
        model.set_outdoor(day="monsoon")
    with pytest.raises(KeyError, match="unknown outdoor parameter"):
        model.set_outdoor(humidity=3.0)


def test_set_space_puts_a_space_at_its_limit_and_keeps_the_balance() -> None:
    model = _model()
    _route(model, stockroom=100.0)
    model.step(600.0)
    model.set_space("stockroom", temperature_c=25.5)
    assert model.quantity("space_temperature_c.stockroom") == 25.5
    # Without its loss to outdoors the space keeps what it is given: it warms faster.
    warm = _model()
    _route(warm, stockroom=100.0)
    warm.step(600.0)
    warm.set_space("stockroom", temperature_c=25.5, loss_w_per_k=0.0)
    model.step(HOUR_S)
    warm.step(HOUR_S)
    assert (
        warm.quantity("space_temperature_c.stockroom")
        > model.quantity("space_temperature_c.stockroom") + 0.5
    )
    for each in (model, warm):
        ledgers = each.ledgers()
        assert abs(ledgers["balance_wh"]) < 0.005 * ledgers["it_energy_wh"]
    with pytest.raises(KeyError, match="unknown space"):
        model.set_space("attic", temperature_c=20.0)

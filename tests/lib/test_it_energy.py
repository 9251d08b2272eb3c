"""The rack's IT energy summed over its feeds: each its own counter, none ever lost."""

import pytest

from custom_components.microdc.lib.heat import CounterSpec, LedgerStateError
from custom_components.microdc.lib.heat.it_energy import ItEnergy

WH = CounterSpec(wh_per_count=1.0, bits=16, max_power_w=20000.0)


def test_a_wrap_on_one_feed_leaves_the_other_alone() -> None:
    it = ItEnergy(900.0, {"a": WH, "b": WH})
    it.advance("a", 0.0, 2000.0, 65530.0)
    it.advance("b", 0.0, 1500.0, 100.0)
    it.advance("a", 10.0, 2000.0, 4.0)  # wrapped: 10 Wh
    it.advance("b", 10.0, 1500.0, None)  # counter missing: this interval from power
    assert it.channels["a"].total_wh == 10.0
    assert it.channels["b"].total_wh == pytest.approx(1500 * 10 / 3600)
    assert it.total_wh == pytest.approx(10.0 + 1500 * 10 / 3600)
    assert (it.wraps, it.replacements) == (1, 0)
    assert it.site_power_w() == 3500.0


def test_site_power_is_unknown_while_one_feed_is() -> None:
    it = ItEnergy(900.0, {"a": WH, "b": WH})
    it.advance("a", 0.0, 2000.0, 1.0)
    assert it.site_power_w() is None
    assert ItEnergy(900.0, {}).site_power_w() is None


def test_a_removed_feed_keeps_its_energy() -> None:
    it = ItEnergy(900.0, {"a": WH, "b": WH})
    it.channels["a"].total_wh, it.channels["b"].total_wh = 100.0, 50.0
    restored = ItEnergy.from_dict(900.0, {"a": WH}, it.to_dict())
    assert restored.total_wh == 150.0
    assert restored.retired_wh == 50.0
    assert ItEnergy.from_dict(900.0, {}, restored.to_dict()).total_wh == 150.0


def test_the_single_channel_of_0_1_0() -> None:
    old = ItEnergy(900.0, {"x": WH}).channels["x"]
    old.total_wh = 777.0
    kept = ItEnergy.from_single_channel(900.0, {"a": WH, "b": WH}, old.to_dict())
    assert (kept.channels["a"].total_wh, kept.channels["b"].total_wh) == (777.0, 0.0)
    retired = ItEnergy.from_single_channel(900.0, {}, old.to_dict())
    assert (retired.total_wh, retired.retired_wh) == (777.0, 777.0)


@pytest.mark.parametrize(
    "data", [None, {}, {"channels": []}, {"channels": {}, "retired_wh": -1}, {"channels": {"a": 1}}]
)
def test_unusable_saved_state_is_refused(data: object) -> None:
    with pytest.raises(LedgerStateError):
        ItEnergy.from_dict(900.0, {"a": WH}, data)

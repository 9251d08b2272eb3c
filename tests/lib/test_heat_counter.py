"""Energy counters: steps, 16- and 32-bit wraps, replaced meters."""

import math

import pytest

from custom_components.microdc.lib.heat import (
    CounterEvent,
    CounterSpec,
    EnergyChannel,
    EnergyCounter,
    HeatDomainError,
    LedgerStateError,
)


def test_steps_are_differences_times_scale() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=100, bits=32))  # a 0.1 kWh register
    assert counter.advance(1000, None).event is CounterEvent.FIRST
    step = counter.advance(1012, 10.0)
    assert (step.event, step.energy_wh) == (CounterEvent.STEP, 1200.0)
    assert counter.advance(1012, 10.0).energy_wh == 0.0


def test_16_bit_wrap() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1, bits=16))
    counter.advance(65_530, None)
    step = counter.advance(5, 10.0)
    assert (step.event, step.energy_wh) == (CounterEvent.WRAP, 11.0)  # 65530 -> 65535 -> 0 -> 5


def test_32_bit_wrap() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=10, bits=32))
    counter.advance(4_294_967_000, None)
    step = counter.advance(200, 60.0)
    assert (step.event, step.energy_wh) == (CounterEvent.WRAP, (296 + 200) * 10.0)


def test_a_fall_no_wrap_explains_is_a_replaced_meter() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1, bits=32))
    counter.advance(1_000_000, None)
    step = counter.advance(50, 10.0)
    assert (step.event, step.energy_wh) == (CounterEvent.REPLACED, None)
    # The new meter's value is the new baseline: counting resumes from it.
    assert counter.advance(80, 10.0).energy_wh == 30.0


def test_a_reset_to_zero_of_a_float_counter_is_a_replaced_meter() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1000, bits=None))  # f32 in kWh
    counter.advance(12_345.6, None)
    assert counter.advance(0.0, 10.0).event is CounterEvent.REPLACED


def test_max_power_catches_a_jump_up_and_a_false_wrap() -> None:
    spec = CounterSpec(wh_per_count=1, bits=16, max_power_w=20_000)
    counter = EnergyCounter(spec)
    counter.advance(100, None)
    # 10 s at 20 kW is at most ~56 Wh (+25 % slack): a step of 30 000 Wh is another meter.
    assert counter.advance(30_100, 10.0).event is CounterEvent.REPLACED
    # A new 16-bit meter reading 10 after 65 000: wrapping explains it arithmetically, but
    # 546 Wh in 10 s would be ~200 kW: it is a replacement, not a wrap.
    counter = EnergyCounter(spec)
    counter.advance(65_000, None)
    assert counter.advance(10, 10.0).event is CounterEvent.REPLACED
    counter = EnergyCounter(spec)
    counter.advance(65_530, None)
    assert counter.advance(20, 10.0).event is CounterEvent.WRAP


def test_max_power_marks_a_gap_long_enough_to_hide_a_wrap_as_ambiguous() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1, bits=16, max_power_w=20_000))
    counter.advance(1_000, None)
    # 20 kW for 3 h is 60 kWh, nearly a whole 16-bit range of Wh: one wrap cannot be told
    # from two, so the step is not trusted.
    step = counter.advance(2_000, 3 * 3600.0)
    assert (step.event, step.energy_wh) == (CounterEvent.AMBIGUOUS, None)


def test_a_missing_reading_drops_the_baseline() -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1))
    counter.advance(10, None)
    counter.forget()
    assert counter.advance(20, 10.0).event is CounterEvent.FIRST


@pytest.mark.parametrize("raw", [-1, 65_536, math.nan])
def test_a_value_the_register_cannot_hold_is_an_error(raw: float) -> None:
    counter = EnergyCounter(CounterSpec(wh_per_count=1, bits=16))
    counter.advance(7, None)
    with pytest.raises(HeatDomainError, match="counter value"):
        counter.advance(raw, 1.0)
    assert counter.last_raw == 7


@pytest.mark.parametrize(
    "kwargs",
    [{"wh_per_count": 0}, {"wh_per_count": 1, "bits": 24}, {"wh_per_count": 1, "max_power_w": -5}],
)
def test_bad_spec_is_an_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(HeatDomainError):
        CounterSpec(**kwargs)  # type: ignore[arg-type]


def test_state_round_trip_and_bad_state() -> None:
    spec = CounterSpec(wh_per_count=1, bits=16)
    counter = EnergyCounter(spec)
    counter.advance(65_535, None)
    restored = EnergyCounter.from_dict(spec, counter.to_dict())
    assert restored.advance(1, 5.0).energy_wh == 2.0
    with pytest.raises(LedgerStateError):
        EnergyCounter.from_dict(spec, {"last_raw": "abc"})
    with pytest.raises(LedgerStateError):
        EnergyCounter.from_dict(spec, {"last_raw": 70_000})


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(CounterSpec(wh_per_count=1.0, max_power_w=20000.0), id="pdu-rated-20kW"),
        pytest.param(CounterSpec(wh_per_count=10.0, max_power_w=1e6), id="heat-meter-unrated"),
    ],
)
def test_one_rule_a_counter_faster_than_its_power_is_set_aside(spec: CounterSpec) -> None:
    """Whatever a counter's rating, a step its own power readings cannot explain (a tenfold
    clock) is set aside and the interval counts from power; a true step counts from the
    counter, and a burst between readings (up to twice the larger end) still does."""
    channel = EnergyChannel(300.0, spec)
    channel.advance(0.0, 3000.0, 1000.0)
    true_step = 3000.0 * 10 / 3600 / spec.wh_per_count  # counts in 10 s
    channel.advance(10.0, 3000.0, 1000.0 + round(true_step))
    assert (channel.replacements, channel.set_aside_wh) == (0, 0.0)
    counted = channel.total_wh
    assert counted == round(true_step) * spec.wh_per_count

    raw = 1000.0 + round(true_step) + round(10 * true_step)  # ten times the power's energy
    interval = channel.advance(20.0, 3000.0, raw)
    assert interval.counter_event is CounterEvent.REPLACED
    assert interval.energy_wh == pytest.approx(3000.0 * 10 / 3600)  # from power
    assert channel.set_aside_wh == round(10 * true_step) * spec.wh_per_count

    burst = round(1.9 * 120 * 3000.0 / 3600 / spec.wh_per_count)  # 120 s at 1.9x the ends
    interval = channel.advance(140.0, 3000.0, raw + burst)
    assert interval.counter_event is CounterEvent.STEP
    assert interval.energy_wh == burst * spec.wh_per_count

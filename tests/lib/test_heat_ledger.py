"""The heat ledger: trapezoid, gaps, counters, restarts, attribution by valves."""

import json
import random
from typing import Any

import pytest

from custom_components.microdc.lib.heat import (
    REJECT,
    Circuit,
    CircuitReading,
    CounterSpec,
    EnergyChannel,
    EnergySource,
    HeatDomainError,
    HeatLedger,
    LedgerStateError,
    shares_by_valves,
)

MAIN = "main"
LOOP_ONLY = [Circuit(MAIN, (REJECT,))]
"""The simplest site: one loop, everything to reject (one destination, no attribution)."""


def ramp_w(t: float) -> float:
    return 2_000 + 3.5 * t


def test_trapezoid_is_exact_on_a_linear_ramp_with_uneven_steps() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    times = [0.0, 7.0, 10.0, 31.5, 40.0, 99.0, 100.0]
    for t in times:
        ledger.record(t, {MAIN: CircuitReading(power_w=ramp_w(t))})
    # ∫0..100 (2000 + 3.5 t) dt = 200 000 + 17 500 J·... in W·s; / 3600 for Wh.
    exact_wh = (2_000 * 100 + 3.5 * 100**2 / 2) / 3600
    totals = ledger.totals()
    assert totals.rejected_wh == pytest.approx(exact_wh, rel=1e-12)
    assert totals.computed_wh == pytest.approx(exact_wh, rel=1e-12)
    assert (totals.unknown_s, totals.gap_count) == (0.0, 0)


def test_a_gap_longer_than_the_limit_is_unknown_not_zero_nor_last_value() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    for t in (0.0, 30.0, 60.0):
        ledger.record(t, {MAIN: CircuitReading(power_w=3_600.0)})
    ledger.record(600.0, {MAIN: CircuitReading(power_w=3_600.0)})  # 540 s without readings
    ledger.record(630.0, {MAIN: CircuitReading(power_w=3_600.0)})
    totals = ledger.totals()
    # 60 s + 30 s at 3.6 kW = 90 Wh; the 540 s gap adds nothing and is reported.
    assert totals.rejected_wh == pytest.approx(90.0)
    assert (totals.unknown_s, totals.gap_count) == (540.0, 1)


def test_a_gap_exactly_at_the_limit_is_integrated() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=0.0)})
    ledger.record(60.0, {MAIN: CircuitReading(power_w=7_200.0)})
    assert ledger.totals().rejected_wh == pytest.approx(60.0)


def test_negative_power_counts_as_zero_and_totals_never_fall() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=-500.0)})
    ledger.record(36.0, {MAIN: CircuitReading(power_w=-500.0)})
    assert ledger.totals().rejected_wh == 0.0
    ledger.record(72.0, {MAIN: CircuitReading(power_w=1_000.0)})
    assert ledger.totals().rejected_wh == pytest.approx(5.0)  # (0 + 1000) / 2 W for 36 s


def test_a_clock_going_backwards_integrates_nothing() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    ledger.record(100.0, {MAIN: CircuitReading(power_w=1_000.0)})
    ledger.record(90.0, {MAIN: CircuitReading(power_w=1_000.0)})
    ledger.record(126.0, {MAIN: CircuitReading(power_w=1_000.0)})
    assert ledger.totals().rejected_wh == pytest.approx(10.0)  # only 90 -> 126 s


METERED = [Circuit(MAIN, (REJECT,), CounterSpec(wh_per_count=1, bits=16))]


def test_the_counter_is_the_truth_and_the_trapezoid_its_cross_check() -> None:
    ledger = HeatLedger(METERED, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, counter=100)})
    intervals = ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0, counter=111)})
    assert intervals[MAIN].source is EnergySource.COUNTER
    totals = ledger.totals()
    assert totals.rejected_wh == 11.0
    assert totals.computed_wh == pytest.approx(10.0)


def test_16_bit_wraps_in_the_ledger() -> None:
    ledger = HeatLedger(METERED, max_gap_s=60)
    raw = 65_000
    ledger.record(0.0, {MAIN: CircuitReading(counter=raw)})
    for i in range(1, 41):  # 40 steps of 100 Wh: wraps once, after the 5th step
        raw = (raw + 100) % 65_536
        ledger.record(10.0 * i, {MAIN: CircuitReading(counter=raw)})
    totals = ledger.totals()
    assert totals.rejected_wh == 4_000.0
    assert totals.wraps == 1


def test_32_bit_wrap_in_the_ledger() -> None:
    circuits = [Circuit(MAIN, (REJECT,), CounterSpec(wh_per_count=1, bits=32))]
    ledger = HeatLedger(circuits, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(counter=2**32 - 30)})
    ledger.record(10.0, {MAIN: CircuitReading(counter=20)})
    assert ledger.totals().rejected_wh == 50.0


def test_a_replaced_meter_neither_goes_backwards_nor_double_counts() -> None:
    circuits = [Circuit(MAIN, (REJECT,), CounterSpec(wh_per_count=1, bits=32))]
    ledger = HeatLedger(circuits, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, counter=1_000_000)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0, counter=1_000_010)})
    # The meter is swapped: the new one starts at 3. The interval falls back to the trapezoid.
    intervals = ledger.record(20.0, {MAIN: CircuitReading(power_w=3_600.0, counter=3)})
    assert intervals[MAIN].source is EnergySource.POWER
    assert ledger.totals().rejected_wh == pytest.approx(20.0)
    ledger.record(30.0, {MAIN: CircuitReading(power_w=3_600.0, counter=13)})
    totals = ledger.totals()
    assert totals.rejected_wh == pytest.approx(30.0)
    assert totals.replacements == 1


def test_a_missing_counter_reading_does_not_double_count() -> None:
    ledger = HeatLedger(METERED, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, counter=0)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0)})  # counter unreadable
    ledger.record(20.0, {MAIN: CircuitReading(power_w=3_600.0, counter=20)})
    ledger.record(30.0, {MAIN: CircuitReading(power_w=3_600.0, counter=30)})
    # 0..10 and 10..20 by trapezoid (10 Wh each), 20..30 by counter (10 Wh): 30, not 40.
    assert ledger.totals().rejected_wh == pytest.approx(30.0)


def test_an_offline_meter_loses_nothing_its_counter_saw() -> None:
    ledger = HeatLedger(METERED, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(counter=0)})
    ledger.record(900.0, {MAIN: CircuitReading(counter=2_500)})  # 15 min offline
    totals = ledger.totals()
    # One destination: the counter's energy is attributable even across the gap.
    assert totals.rejected_wh == 2_500.0
    assert totals.unknown_s == 0.0


# A site with a stockroom, a tenant and reject on one metered loop, split by valves.
DESTS = ("stockroom", "tenant_a", REJECT)
SPLIT = [Circuit(MAIN, DESTS, CounterSpec(wh_per_count=1, bits=32))]


def valves(stockroom: float, tenant_a: float) -> dict[str, float]:
    return shares_by_valves({"stockroom": stockroom, "tenant_a": tenant_a})


def test_attribution_by_valve_opening() -> None:
    ledger = HeatLedger([Circuit(MAIN, DESTS)], max_gap_s=60)
    for t in (0.0, 30.0, 60.0):
        ledger.record(t, {MAIN: CircuitReading(power_w=6_000.0, shares=valves(100, 50))})
    for t in (90.0, 120.0):  # all valves closed from t = 60 s on: reject
        ledger.record(t, {MAIN: CircuitReading(power_w=6_000.0, shares=valves(0, 0))})
    by = ledger.totals().by_destination_wh
    # 0..60 s: 100 Wh split 2:1. 60..90 s: valves move, trapezoid of P·share: half of 50 Wh
    # to the old split, half to reject. 90..120 s: 50 Wh to reject.
    assert by["stockroom"] == pytest.approx(100 * 2 / 3 + 25 * 2 / 3)
    assert by["tenant_a"] == pytest.approx(100 / 3 + 25 / 3)
    assert by[REJECT] == pytest.approx(25 + 50)


def test_metered_energy_is_split_by_the_power_profile() -> None:
    ledger = HeatLedger(SPLIT, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=0.0, counter=0, shares=valves(100, 0))})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=2_000.0, counter=9, shares=valves(0, 100))})
    by = ledger.totals().by_destination_wh
    # Power 0 at the stockroom's end, 2 kW at the tenant's: all the meter's 9 Wh go to the tenant.
    assert (by["stockroom"], by["tenant_a"], by[REJECT]) == (0.0, 9.0, 0.0)


def test_metered_energy_across_a_long_gap_is_unattributed() -> None:
    ledger = HeatLedger(SPLIT, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(counter=0, shares=valves(100, 0))})
    ledger.record(600.0, {MAIN: CircuitReading(counter=500, shares=valves(100, 0))})
    totals = ledger.totals()
    assert totals.unattributed_wh == 500.0
    assert (totals.reused_wh, totals.rejected_wh, totals.captured_wh) == (0.0, 0.0, 500.0)


def test_branch_meters_attribute_their_own_destination() -> None:
    circuits = [
        Circuit("tenant_a_branch", ("tenant_a",), CounterSpec(wh_per_count=10, bits=16)),
        Circuit(MAIN, ("stockroom", REJECT)),
    ]
    ledger = HeatLedger(circuits, max_gap_s=60)
    rest = shares_by_valves({"stockroom": 100})
    for i, t in enumerate((0.0, 10.0, 20.0)):
        ledger.record(
            t,
            {
                "tenant_a_branch": CircuitReading(counter=65_530 + 3 * i if i < 2 else 3),
                MAIN: CircuitReading(power_w=720.0, shares=rest),
            },
        )
    by = ledger.totals().by_destination_wh
    assert by["tenant_a"] == pytest.approx((3 + 6) * 10)  # 65530 -> 65533 -> (wrap) -> 3
    assert by["stockroom"] == pytest.approx(4.0)  # 720 W for 20 s
    assert by[REJECT] == 0.0


def scripted_day(seed: int) -> list[tuple[float, dict[str, CircuitReading]]]:
    """A reproducible stream of readings: varying power, valves, a wrapping counter, gaps."""
    rng = random.Random(seed)
    readings, t, raw = [], 0.0, 65_000
    for _ in range(400):
        t += rng.choice((5.0, 10.0, 10.0, 10.0, 200.0))
        power = rng.uniform(-200.0, 15_000.0)
        raw = (raw + rng.randint(0, 40)) % 65_536
        shares = valves(rng.choice((0, 30, 100)), rng.choice((0, 70, 100)))
        readings.append((t, {MAIN: CircuitReading(power_w=power, counter=raw, shares=shares)}))
    return readings


SPLIT_16 = [Circuit(MAIN, DESTS, CounterSpec(wh_per_count=1, bits=16))]


def test_totals_never_go_backwards() -> None:
    ledger = HeatLedger(SPLIT_16, max_gap_s=60)
    previous = ledger.totals()
    for t, readings in scripted_day(1):
        ledger.record(t, readings)
        now = ledger.totals()
        for destination in DESTS:
            assert now.by_destination_wh[destination] >= previous.by_destination_wh[destination]
        assert now.captured_wh >= previous.captured_wh
        assert now.unknown_s >= previous.unknown_s
        previous = now
    assert previous.wraps > 0
    assert previous.unattributed_wh > 0  # the 200 s gaps: counted by the meter, split unknown
    assert previous.reused_wh > 0


def test_restore_mid_accumulation_neither_loses_nor_double_counts() -> None:
    day = scripted_day(2)
    straight = HeatLedger(SPLIT_16, max_gap_s=60)
    for t, readings in day:
        straight.record(t, readings)

    restarted = HeatLedger(SPLIT_16, max_gap_s=60)
    for t, readings in day[:150]:
        restarted.record(t, readings)
    saved = json.loads(json.dumps(restarted.to_dict()))  # what Home Assistant stores
    restarted = HeatLedger.from_dict(SPLIT_16, 60, saved)
    for t, readings in day[150:]:
        restarted.record(t, readings)

    a, b = restarted.totals(), straight.totals()
    for destination in DESTS:
        assert a.by_destination_wh[destination] == pytest.approx(b.by_destination_wh[destination])
    assert (a.unattributed_wh, a.unknown_s, a.gap_count) == pytest.approx(
        (b.unattributed_wh, b.unknown_s, b.gap_count)
    )


def test_restore_from_an_older_save_counts_the_downtime_once_by_the_counter() -> None:
    # Home Assistant saved the state at t = 100 s, kept running to 200 s, then crashed, and came
    # back at 1000 s. The counter covers 100..1000 s exactly once.
    ledger = HeatLedger(METERED, max_gap_s=60)
    for i in range(11):
        ledger.record(10.0 * i, {MAIN: CircuitReading(power_w=3_600.0, counter=10 * i)})
    saved = json.loads(json.dumps(ledger.to_dict()))
    for i in range(11, 21):
        ledger.record(10.0 * i, {MAIN: CircuitReading(power_w=3_600.0, counter=10 * i)})
    assert ledger.totals().rejected_wh == 200.0  # what was shown before the crash

    restored = HeatLedger.from_dict(METERED, 60, saved)
    assert restored.totals().rejected_wh == 100.0
    restored.record(1_000.0, {MAIN: CircuitReading(power_w=3_600.0, counter=1_000)})
    assert restored.totals().rejected_wh == 1_000.0


def test_restore_without_a_meter_reports_the_downtime_as_unknown() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0)})
    restored = HeatLedger.from_dict(LOOP_ONLY, 60, json.loads(json.dumps(ledger.to_dict())))
    restored.record(20.0, {MAIN: CircuitReading(power_w=3_600.0)})  # quick restart: resumes
    restored.record(400.0, {MAIN: CircuitReading(power_w=3_600.0)})  # long one: unknown
    totals = restored.totals()
    assert totals.rejected_wh == pytest.approx(20.0)
    assert (totals.unknown_s, totals.gap_count) == (380.0, 1)


def test_restore_keeps_totals_of_a_removed_destination_and_starts_new_ones() -> None:
    ledger = HeatLedger([Circuit(MAIN, DESTS)], max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, shares=valves(0, 100))})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0, shares=valves(0, 100))})
    circuits = [Circuit(MAIN, ("stockroom", "tenant_b", REJECT))]
    restored = HeatLedger.from_dict(circuits, 60, ledger.to_dict())
    by = restored.totals().by_destination_wh
    assert by["tenant_a"] == pytest.approx(10.0)
    assert by["tenant_b"] == 0.0
    # The saved shares named tenant_a, which this circuit no longer feeds: the next interval's
    # split is unknown, so its energy is unattributed rather than guessed.
    restored.record(
        20.0,
        {MAIN: CircuitReading(power_w=3_600.0, shares=shares_by_valves({"tenant_b": 100}))},
    )
    assert restored.totals().unattributed_wh == pytest.approx(10.0)


def test_power_of_a_circuit_with_no_known_split_counts_as_reject() -> None:
    """Restored after its valves were reconfigured, a circuit's split is unknown until its next
    reading: its power is recovered heat but claimed by no destination (ledger docstring)."""
    ledger = HeatLedger([Circuit(MAIN, DESTS)], max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_000.0, shares=valves(0, 100))})
    circuits = [Circuit(MAIN, ("stockroom", "tenant_b", REJECT))]
    restored = HeatLedger.from_dict(circuits, 60, json.loads(json.dumps(ledger.to_dict())))
    assert restored.power_by_destination_w() == {
        "stockroom": 0.0,
        "tenant_a": 0.0,  # a removed destination keeps its totals, not a share of power now
        "tenant_b": 0.0,
        REJECT: 3_000.0,
    }
    restored.record(
        10.0,
        {MAIN: CircuitReading(power_w=2_000.0, shares=shares_by_valves({"tenant_b": 100}))},
    )
    assert restored.power_by_destination_w()["tenant_b"] == 2_000.0
    assert restored.power_by_destination_w()[REJECT] == 0.0


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"version": 99}, "version"),
        ({"version": 1}, "by_destination_wh"),
        ({"version": 1, "by_destination_wh": {"reject": -1.0}}, ">= 0"),
        ({"version": 1, "by_destination_wh": {"reject": "x"}}, "number"),
        (
            {"version": 1, "by_destination_wh": {}, "circuits": {MAIN: {"total_wh": -3}}},
            "total_wh",
        ),
    ],
)
def test_unusable_state_is_refused(data: dict[str, Any], match: str) -> None:
    with pytest.raises(LedgerStateError, match=match):
        HeatLedger.from_dict(LOOP_ONLY, 60, data)


def test_bad_readings_are_refused_and_change_nothing() -> None:
    ledger = HeatLedger(SPLIT, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=1_000.0, counter=0, shares=valves(50, 50))})
    before = ledger.to_dict()
    bad = [
        ({MAIN: CircuitReading(power_w=1_000.0, counter=5)}, "needs shares"),
        ({MAIN: CircuitReading(power_w=1.0, shares={"stockroom": 0.5, REJECT: 0.4})}, "sum to 1"),
        ({MAIN: CircuitReading(power_w=1.0, shares={"garage": 1.0})}, "garage"),
        ({MAIN: CircuitReading(power_w=float("nan"), shares=valves(1, 1))}, "power_w"),
        ({MAIN: CircuitReading(counter=-1, shares=valves(1, 1))}, "counter value"),
        ({"other": CircuitReading(power_w=1.0)}, "unknown circuit 'other'"),
    ]
    for readings, match in bad:
        with pytest.raises(HeatDomainError, match=match):
            ledger.record(10.0, readings)
        assert ledger.to_dict() == before


@pytest.mark.parametrize(
    ("circuits", "match"),
    [
        ([Circuit("a", ("x",)), Circuit("a", ("y",))], "unique"),
        ([Circuit("a", ("x",)), Circuit("b", ("x",))], "one circuit"),
    ],
)
def test_bad_circuits_are_refused(circuits: list[Circuit], match: str) -> None:
    with pytest.raises(HeatDomainError, match=match):
        HeatLedger(circuits, max_gap_s=60)
    with pytest.raises(HeatDomainError, match="destination"):
        Circuit("c", ())


def test_a_channel_alone_totals_it_energy_from_a_wrapping_pdu_counter() -> None:
    # The IT energy sensor: a PDU's 32-bit Wh counter, with its power as the fallback.
    spec = CounterSpec(wh_per_count=1, bits=32, max_power_w=50_000)
    it = EnergyChannel(max_gap_s=60, counter=spec)
    it.advance(0.0, 7_200.0, 2**32 - 10)
    it.advance(10.0, 7_200.0, 10)  # wrapped: 20 Wh
    restored = EnergyChannel.from_dict(60, spec, json.loads(json.dumps(it.to_dict())))
    restored.advance(20.0, 7_200.0, 30)
    assert restored.total_wh == 40.0
    assert restored.computed_wh == pytest.approx(40.0)
    assert restored.wraps == 1


def test_each_circuit_reports_its_own_cross_check() -> None:
    ledger = HeatLedger(METERED, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, counter=0)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0, counter=10)})
    assert ledger.channel(MAIN).computed_wh == pytest.approx(10.0)
    with pytest.raises(HeatDomainError, match="unknown circuit"):
        ledger.channel("nope")


def test_a_repeated_timestamp_is_neither_energy_nor_a_gap() -> None:
    ledger = HeatLedger(LOOP_ONLY, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0)})
    ledger.record(20.0, {MAIN: CircuitReading(power_w=3_600.0)})
    totals = ledger.totals()
    assert totals.rejected_wh == pytest.approx(20.0)
    assert (totals.gap_count, totals.unknown_s) == (0, 0.0)


def test_power_now_per_destination() -> None:
    circuits = [
        Circuit("tenant_a_branch", ("tenant_a",)),
        Circuit(MAIN, ("stockroom", REJECT)),
    ]
    ledger = HeatLedger(circuits, max_gap_s=60)
    ledger.record(
        0.0,
        {
            "tenant_a_branch": CircuitReading(power_w=2_000.0),
            MAIN: CircuitReading(power_w=-5.0, shares=shares_by_valves({"stockroom": 0})),
        },
    )
    assert ledger.power_by_destination_w() == {"tenant_a": 2_000.0, "stockroom": 0.0, REJECT: 0.0}
    ledger.record(
        10.0,
        {MAIN: CircuitReading(power_w=4_000.0, shares=shares_by_valves({"stockroom": 100}))},
    )
    assert ledger.power_by_destination_w() == {
        "tenant_a": 2_000.0,
        "stockroom": 4_000.0,
        REJECT: 0.0,
    }


def test_a_meter_replaced_while_home_assistant_was_down() -> None:
    circuits = [Circuit(MAIN, (REJECT,), CounterSpec(wh_per_count=1, bits=32))]
    ledger = HeatLedger(circuits, max_gap_s=60)
    ledger.record(0.0, {MAIN: CircuitReading(power_w=3_600.0, counter=1_000_000)})
    ledger.record(10.0, {MAIN: CircuitReading(power_w=3_600.0, counter=1_000_010)})
    restored = HeatLedger.from_dict(circuits, 60, json.loads(json.dumps(ledger.to_dict())))
    # Back after an hour with a new meter reading 40: the hour cannot be known, and is reported;
    # nothing is subtracted and the old meter's 1 000 010 is not counted again.
    restored.record(3_610.0, {MAIN: CircuitReading(power_w=3_600.0, counter=40)})
    restored.record(3_620.0, {MAIN: CircuitReading(power_w=3_600.0, counter=50)})
    totals = restored.totals()
    assert totals.rejected_wh == 20.0
    assert (totals.unknown_s, totals.gap_count, totals.replacements) == (3_600.0, 1, 1)

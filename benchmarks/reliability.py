"""Reliability figures: faults survived, restarts and kWh error, fuzz escapes, a soak.

Runs, against real simulator processes over 127.0.0.1:

* the full fault matrix (tests/ha/test_fault_matrix.py with MICRODC_FAULT_MATRIX_FULL=1):
  every simulator fault on every device it applies to; a case survived is a case passed;
* the restart property test with many examples (restarts, reloads, counter wraps, a replaced
  heat meter over simulated days); the worst error of the heat and IT totals against the
  simulator's ground truth, in % of the day's energy;
* fuzzing: a million random register decodes (every data type, word order, scale, sentinel,
  range) with encode round trips, in this process; random and hostile profile YAML; the
  Hypothesis fuzz tests (codec, profile loader, garbage Modbus frames, malformed BACnet
  replies, every field of the site, options, device and heat destination forms) with more
  examples.
  An escape is an exception other than the documented ones (decode: none; the loader:
  ProfileValidationError; the transports: ModbusError, BacnetError; the forms: a
  translated error or Home Assistant's own refusal);
* a soak: a simulated week of the demo site with random faults and restarts
  (tests/ha/test_soak.py): memory and open sockets before and after, tasks and timers.

Bounded: each part has a time limit; the whole run takes about 12 minutes on 2 cores.
Usage: ``scripts/run python benchmarks/reliability.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import random
import re
import subprocess
import sys
import tempfile
import time
from types import MappingProxyType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from custom_components.microdc.lib.devices.modbus_codec import (  # noqa: E402
    decode_registers,
    encode,
)
from custom_components.microdc.lib.points import ValueKind  # noqa: E402
from custom_components.microdc.lib.profile import (  # noqa: E402
    DataType,
    ProfileValidationError,
    RegisterPoint,
    WordOrder,
    load_profile_file,
)
from custom_components.microdc.lib.protocols.modbus import Table  # noqa: E402

LABELS = MappingProxyType({0: "off", 1: "on", 7: "fault"})
FORMS = 6  # the fuzz tests of tests/ha/test_fuzz_flows.py


def pytest(args: list[str], env: dict[str, str], limit_s: float) -> tuple[int, int, float]:
    """Run pytest; return (passed, failed + errors, seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=limit_s,
        check=False,
    )
    tail = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    if failed:
        print(result.stdout[-4000:])
    return passed, failed, time.monotonic() - started


def fault_matrix() -> tuple[int, int]:
    passed, failed, seconds = pytest(
        ["tests/ha/test_fault_matrix.py"], {"MICRODC_FAULT_MATRIX_FULL": "1"}, 420
    )
    print(f"fault matrix: {passed} of {passed + failed} cases survived ({seconds:.0f} s)")
    return passed, passed + failed


def restarts(examples: int, day_s: float) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "restarts.jsonl"
        env = {
            "MICRODC_RESTART_EXAMPLES": str(examples),
            "MICRODC_RESTART_DAY_S": str(day_s),
            "MICRODC_RESTART_REPORT": str(report),
        }
        _passed, failed, seconds = pytest(["tests/ha/test_restart_property.py"], env, 420)
        results = (
            [json.loads(line) for line in report.read_text().splitlines()]
            if report.exists()
            else []
        )
    count = int(sum(r["restarts"] for r in results))
    worst = max((max(r["heat_error_pct"], r["it_error_pct"]) for r in results), default=math.nan)
    worst_wh = max(
        (max(abs(r["heat_error_wh"]), abs(r["it_error_wh"])) for r in results), default=math.nan
    )
    # Each meter change (a replaced meter, a counter that jumped) starts a new count whose
    # fraction of a count is unknown: the heat error's bound is one count per counted span.
    heat = max(results, key=lambda r: abs(r["heat_error_wh"]), default=None)
    spans = ""
    if heat is not None:
        counted = 1 + heat["meter_changes"]
        spans = (
            f"; worst heat {heat['heat_error_wh']:+.1f} Wh over {counted} counted span(s), "
            f"bound {10 * counted} Wh"
        )
    print(
        f"restarts: {len(results)} simulated days of {day_s / 3600:g} h, {count} restarts and "
        f"reloads, worst error {worst:.4f} % of a day's energy, {worst_wh:.1f} Wh (heat and IT "
        f"against ground truth; the heat meter counts 10 Wh){spans}; "
        f"{'all passed' if not failed else 'FAILED'} ({seconds:.0f} s)"
    )
    return count, worst if not failed else math.inf


def _random_point(rng: random.Random) -> RegisterPoint:
    data_type = rng.choice(list(DataType))
    numeric = data_type not in (DataType.ENUM, DataType.BITFIELD, DataType.BOOL)
    low = rng.choice([None, rng.uniform(-1e6, 1e6)]) if numeric else None
    return RegisterPoint(
        key="fuzz",
        table=Table.HOLDING,
        address=0,
        data_type=data_type,
        word_order=rng.choice(list(WordOrder)),
        scale=rng.choice([1.0, 0.1, 0.01, 10.0, -0.5]) if numeric else 1.0,
        offset=rng.choice([0.0, -40.0]) if numeric else 0.0,
        nan=frozenset(rng.sample([0, 0xFFFF, 0x7FFF, 0xFFFFFFFF], rng.randint(0, 2))),
        min=low,
        max=None if low is None else low + rng.uniform(0, 1e6),
        labels=LABELS if data_type in (DataType.ENUM, DataType.BITFIELD) else MappingProxyType({}),
    )


def fuzz_decode(cases: int) -> tuple[int, int]:
    """Random words into decode_registers and back through encode; returns (cases, escapes)."""
    rng = random.Random(15)
    points = [_random_point(rng) for _ in range(500)]
    escapes = 0
    for index in range(cases):
        point = points[index % len(points)]
        words = [rng.getrandbits(16) for _ in range(point.count)]
        try:
            value = decode_registers(point, words)
            if value is not None and point.kind is not ValueKind.FLAGS:
                try:
                    written = encode(point, value)
                except ValueError:
                    continue  # documented: a value the register cannot hold
                decode_registers(point, written)
        except Exception:
            escapes += 1
    return cases, escapes


def fuzz_profiles(cases: int) -> tuple[int, int]:
    rng = random.Random(15)
    escapes = 0
    pieces = [
        "points:",
        " p:",
        "  table: holding",
        "  data_type: u16",
        "[",
        "]",
        "{",
        "}",
        "&a x",
        "*a",
        "- ",
        ": ",
        "'",
        '"',
        "\t",
        "!!binary",
        "0x",
        "1e999",
        "\n",
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        for _ in range(cases):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
            path.write_text(text, encoding="utf-8")
            try:
                load_profile_file(path)
            except ProfileValidationError:
                pass
            except Exception:
                escapes += 1
    return cases, escapes


def fuzz(decode_cases: int) -> tuple[int, int]:
    started = time.monotonic()
    decoded, decode_escapes = fuzz_decode(decode_cases)
    profiles, profile_escapes = fuzz_profiles(decode_cases // 100)
    examples, frames, replies, forms = 400, 150, 200, 100
    _passed, failed, _ = pytest(
        [
            "tests/lib/test_fuzz_codec.py",
            "tests/lib/test_fuzz_profile.py",
            "tests/lib/protocols/test_fuzz_modbus_frames.py",
            "tests/lib/protocols/test_fuzz_bacnet_replies.py",
            "tests/ha/test_fuzz_flows.py",
        ],
        {
            "MICRODC_FUZZ_EXAMPLES": str(examples),
            "MICRODC_FUZZ_FRAME_EXAMPLES": str(frames),
            "MICRODC_FUZZ_BACNET_EXAMPLES": str(replies),
            "MICRODC_FUZZ_FLOW_EXAMPLES": str(forms),
        },
        600,
    )
    # Examples per fuzz test: codec 4, loader 3 (and 8 fixed files), Modbus frames, BACnet
    # replies, the six forms (site, options, Modbus device, BACnet device, heat destination
    # added and reconfigured).
    hypothesis_cases = 4 * examples + 3 * examples + 8 + frames + replies + FORMS * forms
    total = decoded + profiles + hypothesis_cases
    escapes = decode_escapes + profile_escapes + failed
    print(
        f"fuzz: {decoded} decodes and round trips ({decode_escapes} escapes), {profiles} "
        f"random profile files ({profile_escapes}), ~{hypothesis_cases} Hypothesis cases over "
        f"codec, loader, Modbus frames, {replies} BACnet replies and {FORMS * forms} form "
        f"submissions ({failed} failing tests); {time.monotonic() - started:.0f} s"
    )
    return total, escapes


def soak(days: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "soak.json"
        env = {"MICRODC_SOAK_DAYS": str(days), "MICRODC_SOAK_REPORT": str(report)}
        _passed, failed, seconds = pytest(["tests/ha/test_soak.py"], env, 480)
        data = json.loads(report.read_text()) if report.exists() else {}
    if not data:
        print("soak: no report (the soak failed)")
        return {"memory": math.nan, "sockets": math.nan}
    before, middle, after = data["before"], data.get("middle"), data["after"]
    halfway = "" if middle is None else f" -> {middle['rss_mib']:.1f} (halfway)"
    objects = (
        f"{before.get('objects')}"
        + ("" if middle is None else f" -> {middle.get('objects')}")
        + f" -> {after.get('objects')}"
    )
    print(
        f"soak: {days:g} simulated days, {data['faults']} faults, {data['restarts']} restarts "
        f"({seconds:.0f} s): memory {before['rss_mib']:.1f}{halfway} -> "
        f"{after['rss_mib']:.1f} MiB ({data.get('log_records', 0)} log records, judged a day at a "
        f"time), tracked objects {objects}, "
        f"sockets {before['sockets']} -> {after['sockets']}, fds {before['fds']} -> "
        f"{after['fds']}, asyncio tasks {before['tasks']} -> {after['tasks']}, live loop timers "
        f"(bacpypes3's included) {before['timers']} -> {after['timers']} (cancelled, not yet "
        f"due: {before.get('cancelled_timers')} -> {after.get('cancelled_timers')}); "
        f"{'passed' if not failed else 'FAILED'}"
    )
    return {
        "memory": after["rss_mib"] - before["rss_mib"],
        "sockets": after["sockets"] - before["sockets"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller figures (a minute or two)")
    args = parser.parse_args()
    survived, injected = fault_matrix()
    count, worst = restarts(2 if args.quick else 5, 4 * 3600 if args.quick else 8 * 3600)
    cases, escapes = fuzz(100_000 if args.quick else 1_000_000)
    leaks = soak(1.0 if args.quick else 7.0)
    print(
        f"faults survived: {survived}/{injected}; restarts: {count}, worst kWh error: "
        f"{worst:.3f} %; fuzz: {cases} cases, {escapes} escapes; soak: memory "
        f"{leaks['memory']:+.1f} MiB, sockets {leaks['sockets']:+d}"
        if isinstance(leaks["sockets"], int)
        else f"faults survived: {survived}/{injected}; restarts: {count}, worst kWh error: "
        f"{worst:.3f} %; fuzz: {cases} cases, {escapes} escapes; soak: memory nan MiB, sockets nan"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

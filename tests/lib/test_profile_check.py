"""The profile check command on good and bad files, run as users run it (python -m)."""

from __future__ import annotations

import io
from pathlib import Path
import subprocess
import sys

from custom_components.microdc.lib.profile import BUILTIN_PROFILES_DIR
from custom_components.microdc.profile_check import main
from tests.simulator_process import REPO_ROOT

GOOD = """\
manufacturer: Acme
model: Valve 1
protocol: modbus
points:
  setpoint: {table: holding, address: 0, data_type: u16, scale: 0.01, unit: "%",
             role: valve_position, writable: true, min: 0, max: 100}
  position: {table: holding, address: 4, data_type: u16, scale: 0.01, unit: "%",
             role: valve_feedback}
  energy: {table: holding, address: 71, data_type: u32, unit: kWh, role: heat_meter_energy}
"""
BAD = """\
manufacturer: Acme
model: Valve 1
protocol: modbus
points:
  position: {table: input, address: 4, data_type: u16, writable: true}
  mode: {table: holding, address: 5, data_type: enum}
"""


def _run(*files: Path) -> tuple[int, str]:
    out = io.StringIO()
    return main([str(f) for f in files], out), out.getvalue()


def test_good_file_prints_its_reads(tmp_path: Path) -> None:
    path = tmp_path / "acme_valve.yaml"
    path.write_text(GOOD, encoding="utf-8")
    status, text = _run(path)
    assert status == 0
    assert text.splitlines() == [
        "acme_valve.yaml: ok: Acme Valve 1, 3 points in 2 reads",
        "  read holding 0..4 (5 registers): setpoint, position",
        "  read holding 71..72 (2 registers): energy",
        "  writable: setpoint",
    ]


def test_bad_file_prints_the_repair_issues_errors_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "acme_valve.yaml"
    path.write_text(BAD, encoding="utf-8")
    good = tmp_path / "acme_other.yaml"
    good.write_text(GOOD, encoding="utf-8")
    status, text = _run(path, good)
    assert status == 1
    lines = text.splitlines()
    assert lines[0] == "acme_valve.yaml: not loaded:"
    assert set(lines[1:3]) == {
        "- acme_valve.yaml: points.position.writable: only holding registers and coils can be"
        " written, not input",
        "- acme_valve.yaml: points.mode.labels: required for enum",
    }
    # The good file after it is still checked.
    assert lines[3].startswith("acme_other.yaml: ok:")


def test_missing_file_bad_yaml_and_usage(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("points: [", encoding="utf-8")
    status, text = _run(tmp_path / "absent.yaml", broken)
    assert status == 1
    assert "- absent.yaml: no such file" in text
    assert "- broken.yaml: invalid YAML" in text
    assert main([], io.StringIO()) == 2


def test_user_copy_of_a_builtin_profile_is_noted(tmp_path: Path) -> None:
    copy = tmp_path / "eastron_sdm630.yaml"
    copy.write_text(
        (BUILTIN_PROFILES_DIR / "eastron_sdm630.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    status, text = _run(copy, BUILTIN_PROFILES_DIR / "eastron_sdm630.yaml")
    assert status == 0
    assert text.count("replaces the built-in profile 'eastron_sdm630'") == 1


def test_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "acme_valve.yaml"
    path.write_text(BAD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "custom_components.microdc.profile_check", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "points.mode.labels: required for enum" in done.stdout

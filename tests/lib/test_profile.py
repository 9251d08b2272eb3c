"""Profile schema and loader: every error names the file, the point and the field.

These run with Home Assistant imported (tests/conftest.py imports the integration), so
`voluptuous` is probatio here, exactly as inside Home Assistant.
"""

from pathlib import Path
import textwrap

import pytest
import voluptuous

from custom_components.microdc.lib.points import Role
from custom_components.microdc.lib.profile import (
    BUILTIN_PROFILES_DIR,
    DataType,
    ProfileError,
    ProfileValidationError,
    Table,
    WordOrder,
    load_profile_file,
    load_profiles,
    parse_profile,
    parse_yaml,
)

GOOD = """
manufacturer: Acme
model: PDU 1
protocol: modbus
firmware_point: firmware
points:
  active_power:
    table: holding
    address: 0
    data_type: u32
    word_order: little
    scale: 0.1
    unit: W
    role: it_power
    device_class: power
    state_class: measurement
    nan: [0xFFFFFFFF]
    min: 0
    max: 50000
  state:
    table: input
    address: 10
    data_type: enum
    labels: {0: off, 1: on}
  firmware:
    table: input
    address: 11
    data_type: u16
    entity_category: diagnostic
    enabled_by_default: false
  breaker_closed:
    table: discrete_input
    address: 3
    data_type: bool
"""


def _errors(text: str, profile_id: str = "acme_pdu") -> list[ProfileError]:
    with pytest.raises(ProfileValidationError) as caught:
        parse_profile(profile_id, parse_yaml(textwrap.dedent(text)))
    return caught.value.errors


def test_voluptuous_is_home_assistants_probatio() -> None:
    """The error messages below are the ones users see inside Home Assistant."""
    assert voluptuous.__name__.startswith("probatio")


def test_good_profile_builds_typed_points() -> None:
    profile = parse_profile("acme_pdu", parse_yaml(GOOD))
    assert (profile.manufacturer, profile.model, profile.firmware_point) == (
        "Acme",
        "PDU 1",
        "firmware",
    )
    power = profile.points["active_power"]
    assert power.table is Table.HOLDING
    assert power.data_type is DataType.U32
    assert power.word_order is WordOrder.LITTLE
    assert (power.scale, power.offset, power.count, power.end) == (0.1, 0, 2, 2)
    assert power.nan == frozenset({0xFFFFFFFF})
    assert (power.min, power.max, power.role, power.unit) == (0, 50000, "it_power", "W")
    # YAML 1.1 would read off/on as booleans; profiles read them as state keys.
    assert dict(profile.points["state"].labels) == {0: "off", 1: "on"}
    assert profile.points["firmware"].enabled_by_default is False
    assert profile.points["breaker_closed"].count == 1


def test_field_errors_name_point_and_field() -> None:
    errors = _errors(
        """
        manufacturer: Acme
        model: PDU 1
        protocol: modbus
        points:
          power:
            table: holding
            address: 70000
            data_type: u99
            colour: red
          ok:
            table: holding
            address: 5
            data_type: u16
          flag:
            table: holding
            address: 6
            data_type: u16
            enabled_by_default: yes
        """
    )
    by_field = {(e.point, e.field): e.message for e in errors}
    assert by_field == {
        ("power", "address"): "expected an integer from 0 to 65535, got 70000",
        ("power", "data_type"): (
            "expected one of u16, s16, u32, s32, u64, f32, f64, bool, bitfield, enum, got 'u99'"
        ),
        ("power", "colour"): "unknown field",
        ("flag", "enabled_by_default"): "expected true or false, got 'yes'",
    }
    assert {e.file for e in errors} == {"acme_pdu.yaml"}
    rendered = sorted(str(e) for e in errors)
    expected = "acme_pdu.yaml: points.power.address: expected an integer from 0 to 65535, got 70000"
    assert expected in rendered


def test_top_level_errors() -> None:
    errors = _errors(
        """
        manufacturer: ""
        protocol: bacnet
        firmware_point: nowhere
        points: {}
        """
    )
    by_field = {e.field: e.message for e in errors}
    assert by_field["manufacturer"] == "expected a non-empty string"
    assert by_field["protocol"] == "expected one of modbus, got 'bacnet'"
    assert by_field["model"] == "required key not provided"
    assert by_field["points"] == "no points"
    assert by_field["firmware_point"] == "no point named 'nowhere'"
    assert all(e.point is None for e in errors)


@pytest.mark.parametrize(
    ("point", "field", "message"),
    [
        ("{table: coil, address: 0, data_type: u16}", "data_type", "a coil point must be bool"),
        ("{table: holding, address: 65535, data_type: u32}", "address", "runs past address"),
        ("{table: holding, address: 0, data_type: enum}", "labels", "required for enum"),
        (
            "{table: holding, address: 0, data_type: bitfield, labels: {16: x}}",
            "labels",
            "bit numbers run from 0 to 15",
        ),
        (
            "{table: holding, address: 0, data_type: u16, labels: {1: x}}",
            "labels",
            "only enum and bitfield",
        ),
        ("{table: holding, address: 0, data_type: u16, min: 5, max: 1}", "min", "above max"),
        ("{table: holding, address: 0, data_type: u16, scale: 0}", "scale", "must not be 0"),
        ("{table: holding, address: true, data_type: u16}", "address", "expected an integer"),
        ("{table: holding, address: 0, data_type: u16, scale: x}", "scale", "expected a number"),
        ("{table: holding, address: 0, data_type: u16, role: warp}", "role", "expected one of"),
        (
            "{table: holding, address: 0, data_type: enum, labels: {0: 'Not Snake'}}",
            "labels",
            "expected a snake_case key",
        ),
        ("{address: 0, data_type: u16}", "table", "required key not provided"),
        ("{table: holding, address: 0, data_type: u16, nan: [x]}", "nan", "expected a number"),
        # Numbers the entities rely on: a counter counts up, a power limit is above zero.
        (
            "{table: holding, address: 0, data_type: u32, role: it_energy, unit: Wh, scale: -1}",
            "scale",
            "an energy counter's scale must be positive",
        ),
        (
            "{table: holding, address: 0, data_type: u32, role: heat_meter_energy, scale: -0.1}",
            "scale",
            "an energy counter's scale must be positive",
        ),
        (
            "{table: holding, address: 0, data_type: u16, role: it_power, unit: W, max: 0}",
            "max",
            "a power point's max must be above 0",
        ),
        (
            "{table: holding, address: 0, data_type: s16, role: heat_meter_power, max: -5}",
            "max",
            "a power point's max must be above 0",
        ),
        # Writes go to holding registers and coils only; translation keys are snake_case.
        (
            "{table: input, address: 0, data_type: u16, writable: true}",
            "writable",
            "only holding registers and coils can be written, not input",
        ),
        (
            "{table: discrete_input, address: 0, data_type: bool, writable: true}",
            "writable",
            "only holding registers and coils can be written",
        ),
        ("{table: holding, address: 0, data_type: u16, writable: 1}", "writable", "true or false"),
        (
            "{table: holding, address: 0, data_type: u16, translation_key: Battery Volts}",
            "translation_key",
            "expected a snake_case key",
        ),
    ],
)
def test_point_rules(point: str, field: str, message: str) -> None:
    errors = _errors(
        f"""
        manufacturer: Acme
        model: M
        protocol: modbus
        points:
          bad: {point}
        """
    )
    assert [(e.point, e.field) for e in errors] == [("bad", field)]
    assert message in errors[0].message


def test_point_key_and_profile_id_must_be_snake_case() -> None:
    errors = _errors(
        """
        manufacturer: Acme
        model: M
        protocol: modbus
        points:
          Bad-Key: {table: holding, address: 0, data_type: u16}
        """,
        profile_id="Acme PDU",
    )
    assert [(e.point, e.field) for e in errors] == [(None, None), ("Bad-Key", None)]


def test_not_a_mapping() -> None:
    assert [e.message for e in _errors("- a list")] == ["expected a mapping at the top level"]


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def test_one_bad_file_never_stops_the_rest(tmp_path: Path) -> None:
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    _write(builtin, "acme_pdu.yaml", GOOD)
    _write(builtin, "broken_yaml.yaml", "points: [unclosed\n")
    _write(user, "bad_point.yaml", GOOD.replace("data_type: u32", "data_type: u33"))
    _write(user, "own_meter.yaml", GOOD.replace("PDU 1", "Meter 2"))
    _write(user, "notes.txt", "not a profile")

    result = load_profiles(builtin, user, tmp_path / "missing")

    assert sorted(result.profiles) == ["acme_pdu", "own_meter"]
    assert result.profiles["own_meter"].model == "Meter 2"
    assert [(e.file, e.point, e.field) for e in result.errors] == [
        ("broken_yaml.yaml", None, None),
        ("bad_point.yaml", "active_power", "data_type"),
    ]
    assert result.errors[0].message.startswith("invalid YAML")


def test_user_profile_replaces_builtin_of_same_id(tmp_path: Path) -> None:
    _write(tmp_path / "a", "acme_pdu.yaml", GOOD)
    _write(tmp_path / "b", "acme_pdu.yaml", GOOD.replace("PDU 1", "PDU 1 corrected"))
    result = load_profiles(tmp_path / "a", tmp_path / "b")
    assert result.profiles["acme_pdu"].model == "PDU 1 corrected"
    assert result.profiles["acme_pdu"].source == "acme_pdu.yaml"


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(b"model: \xff\xfe")
    with pytest.raises(ProfileValidationError) as caught:
        load_profile_file(tmp_path / "latin.yaml")
    assert caught.value.errors[0].message.startswith("cannot read")


def test_every_builtin_profile_loads() -> None:
    result = load_profiles(BUILTIN_PROFILES_DIR)
    if not result.profiles and not result.errors:
        pytest.skip("the built-in profiles are not in the tree yet")
    assert result.errors == []
    assert set(result.profiles) >= {
        "demo_rack_pdu",
        "demo_ups",
        "demo_environment",
        "demo_heat_meter",
    }
    # Each names its kind of device, the short name the device flow proposes.
    assert {
        pid: p.proposed_name for pid, p in result.profiles.items() if pid.startswith("demo")
    } == {
        "demo_rack_pdu": "Rack PDU",
        "demo_ups": "UPS",
        "demo_environment": "Environment sensor",
        "demo_heat_meter": "Heat meter",
        "demo_valve_feedback": "Valve feedback",
    }
    assert all(p.device_kind for p in result.profiles.values())


def test_without_a_device_kind_the_model_is_proposed() -> None:
    point = {"table": "holding", "address": 0, "data_type": "u16"}
    data = {"manufacturer": "Acme", "model": "PX-9", "protocol": "modbus", "points": {"p": point}}
    assert parse_profile("acme", data).proposed_name == "PX-9"
    assert parse_profile("acme", {**data, "device_kind": "PDU"}).proposed_name == "PDU"


def test_writable_points_and_translation_keys_build() -> None:
    profile = parse_profile(
        "acme_valve",
        parse_yaml(
            textwrap.dedent(
                """
                manufacturer: Acme
                model: V
                protocol: modbus
                points:
                  setpoint:
                    {table: holding, address: 0, data_type: u16, role: valve_position,
                     writable: true, min: 0, max: 100}
                  relay: {table: coil, address: 0, data_type: bool, writable: true}
                  position: {table: input, address: 4, data_type: u16, role: valve_feedback}
                  mode:
                    {table: input, address: 5, data_type: enum, labels: {0: auto, 1: manual},
                     translation_key: valve_mode}
                """
            )
        ),
    )
    points = profile.points
    assert (points["setpoint"].writable, points["setpoint"].min, points["setpoint"].max) == (
        True,
        0,
        100,
    )
    assert points["relay"].writable is True
    assert points["position"].writable is False
    assert points["position"].role == "valve_feedback"
    assert points["mode"].translation_key == "valve_mode"
    assert points["position"].translation_key is None


def test_a_profile_takes_every_role_of_the_role_enum() -> None:
    """Profiles and the rest of microdc share one vocabulary: lib/points.py's Role."""
    for role in Role:
        data = parse_yaml(GOOD)
        data["points"]["active_power"]["role"] = role.value
        if role in (Role.IT_ENERGY, Role.HEAT_METER_ENERGY):
            data["points"]["active_power"]["unit"] = "Wh"
        assert parse_profile("acme_pdu", data).points["active_power"].role is role

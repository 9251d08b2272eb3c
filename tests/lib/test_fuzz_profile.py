"""Hostile profile files: whatever the file holds, the loader raises ProfileValidationError
naming the file (and the field, for a wrong type), never another exception."""

from __future__ import annotations

import os
from pathlib import Path
import tempfile
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest
import yaml

from custom_components.microdc.lib.profile import (
    BUILTIN_PROFILES_DIR,
    ProfileValidationError,
    load_profile_file,
)

CASES = int(os.environ.get("MICRODC_FUZZ_EXAMPLES", "200"))
GOOD = yaml.safe_load((BUILTIN_PROFILES_DIR / "demo_rack_pdu.yaml").read_text(encoding="utf-8"))
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load(text: str) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        path.write_text(text, encoding="utf-8")
        return load_profile_file(path)


def _refused(text: str) -> ProfileValidationError:
    with pytest.raises(ProfileValidationError) as caught:
        _load(text)
    assert caught.value.errors
    assert all(e.file == "fuzzed.yaml" for e in caught.value.errors)
    return caught.value


@settings(max_examples=CASES, derandomize=True)
@given(text=st.text(max_size=300))
def test_random_text(text: str) -> None:
    _refused(text)  # no text of this size is a whole profile


@settings(max_examples=CASES, derandomize=True)
@given(data=VALUES)
def test_random_structures(data: Any) -> None:
    _refused(yaml.safe_dump(data))


@settings(max_examples=CASES, derandomize=True)
@given(field=st.sampled_from(sorted(GOOD["points"]["active_power"])), value=VALUES)
def test_a_wrong_type_in_a_point_names_the_point_and_field(field: str, value: Any) -> None:
    profile = {**GOOD, "points": {**GOOD["points"]}}
    profile["points"]["active_power"] = {**GOOD["points"]["active_power"], field: value}
    errors = []
    try:
        _load(yaml.safe_dump(profile))
    except ProfileValidationError as err:
        errors = err.errors
    # Some values are right for some fields (a unit is any text); the others name the point.
    assert all(e.file == "fuzzed.yaml" and e.point == "active_power" for e in errors), errors


HOSTILE = {
    "deep lists": "points: " + "[" * 5000 + "]" * 5000,
    "deep mappings": "points: " + "{a: " * 5000 + "1" + "}" * 5000,
    "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    + "points: {p: {table: holding, address: 0, data_type: u16, unit: *i}}\n",
    "huge": "manufacturer: x\nmodel: y\nprotocol: modbus\npoints:\n"
    + "".join(
        f"  p{i}: {{table: holding, address: {i % 60000}, data_type: u16, scale: bad}}\n"
        for i in range(20000)
    ),
    "tag": "points: !!python/object/apply:os.system [echo hi]",
    "binary": "\x00\x01\x02",
    "tabs": "points:\n\tp: 1",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files(name: str) -> None:
    _refused(HOSTILE[name])

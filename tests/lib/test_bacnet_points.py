"""A chosen BACnet object as a point: what it shows, from its type and units."""

from __future__ import annotations

import pytest

from custom_components.microdc.lib.devices.bacnet import object_point
from custom_components.microdc.lib.devices.bacnet_config import ROLE_KINDS, BacnetObjectConfig
from custom_components.microdc.lib.points import Role
from custom_components.microdc.lib.protocols.bacnet import ObjectId


def _object(kind: str, units: str | None) -> BacnetObjectConfig:
    return BacnetObjectConfig(object_id=ObjectId(kind, 1), name="X", units=units)


@pytest.mark.parametrize(
    ("units", "precision"),
    [
        ("degrees-celsius", 1),
        ("cubic-meters-per-hour", 2),  # 1.4 m³/h reads 1.40, not "1"
        ("percent", 0),
        ("kilowatts", 2),
        ("no-units", None),
        ("furlongs-per-fortnight", None),  # a unit microdc does not know: Home Assistant's default
    ],
)
def test_analog_values_show_decimals_their_unit_deserves(units: str, precision: int | None) -> None:
    assert object_point(_object("analog-input", units)).precision == precision


def test_binary_and_multi_state_objects_have_no_precision() -> None:
    assert object_point(_object("binary-input", None)).precision is None
    assert object_point(_object("multi-state-value", None)).precision is None


@pytest.mark.parametrize("role", list(ROLE_KINDS))
def test_every_role_the_flow_offers_is_read_back_as_that_role(role: Role) -> None:
    # The flow stores a role's value in the subentry; the point built from it must carry the
    # Role again, not None.
    stored = BacnetObjectConfig(object_id=ObjectId("analog-value", 1), name="X", role=role.value)
    assert object_point(stored).role is role

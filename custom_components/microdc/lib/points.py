"""The words every part of microdc shares: roles, points, readings and point references.

A role says what a point means to the domain, whatever the protocol that carries it: a Modbus
register, a BACnet object or, later, a Redfish property. Heat accounting and the heat router
find their inputs and outputs by role; the platforms make the same entity for the same role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Role(StrEnum):
    """What a point means to microdc (the values are stored in subentries and profiles)."""

    # The rack
    IT_POWER = "it_power"
    IT_ENERGY = "it_energy"
    IT_VOLTAGE = "it_voltage"
    IT_CURRENT = "it_current"
    INLET_TEMPERATURE = "inlet_temperature"
    EXHAUST_TEMPERATURE = "exhaust_temperature"
    HUMIDITY = "humidity"
    DOOR_OPEN = "door_open"
    # The UPS
    UPS_STATUS = "ups_status"
    UPS_BATTERY_CHARGE = "ups_battery_charge"
    UPS_RUNTIME = "ups_runtime"
    UPS_LOAD = "ups_load"
    UPS_INPUT_VOLTAGE = "ups_input_voltage"
    UPS_OUTPUT_POWER = "ups_output_power"
    # The water loop and its heat meter
    LOOP_SUPPLY_TEMPERATURE = "loop_supply_temperature"
    LOOP_RETURN_TEMPERATURE = "loop_return_temperature"
    LOOP_FLOW = "loop_flow"
    HEAT_METER_ENERGY = "heat_meter_energy"
    HEAT_METER_POWER = "heat_meter_power"
    PUMP_COMMAND = "pump_command"
    # Routing heat: a valve's commanded position, and what the valve says it is at
    VALVE_POSITION = "valve_position"
    VALVE_FEEDBACK = "valve_feedback"
    # The spaces heat goes to, and the weather
    SPACE_TEMPERATURE = "space_temperature"
    OCCUPANCY = "occupancy"
    OUTDOOR_TEMPERATURE = "outdoor_temperature"
    # The device itself
    FIRMWARE_VERSION = "firmware_version"


# Counters are totals that only count up (and wrap); a power point bounds what its counter may
# credibly add between two readings.
COUNTER_ROLES = frozenset({Role.IT_ENERGY, Role.HEAT_METER_ENERGY})
POWER_ROLES = frozenset({Role.IT_POWER, Role.HEAT_METER_POWER})
# Roles that make a device a heat meter that can measure a circuit of the loop.
METER_ROLES = frozenset({Role.HEAT_METER_ENERGY, Role.HEAT_METER_POWER, Role.LOOP_FLOW})
# The role of a valve the site commands to a position (0..100 %): a valve entity, whose number
# entity is then a spare.
POSITIONABLE_VALVE_ROLES = frozenset({Role.VALVE_POSITION})


class ValueKind(StrEnum):
    """The shape of a point's value."""

    NUMBER = "number"  # int or float, in the point's unit
    BOOL = "bool"
    STATE = "state"  # one of the point's options (an enum, a multi-state object)
    FLAGS = "flags"  # the set of the point's options that are on (a bitfield)
    TEXT = "text"


type Value = int | float | bool | str | frozenset[str]


@dataclass(frozen=True, slots=True)
class Counting:
    """How an energy counter counts: what one count is worth and where it wraps."""

    resolution: float  # the point's unit per count (a register's scale)
    bits: int | None  # it wraps at 2**bits counts; None: a float that never wraps


@dataclass(frozen=True, slots=True)
class Point:
    """One readable, and maybe writable, value of a device, whatever its protocol.

    ``name`` is what the device or the engineer calls it (a BACnet object's name); without it
    the entity is named from the translation key, the role or the key, in that order.
    """

    key: str
    kind: ValueKind
    role: Role | None = None
    name: str | None = None
    translation_key: str | None = None
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    entity_category: str | None = None
    enabled_by_default: bool = True
    precision: int | None = None
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    writable: bool = False
    counting: Counting | None = None


def is_positionable_valve(point: Point) -> bool:
    """Whether the point commands a valve's position (writable, a number, its valve role)."""
    return (
        point.kind is ValueKind.NUMBER and point.writable and point.role in POSITIONABLE_VALVE_ROLES
    )


@dataclass(frozen=True, slots=True)
class StatusFlags:
    """What a device says about a value besides the value (BACnet statusFlags)."""

    in_alarm: bool = False
    fault: bool = False
    overridden: bool = False
    out_of_service: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """A point's latest value; None when there is no trustworthy one (and ``error`` says why)."""

    value: Value | None
    flags: StatusFlags | None = None
    error: str | None = None


class PointRef(NamedTuple):
    """A point named across a site: its device (the subentry id) and its key.

    Stored as ``<device>/<key>``, which survives a device's reconfiguration because its
    subentry id does not change.
    """

    device: str
    key: str

    def __str__(self) -> str:
        """The stored form."""
        return f"{self.device}/{self.key}"

    @classmethod
    def parse(cls, text: str) -> PointRef:
        """The reference that ``str()`` wrote; ValueError if the text is not one."""
        device, sep, key = text.partition("/")
        if not sep or not device or not key:
            raise ValueError(f"not a point reference: {text!r}")
        return cls(device, key)

"""What the heat router and the blueprints read and write on the simulator, over real sockets:
valve feedback and occupancy on the BACnet controller (a plain bacpypes3 client), an operator's
override in GET /state, and the control API's spaces and outdoor curve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import math
from typing import Any

from bacpypes3.pdu import Address  # type: ignore[import-untyped]
from bacpypes3.primitivedata import Null, Real  # type: ignore[import-untyped]
import pytest

from tests.simulator.test_bacnet_device import Client, oid, pid
from tests.simulator_process import SimulatorProcess

# Commands (analog-output) and their feedback (analog-input) on the demo controller.
COMMAND = {"stockroom": "analog-output,1", "tenant_a": "analog-output,2"}
FEEDBACK = {
    "stockroom": "analog-input,8",
    "tenant_a": "analog-input,9",
    "tenant_b": "analog-input,10",
    "shared_loop": "analog-input,11",
    "dry_cooler": "analog-input,12",
}
MICRODC_PRIORITY = 12  # the integration's default comfort priority
OPERATOR_PRIORITY = 8  # manual operator (ASHRAE 135 suggests 8 for manual operator)


@pytest.fixture
def sim(simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """A fresh simulator with time held still: these tests write, fault and move time."""
    return simulator_factory(speed=0.0)


@pytest.fixture
async def client(socket_enabled: None) -> AsyncIterator[Client]:
    app = Client()
    yield app
    app.close()


async def _write(
    client: Client, sim: SimulatorProcess, obj: str, value: float | None, priority: int
) -> None:
    await client.write_property(
        Address(f"{sim.host}:{sim.bacnet_port}"),
        oid(obj),
        pid("present-value"),
        Null(()) if value is None else Real(value),
        priority=priority,
    )


async def _read(
    client: Client, sim: SimulatorProcess, obj: str, prop: str = "present-value"
) -> Any:
    return await client.read_property(Address(f"{sim.host}:{sim.bacnet_port}"), oid(obj), pid(prop))


async def test_feedback_points_show_where_each_valve_is(
    sim: SimulatorProcess, client: Client
) -> None:
    # Names, units, and the positions at start: heat goes to the dry cooler.
    names = {valve: await _read(client, sim, obj, "object-name") for valve, obj in FEEDBACK.items()}
    assert names["stockroom"] == "VLV-STOCKROOM-POS"
    assert names["dry_cooler"] == "VLV-DRY-COOLER-POS"
    assert str(await _read(client, sim, FEEDBACK["stockroom"], "units")) == "percent"
    assert await _read(client, sim, FEEDBACK["dry_cooler"]) == 100.0
    assert await _read(client, sim, FEEDBACK["stockroom"]) == 0.0

    # The command is at once 100 %; the valve gets there at its stroke rate (60 s full stroke).
    await _write(client, sim, COMMAND["stockroom"], 100.0, MICRODC_PRIORITY)
    assert await _read(client, sim, COMMAND["stockroom"]) == 100.0
    await sim.async_advance(30)
    assert await _read(client, sim, FEEDBACK["stockroom"]) == pytest.approx(50.0, abs=2.0)
    await sim.async_advance(60)
    assert await _read(client, sim, FEEDBACK["stockroom"]) == pytest.approx(100.0)
    state = await sim.async_state()
    assert state["valves"]["stockroom"]["position_pct"] == pytest.approx(100.0)


async def test_a_stuck_valve_reports_its_true_position(
    sim: SimulatorProcess, client: Client
) -> None:
    await _write(client, sim, COMMAND["tenant_a"], 40.0, MICRODC_PRIORITY)
    await sim.async_advance(120)
    assert await _read(client, sim, FEEDBACK["tenant_a"]) == pytest.approx(40.0)
    await sim.async_inject_fault("valve_stuck", "tenant_a")
    await _write(client, sim, COMMAND["tenant_a"], 100.0, MICRODC_PRIORITY)
    await sim.async_advance(120)
    # The command reads back as written; the feedback tells the truth.
    assert await _read(client, sim, COMMAND["tenant_a"]) == 100.0
    assert await _read(client, sim, FEEDBACK["tenant_a"]) == pytest.approx(40.0)
    valve = (await sim.async_state())["valves"]["tenant_a"]
    assert (valve["command_pct"], valve["stuck"]) == (100.0, True)
    assert valve["position_pct"] == pytest.approx(40.0)
    # Freed, it moves on to its command.
    await sim.async_clear_faults()
    await sim.async_advance(60)
    assert await _read(client, sim, FEEDBACK["tenant_a"]) == pytest.approx(100.0)


async def test_an_operator_override_shows_in_the_priority_array(
    sim: SimulatorProcess, client: Client
) -> None:
    await _write(client, sim, COMMAND["stockroom"], 30.0, MICRODC_PRIORITY)
    await _write(client, sim, COMMAND["stockroom"], 70.0, OPERATOR_PRIORITY)
    bacnet = (await sim.async_state())["valves"]["stockroom"]["bacnet"]
    assert bacnet["priority_array"][MICRODC_PRIORITY - 1] == 30.0
    assert bacnet["priority_array"][OPERATOR_PRIORITY - 1] == 70.0
    assert bacnet["current_command_priority"] == OPERATOR_PRIORITY
    assert bacnet["present_value"] == 70.0
    await sim.async_advance(60)
    state = await sim.async_state()
    assert state["valves"]["stockroom"]["command_pct"] == 70.0
    assert await _read(client, sim, FEEDBACK["stockroom"]) == pytest.approx(70.0)

    # The operator lets go: microdc's priority is in control again, then the default.
    await _write(client, sim, COMMAND["stockroom"], None, OPERATOR_PRIORITY)
    bacnet = (await sim.async_state())["valves"]["stockroom"]["bacnet"]
    assert (bacnet["current_command_priority"], bacnet["present_value"]) == (12, 30.0)
    await _write(client, sim, COMMAND["stockroom"], None, MICRODC_PRIORITY)
    bacnet = (await sim.async_state())["valves"]["stockroom"]["bacnet"]
    assert bacnet["current_command_priority"] is None
    assert bacnet["priority_array"] == [None] * 16
    assert bacnet["present_value"] == bacnet["relinquish_default"] == 0.0


async def test_occupancy_and_outdoor_temperature_for_the_blueprints(
    sim: SimulatorProcess, client: Client
) -> None:
    # 07:00: the shops are closed; at 08:00 they open.
    names = [await _read(client, sim, f"binary-input,{i}", "object-name") for i in (1, 2, 3)]
    assert names == ["STOCKROOM-OCC", "TENANT-A-OCC", "TENANT-B-OCC"]
    assert str(await _read(client, sim, "binary-input,2")) == "inactive"
    await sim.async_advance(3600 + 60)
    assert str(await _read(client, sim, "binary-input,2")) == "active"
    assert str(await _read(client, sim, "binary-input,3")) == "active"
    state = await sim.async_state()
    assert state["spaces"]["tenant_a"]["occupied"] is True
    assert state["spaces"]["tenant_a"]["setpoint_c"] == 21.0
    outdoor = await _read(client, sim, "analog-input,4")
    assert outdoor == pytest.approx(state["outdoor"]["temperature_c"], abs=1e-3)

    # A mild spring day: the same hour is warmer on the controller's OUTDOOR-T (mean 4 -> 11,
    # amplitude 4 -> 5 around the 15:00 peak).
    status, curve = await sim.async_request("POST", "/outdoor", {"day": "spring"})
    assert status == 200
    assert (curve["mean_c"], curve["amplitude_k"]) == (11.0, 5.0)
    hour = state["time"]["time_of_day_h"]
    warmer = 7.0 + math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
    assert await _read(client, sim, "analog-input,4") == pytest.approx(outdoor + warmer, abs=1e-3)
    status, curve = await sim.async_request("POST", "/outdoor", {"offset_k": -2.0})
    assert (status, curve["offset_k"], curve["mean_c"]) == (200, -2.0, 11.0)
    assert (await sim.async_state())["outdoor"] == curve


async def test_post_spaces_puts_a_space_at_its_limit(sim: SimulatorProcess, client: Client) -> None:
    status, space = await sim.async_request(
        "POST", "/spaces", {"space": "stockroom", "temperature_c": 26.5}
    )
    assert status == 200
    assert space["temperature_c"] == 26.5
    assert await _read(client, sim, "analog-input,5") == pytest.approx(26.5)
    status, space = await sim.async_request(
        "POST", "/spaces", {"space": "stockroom", "loss_w_per_k": 0.0}
    )
    assert (status, space["loss_w_per_k"], space["temperature_c"]) == (200, 0.0, 26.5)
    state = await sim.async_state()
    assert state["spaces"]["stockroom"]["loss_w_per_k"] == 0.0
    assert state["quantities"]["space_temperature_c.stockroom"] == 26.5


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/spaces", {"space": "attic", "temperature_c": 20}, "unknown space"),
        ("/spaces", {"space": "stockroom"}, "temperature_c"),
        ("/spaces", {"space": "stockroom", "temperature_c": 500}, "from -30 to 80"),
        ("/spaces", {"space": "stockroom", "loss_w_per_k": -1}, "loss_w_per_k"),
        ("/spaces", {"space": "stockroom", "colour": "red"}, "unknown field"),
        ("/outdoor", {"day": "monsoon"}, "unknown day"),
        ("/outdoor", {"mean_c": "warm"}, "must be a number"),
        ("/outdoor", {"amplitude_k": -3}, "amplitude_k"),
        ("/outdoor", {"humidity": 3}, "unknown field"),
    ],
)
def test_bad_space_and_outdoor_requests_are_refused(
    simulator: SimulatorProcess, path: str, body: dict[str, Any], message: str
) -> None:
    before = simulator.state()
    status, answer = simulator.request("POST", path, body)
    assert status == 400
    assert message in answer["error"]
    after = simulator.state()
    assert (after["spaces"], after["outdoor"]) == (before["spaces"], before["outdoor"])

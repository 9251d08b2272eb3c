"""Fuzzing the forms: every field of the site, options and device flows, with any value.

For each submission the outcome is one of what the frontend can show: Home Assistant's own
refusal of a value its selector does not accept (``InvalidData``, a 400 from the HTTP view), the
form again with errors that strings.json translates and every value as it was typed, the next
step, an entry, or an abort that strings.json explains. Never another exception (a 500).

Values come from the form's own schema: numbers in and out of the selector's range, NaN and
infinities, huge integers, numbers as text, booleans, lists, None, unknown options, unknown
keys, keys left out. Hosts and addresses are text that cannot resolve (a character no host name
has, empty, 300 characters), or a loopback port that refuses: a fuzz case must not wait for a
silent network, and the valid paths are the flow tests' (against the simulator).
"""

from __future__ import annotations

from collections.abc import Iterator
import json
import math
import os
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData, section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    SelectSelector,
)
from hypothesis import HealthCheck, event, given, settings, strategies as st
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_BACNET_DEVICE,
    SUBENTRY_MODBUS_DEVICE,
)
from tests.ha.bacnet_site import BACNET_OPTIONS
from tests.simulator_process import REPO_ROOT

CASES = int(os.environ.get("MICRODC_FUZZ_FLOW_EXAMPLES", "15"))
STRINGS = json.loads((REPO_ROOT / "custom_components/microdc/strings.json").read_text())
# Fields whose text is resolved or connected to.
NETWORK_FIELDS = {"host", "address", "target", "local_address", "bbmd_address"}

# The site's own BACnet/IP end and its BBMD, as a person would type them.
LOCAL_FIELDS = {
    "local_address": ["host", "127.0.0.1/8", "127.0.0.1", "192.168.1.10/24"],
    "bbmd_address": ["", "127.0.0.1:47809", "10.0.0.1"],
}
# Text that no resolver answers: a character no host name has, or too long for one.
UNRESOLVABLE = st.one_of(
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(max_size=12),
        st.sampled_from(list(' <>"{}|\\^`%\t\n\x00#,;')),
        st.text(max_size=12),
    ),
    st.just(""),
    st.just("   "),
    st.just("x" * 300),
    st.just("a." * 130),
    st.sampled_from(["256.1.1.1:", "[::1", "1.2.3.4:99999", "host:-1", ":47808", "::::"]),
)
UNRESOLVABLE_NAME = st.one_of(  # the same, never blank
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(max_size=12),
        st.sampled_from(list('<>"{}|\\^`%#,;')),
        st.text(max_size=12),
    ),
    st.just("x" * 300),
    st.sampled_from(["256.1.1.1:", "[::1", "1.2.3.4:99999", "host:-1", ":47808", "::::"]),
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
    UNRESOLVABLE,
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _number(selector: NumberSelector, hostile: bool) -> st.SearchStrategy[Any]:
    low = float(selector.config.get("min", -1e6))
    high = float(selector.config.get("max", 1e6))
    fits = st.one_of(st.floats(low, high), st.integers(math.ceil(low), int(high)))
    if not hostile:
        return fits
    return st.one_of(
        fits,
        st.floats(low - 1e6, low, exclude_max=True),
        st.floats(high, high + 1e6, exclude_min=True),
        st.integers(int(high) + 1, 2**70),
        st.builds(str, st.floats(low, high)),  # a number typed as text
        JUNK,
    )


def _select(selector: SelectSelector, hostile: bool) -> st.SearchStrategy[Any]:
    options = [o if isinstance(o, str) else o["value"] for o in selector.config["options"]]
    one = st.sampled_from(options) if options else st.text(max_size=8)
    fits = st.lists(one, max_size=3) if selector.config.get("multiple") else one
    if not hostile:
        return fits
    return st.one_of(fits, st.lists(one, max_size=3), st.text(max_size=8), JUNK)


def _field(key: str, validator: Any, hostile: bool, draw: st.DrawFn) -> Any:
    selector = validator.validators[0] if isinstance(validator, probatio.All) else validator
    strategy: st.SearchStrategy[Any]
    if key == "target":  # blank is a broadcast Who-Is, which waits for answers
        strategy = UNRESOLVABLE_NAME
    elif key in LOCAL_FIELDS and not hostile:  # only checked, never resolved or sent to
        strategy = st.sampled_from(LOCAL_FIELDS[key])
    elif key in NETWORK_FIELDS:
        strategy = UNRESOLVABLE
    elif isinstance(selector, NumberSelector):
        strategy = _number(selector, hostile)
    elif isinstance(selector, SelectSelector):
        strategy = _select(selector, hostile)
    elif isinstance(selector, BooleanSelector):
        strategy = st.one_of(st.booleans(), JUNK) if hostile else st.booleans()
    else:
        strategy = st.one_of(st.text(max_size=40), JUNK) if hostile else st.text(max_size=40)
    return draw(strategy)


def values_for(schema: probatio.Schema, draw: st.DrawFn, mode: str | None = None) -> dict[str, Any]:
    """A submission for a form. ``mode``: every field a value of its kind and range ("fit"),
    one field anything ("one"), or every field anything ("any"); drawn when not given."""
    mode = mode or draw(st.sampled_from(["fit", "one", "one", "any"]))
    fields = list(schema.schema.items())
    odd = draw(st.integers(0, len(fields) - 1)) if mode == "one" else -1
    data: dict[Any, Any] = {}
    for index, (marker, validator) in enumerate(fields):
        key = str(marker)
        hostile = mode == "any" or index == odd
        if hostile and draw(st.integers(0, 7)) == 0:
            continue  # left out
        if isinstance(validator, section):
            inner = "any" if mode == "any" else ("one" if index == odd else "fit")
            data[key] = values_for(validator.schema, draw, inner)
        else:
            data[key] = _field(key, validator, hostile, draw)
    if mode != "fit" and draw(st.integers(0, 7)) == 0:
        data["unknown_field"] = draw(JUNK)
    return data


def suggested(schema: probatio.Schema) -> dict[str, Any]:
    """What a form shows in each field (sections as dicts)."""
    shown: dict[str, Any] = {}
    for marker, validator in schema.schema.items():
        if isinstance(validator, section):
            shown[str(marker)] = suggested(validator.schema)
        elif marker.description and "suggested_value" in marker.description:
            shown[str(marker)] = marker.description["suggested_value"]
    return shown


def _same(shown: Any, typed: Any) -> bool:
    both_nan = isinstance(shown, float) and isinstance(typed, float) and math.isnan(shown)
    return bool(shown == typed) or (both_nan and math.isnan(typed))


def kept(shown: dict[str, Any], submitted: dict[str, Any]) -> list[str]:
    """The submitted fields the re-shown form does not show as typed."""
    lost = []
    for key, value in submitted.items():
        if key not in shown:
            continue  # a field Home Assistant's validation dropped or a default filled
        if isinstance(value, dict) and isinstance(shown[key], dict):
            lost += [f"{key}.{k}" for k in kept(shown[key], value)]
        elif not _same(shown[key], value):
            lost.append(key)
    return lost


def check_result(result: Any, strings: dict[str, Any], validated: dict[str, Any]) -> None:
    """A form with translated errors that keeps the input, the next step, an entry, an abort."""
    kind = result["type"]
    if kind is FlowResultType.FORM and result.get("errors"):
        known = strings.get("error", {})
        for field, code in result["errors"].items():
            assert code in known, f"{field}: error {code!r} has no translation"
        if result["step_id"] == validated.get("__step"):
            lost = kept(suggested(result["data_schema"]), validated["data"])
            assert not lost, f"the form lost {lost}"
    elif kind is FlowResultType.ABORT:
        assert result["reason"] in strings.get("abort", {}), result["reason"]
    else:
        assert kind in (FlowResultType.FORM, FlowResultType.MENU, FlowResultType.CREATE_ENTRY)


async def submit(
    hass: HomeAssistant, manager: Any, result: Any, strings: dict[str, Any], draw: st.DrawFn
) -> None:
    """Fill the form at ``result`` with drawn values and check what comes back."""
    schema: probatio.Schema = result["data_schema"]
    data = values_for(schema, draw)
    error = ""
    try:
        validated = schema(data)
    except probatio.Invalid as err:
        validated, error = None, str(err)[:50]
    try:
        answer = await manager.async_configure(result["flow_id"], data)
    except InvalidData:
        assert validated is None, f"refused {data!r}, which the form's schema accepts"
        event(f"refused by the selectors: {error}")
        return
    assert validated is not None, "the form's schema refuses this, the flow took it"
    check_result(answer, strings, {"__step": result["step_id"], "data": validated})
    event(f"{answer['type']}: {answer.get('errors') or answer.get('reason') or ''}")
    if answer["type"] is FlowResultType.FORM:
        manager.async_abort(answer["flow_id"])


@pytest.fixture(autouse=True)
def _name_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a real resolver says of a name it does not know (the harness raises its own
    RuntimeError for every lookup): the IDNA codec's refusal of a label over 63 characters,
    else "Name or service not known". The drawn names never resolve anywhere."""
    lookup = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host not in ("localhost", "127.0.0.1", "::1", ""):
            host.encode("idna")
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def refusing_port(socket_enabled: None) -> Iterator[int]:
    """A loopback TCP port that refuses connections (bound, never listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
async def site(hass: HomeAssistant, socket_enabled: None) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="fuzz", data={CONF_SITE_NAME: "Fuzz"}, options=BACNET_OPTIONS
    )
    entry.add_to_hass(hass)
    return entry


FUZZ = settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(600)
@FUZZ
@given(data=st.data())
async def test_site_flow(hass: HomeAssistant, data: st.DataObject) -> None:
    manager = hass.config_entries.flow
    result = await manager.async_init(DOMAIN, context={"source": SOURCE_USER})
    await submit(hass, manager, result, STRINGS["config"], data.draw)
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_remove(entry.entry_id)


@pytest.mark.timeout(600)
@FUZZ
@given(data=st.data())
async def test_options_flow(
    hass: HomeAssistant, site: MockConfigEntry, data: st.DataObject
) -> None:
    manager = hass.config_entries.options
    result = await manager.async_init(site.entry_id)
    await submit(hass, manager, result, STRINGS["options"], data.draw)
    hass.config_entries.async_update_entry(site, options=BACNET_OPTIONS)


@pytest.mark.timeout(600)
@FUZZ
@given(data=st.data())
async def test_modbus_device_flow(
    hass: HomeAssistant, site: MockConfigEntry, refusing_port: int, data: st.DataObject
) -> None:
    manager = hass.config_entries.subentries
    result = await manager.async_init(
        (site.entry_id, SUBENTRY_MODBUS_DEVICE), context={"source": "user"}
    )

    def draw(strategy: st.SearchStrategy[Any]) -> Any:
        return data.draw(strategy)

    strings = STRINGS["config_subentries"][SUBENTRY_MODBUS_DEVICE]
    if data.draw(st.booleans(), label="loopback"):
        # A real connection attempt: to a port that refuses, the rest of the form drawn.
        schema: probatio.Schema = result["data_schema"]
        values = values_for(schema, draw, "fit") | {"host": "127.0.0.1", "port": refusing_port}
        try:
            answer = await manager.async_configure(result["flow_id"], values)
        except InvalidData:
            event("refused by the selectors")
            return
        check_result(answer, strings, {"__step": result["step_id"], "data": schema(values)})
        event(f"loopback {answer['type']}: {answer.get('errors') or answer.get('reason') or ''}")
        return
    await submit(hass, manager, result, strings, draw)


@pytest.mark.timeout(600)
@FUZZ
@given(data=st.data(), path=st.sampled_from(["manual", "discover"]))
async def test_bacnet_device_flow(
    hass: HomeAssistant, site: MockConfigEntry, data: st.DataObject, path: str
) -> None:
    manager = hass.config_entries.subentries
    result = await manager.async_init(
        (site.entry_id, SUBENTRY_BACNET_DEVICE), context={"source": "user"}
    )
    result = await manager.async_configure(result["flow_id"], {"next_step_id": path})
    strings = STRINGS["config_subentries"][SUBENTRY_BACNET_DEVICE]
    await submit(hass, manager, result, strings, data.draw)

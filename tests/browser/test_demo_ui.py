"""The demo as a person sees it, in Debian's headless Chromium: scripts/develop's supervisor
starts the simulator and Home Assistant and configures the demo; the test logs in with the
printed login, opens the microdc dashboard, the site's page, the add-device dialog of each
device kind and the energy dashboard, and checks what they show. The screenshots it takes
are the README's (docs/images/)."""

from __future__ import annotations

from collections.abc import Iterator
import json
import os
from pathlib import Path
import re
import socket
from typing import Any
import urllib.request

import pytest
import pytest_socket
from selenium import webdriver

from tests.scripts.test_develop import Console, _free_port, _supervisor

from . import ui

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES = REPO_ROOT / "docs" / "images"
STRINGS = json.loads((REPO_ROOT / "custom_components" / "microdc" / "strings.json").read_text())
DEMO_TIMEOUT_S = 150.0
# What a card shows when it cannot show a value, and what a missing translation leaves.
BROKEN = re.compile(
    r"\b(unavailable|Unavailable|Entity not available|Entity not found|unknown)\b"
    r"|component\.microdc\.|entity\.(sensor|binary_sensor|number|switch)\.|ui\.panel\."
)

# The routing logbook's past entries: the site reloads while the demo is set up (each heat
# destination added, the daily meters), and the logbook rightly lists the routing entities as
# unavailable then. That is history, not a card that cannot show its value now.
LOGBOOK_RELOAD = re.compile(
    r"\n(?:Heat routing|Heat safety)\nUnavailable\n\d{1,2}:\d{2}(?::\d{2})?\s?(?:[AP]M)?(?=\n)"
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


class Demo:
    def __init__(self, url: str, control: int, user: str, password: str) -> None:
        self.url = url
        self.control = control
        self.user = user
        self.password = password

    def simulator(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control}/state", timeout=10) as r:
            state: dict[str, Any] = json.load(r)
            return state


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if ui.chromium_paths() is None:
        pytest.fail("chromium and chromedriver are missing: run scripts/setup-browser")
    _allow_loopback()
    base = tmp_path_factory.mktemp("demo")
    ports = {
        "MICRODC_HA_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_MODBUS_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_BACNET_PORT": _free_port(socket.SOCK_DGRAM),
        "MICRODC_SIM_CONTROL_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_HA_BACNET_PORT": _free_port(socket.SOCK_DGRAM),
    }
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    env["PYTHONPATH"] = str(REPO_ROOT)
    with _supervisor(base, env) as process:
        console = Console(process)
        # A set-up that fails says so at once (Home Assistant keeps running and logging).
        login = console.wait_for(
            r"^(?:login: (\S+) (\S+)|microdc demo: not set up: .*)$", timeout=DEMO_TIMEOUT_S
        )
        assert login[0].startswith("login: "), login[0]
        yield Demo(
            f"http://127.0.0.1:{ports['MICRODC_HA_PORT']}",
            ports["MICRODC_SIM_CONTROL_PORT"],
            login[1],
            login[2],
        )


@pytest.fixture(scope="module")
def browser(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    _allow_loopback()
    driver = ui.start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        ui.log_in(driver, f"{demo.url}/", demo.user, demo.password)
        yield driver
    finally:
        driver.quit()


def _allow_loopback() -> None:
    """Selenium reaches chromedriver at "localhost", which may resolve to ::1 first."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Selenium talks to chromedriver, and the test to Home Assistant, over loopback."""
    _allow_loopback()


def _no_microdc_console_errors(driver: webdriver.Chrome) -> None:
    errors = [e for e in ui.console_errors(driver) if "microdc" in e.get("message", "")]
    assert not errors, errors


def _screenshot(driver: webdriver.Chrome, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(IMAGES / name))


def _assert_nothing_broken(text: str) -> None:
    """No card without its value and no raw key, the logbook's past reloads aside."""
    text = LOGBOOK_RELOAD.sub("", text)
    broken = BROKEN.search(text)
    assert not broken, text[max(0, broken.start() - 300) : broken.end() + 100]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_dashboard_shows_the_simulators_values(demo: Demo, browser: webdriver.Chrome) -> None:
    browser.get(f"{demo.url}/microdc/site")
    text = ui.wait_for_text(browser, "Rack", "UPS", "Heat flow", "Energy reuse factor today")
    # Every entity card has drawn its values (cards render one after another).
    text = ui.wait_for_text(browser, "IT power", "Online", "Recovered now", "Loop supply")
    _assert_nothing_broken(text)
    truth = demo.simulator()["quantities"]
    shown = re.search(r"IT power\n([\d,.]+) W", text)
    assert shown, text
    # The simulator runs in real time; the rack's power moves a little between the two reads.
    assert _number(shown[1]) == pytest.approx(truth["it_power_w"], rel=0.05)
    inlet = re.search(r"Inlet\n([\d.]+) °C", text)
    assert inlet
    assert _number(inlet[1]) == pytest.approx(truth["inlet_temperature_c"], abs=0.3)
    # The UPS runtime in minutes ("65m"), not "3,927 s".
    runtime = re.search(r"Runtime\n(\d+)m\b", text)
    assert runtime, text
    assert int(runtime[1]) == pytest.approx(truth["ups_runtime_s"] / 60, abs=2)
    _no_microdc_console_errors(browser)


def _icons_drawn(browser: webdriver.Chrome) -> bool:
    """Every state icon has its picture (the frontend loads them after the text)."""
    return all(
        any(path.get_attribute("d") for path in ui.deep(browser, "path", icon))
        for icon in ui.deep(browser, "ha-state-icon")
    )


# The dashboard's valve rows (their feedback sensors), by the simulator's valve they show.
VALVES = {
    "Stockroom valve": "stockroom",
    "Tenant A valve": "tenant_a",
    "Tenant B valve": "tenant_b",
    "Shared loop valve": "shared_loop",
    "Dry cooler valve (reject)": "dry_cooler",
}


def test_dashboard_shows_where_the_valves_are_and_todays_heat_read_only(
    demo: Demo, browser: webdriver.Chrome
) -> None:
    browser.get(f"{demo.url}/microdc/site")
    text = ui.wait_for_text(
        browser, "Heat reused today", "Where the heat goes now", *VALVES, "Loop pump"
    )
    _assert_nothing_broken(text)
    # Where each valve actually is, as its feedback object reports it: a percentage, within a
    # stroke's drift of the simulator's own (the router may be moving it between the reads).
    truth = demo.simulator()["quantities"]
    for row, valve in VALVES.items():
        shown = re.search(rf"{re.escape(row)}\n([\d.]+)\s*%", text)
        assert shown, (row, text)
        assert _number(shown[1]) == pytest.approx(truth[f"valve_position_pct.{valve}"], abs=15), row
    # Each destination's kWh today is a number from the first minute (a daily utility meter),
    # not a bare "kWh" waiting for the recorder's first hourly statistics.
    for destination in ("Stockroom", "Tenant A", "Tenant B", "Shared loop"):
        today = re.search(rf"\n{destination}\n([\d.,]+)\s*kWh\b", text)
        assert today, (destination, text)
        assert _number(today[1]) >= 0
    # Nothing on the dashboard moves plant: no valve input box, no pump toggle (the heat
    # router owns them; the "Send heat to" select is the one control, through its safety).
    assert not ui.deep(browser, "hui-number-entity-row, ha-entity-toggle, hui-toggle-entity-row")
    pump = re.search(r"Loop pump\n(On|Off)\b", text)
    assert pump, text
    assert (pump[1] == "On") == bool(truth["pump_on"])
    # The README's picture, once the select and the icons are drawn too.
    ui.wait_for_text(browser, "Send heat to")
    ui.wait_for("the icons", lambda: _icons_drawn(browser))
    _screenshot(browser, "dashboard.png")
    _no_microdc_console_errors(browser)


def test_site_page_lists_the_demo_devices(demo: Demo, browser: webdriver.Chrome) -> None:
    browser.get(f"{demo.url}/config/integrations/integration/microdc")
    text = ui.wait_for_text(
        browser, "Demo site", "Rack PDU", "UPS", "Environment", "Heat meter", "HVAC controller"
    )
    for destination in ("Stockroom", "Tenant A", "Tenant B", "Shared loop"):
        assert destination in text
    # microdc's word for its entries, and the models without profile ids after them.
    assert "Add site" in text
    assert "Add hub" not in text
    assert "EnviroSense 2" in text
    assert "(demo_" not in text
    assert not BROKEN.search(text), BROKEN.search(text)
    _screenshot(browser, "site.png")
    _no_microdc_console_errors(browser)


def _open_add_dialog(browser: webdriver.Chrome, demo: Demo, label: str) -> Any:
    browser.get(f"{demo.url}/config/integrations/integration/microdc")
    ui.wait_for_text(browser, "Demo site", label)
    button = ui.wait_for(
        f"the {label} button",
        lambda: [
            b
            for b in ui.deep(browser, "ha-button, mwc-button, ha-list-item, ha-md-menu-item")
            if (b.text or "").strip() == label
        ],
    )
    browser.execute_script("arguments[0].click()", button[0])
    return ui.wait_for("the flow dialog", lambda: ui.deep(browser, "dialog-data-entry-flow"))[0]


def _assert_fields_described(browser: webdriver.Chrome, dialog: Any, step: dict[str, Any]) -> str:
    # The step's own fields and those of its sections (collapsed ones too).
    parts = [step, *step.get("sections", {}).values()]
    labels = [label for part in parts for label in part.get("data", {}).values()]
    descriptions = [text for part in parts for text in part.get("data_description", {}).values()]
    assert labels, step
    # Up to a placeholder: the rest is filled in by the flow.
    wanted = labels + [d.split("{")[0].strip()[:40] for d in descriptions]

    def missing() -> list[str]:
        text = ui.deep_text(browser, dialog)
        return [w for w in wanted if w not in text]

    try:
        ui.wait_for("every label and description", lambda: not missing(), timeout=10)
    except AssertionError:
        pytest.fail(f"the form does not show {missing()}:\n{ui.deep_text(browser, dialog)}")
    text = ui.deep_text(browser, dialog)
    assert not BROKEN.search(text), BROKEN.search(text)
    return text


@pytest.mark.parametrize(
    ("kind", "step", "image"),
    [
        ("modbus_device", "user", "add-modbus-device.png"),
        ("bacnet_device", "manual", "add-bacnet-device.png"),
        ("heat_destination", "user", "add-heat-destination.png"),
    ],
)
def test_add_device_dialogs_label_and_describe_every_field(
    demo: Demo, browser: webdriver.Chrome, kind: str, step: str, image: str
) -> None:
    strings = STRINGS["config_subentries"][kind]
    dialog = _open_add_dialog(browser, demo, strings["initiate_flow"]["user"])
    if step != "user":
        # The BACnet flow starts with a menu: find devices, or enter one by hand.
        menu = strings["step"]["user"]["menu_options"]
        ui.wait_for_text(browser, *menu.values())
        choice = ui.wait_for(
            "the manual entry",
            lambda: [
                i
                for i in ui.deep(browser, "ha-md-list-item, mwc-list-item, ha-list-item", dialog)
                if menu[step] in (i.text or "")
            ],
        )
        browser.execute_script("arguments[0].click()", choice[0])
    _assert_fields_described(browser, dialog, strings["step"][step])
    _screenshot(browser, image)
    _no_microdc_console_errors(browser)


def test_energy_dashboard_shows_reused_heat_and_it_energy(
    demo: Demo, browser: webdriver.Chrome
) -> None:
    browser.get(f"{demo.url}/energy")
    text = ui.wait_for_text(browser, "Gas", "Rack IT", timeout=60)
    assert not BROKEN.search(text), BROKEN.search(text)
    _screenshot(browser, "energy.png")
    _no_microdc_console_errors(browser)

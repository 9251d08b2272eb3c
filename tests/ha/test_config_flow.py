"""The site config flow."""

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN


async def test_create_site(hass: HomeAssistant) -> None:
    """A name is all it takes; surrounding blanks are trimmed."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "  Corner Shop  "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Corner Shop"
    assert result["data"] == {CONF_SITE_NAME: "Corner Shop"}
    assert result["result"].unique_id == "corner_shop"


async def test_site_name_must_be_unique(hass: HomeAssistant) -> None:
    """A second site of the same name (in any spelling) is refused."""
    MockConfigEntry(
        domain=DOMAIN, unique_id="corner_shop", data={CONF_SITE_NAME: "Corner Shop"}
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "corner shop"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_site_name_needs_a_letter_or_digit(hass: HomeAssistant) -> None:
    """A name that slugifies to nothing is an error on the field, and the form keeps it."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: " -- "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SITE_NAME: "invalid_site_name"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Plant room 2"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_the_add_button_says_site(hass: HomeAssistant) -> None:
    """The site's page offers "Add site", not Home Assistant's "Add hub" for a hub.

    The frontend asks for component.<domain>.config.initiate_flow.user first and falls back to
    the integration type's word only without it.
    """
    translations = await async_get_translations(hass, "en", "config", [DOMAIN])
    assert translations[f"component.{DOMAIN}.config.initiate_flow.user"] == "Add site"

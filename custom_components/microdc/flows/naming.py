"""Names the device flows propose: short, and not one the site has already."""

from __future__ import annotations

from collections.abc import Iterable


def unused_name(proposal: str, taken: Iterable[str]) -> str:
    """The proposal, numbered ("UPS 2") when the site has a device of that name already.

    The entity ids follow the name: two devices called "UPS" would differ only by a suffix
    Home Assistant adds to the second's entity ids.
    """
    used = {name.casefold() for name in taken}
    name, number = proposal, 1
    while name.casefold() in used:
        number += 1
        name = f"{proposal} {number}"
    return name

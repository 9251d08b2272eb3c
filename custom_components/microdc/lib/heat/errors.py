"""Errors raised by the heat domain.

All derive from ValueError so callers that treat any bad reading alike can catch one type,
while tests and logs can still tell the causes apart.
"""


class HeatDomainError(ValueError):
    """A value given to the heat domain is unusable; the message says which and why."""


class FluidRangeError(HeatDomainError):
    """A temperature lies outside the fluid's property table."""


class LedgerStateError(HeatDomainError):
    """A serialised ledger or counter state cannot be restored."""

"""A safety trip that sets at once and clears only after its clear condition has held."""

from __future__ import annotations


class Latch:
    """Trips the moment ``trip`` is true; clears once ``clear`` has been true for ``hold`` s.

    ``trip`` and ``clear`` are separate conditions so that a band between them (hysteresis)
    changes nothing: a temperature between limit - hysteresis and the limit neither trips nor
    clears. Any evaluation whose ``clear`` is false restarts the hold.
    """

    __slots__ = ("_clear_since", "active", "since")

    def __init__(self) -> None:
        self.active = False
        self.since: float | None = None  # when it tripped
        self._clear_since: float | None = None

    def update(self, now: float, *, trip: bool, clear: bool, hold: float) -> bool:
        """Advance to ``now``; whether ``active`` changed."""
        if trip:
            self._clear_since = None
            if self.active:
                return False
            self.active, self.since = True, now
            return True
        if not self.active:
            return False
        if not clear:
            self._clear_since = None
            return False
        if self._clear_since is None or now < self._clear_since:
            self._clear_since = now
        if now - self._clear_since < hold:
            return False
        self.active, self.since, self._clear_since = False, None, None
        return True

"""The heat router and its safety layer: requests and readings in, a Decision out.

Pure: no Home Assistant, no I/O, no clock. Time is a float ``now`` in seconds on a clock that
survives restarts (Unix time), passed to every call that needs it.

How the glue uses it::

    router = HeatRouter(settings, destinations, exhaust=exhaust_refs, supply=supply_refs)
    dropped = router.restore(StoredState.from_dict(stored), now)  # after a restart
    router.divert(Source(SourceKind.ACTION, "tenant heating"), {"tenant_a": 2, "tenant_b": 1},
                  now, ends=now + 3600)                   # RequestError if it cannot be
    router.release(source)  /  router.release_all()
    decision = router.evaluate(now, readings)  # after every poll and every request change
    if decision is not previous:               # a new object only when something changed
        for command in decision.commands:      # every valve of every destination
            write(command.point, command.position, command.priority)  # None: relinquish
    store(router.state().to_dict())

``readings`` maps every point the glue knows (PointRef) to its latest number, None when it is
unavailable; ``exhaust`` and ``supply`` name the site's points of role exhaust_temperature and
loop_supply_temperature. docs/routing.md explains the rules; in short:

- requests.py: who asks (user > action > automation), for which shares, until when; the
  newest request of the highest-ranked source wins, else the site's default.
- destinations.py: destinations (reject always there) and their valves.
- safety.py (with latch.py): over-temperature, lost inputs, unconfirmed valves; hysteresis and
  a hold time before a trip clears.
- router.py: the dwell between routing changes, safety over everything, the Decision.
- decision.py: the Decision, its reasons and trips. state.py: what survives a restart.
- repeats.py: a temperature limit crossed repeatedly (3 trips in 24 h), for a repair.
- settings.py: the site's limits, timers and BACnet priorities, validated.
"""

from .decision import Decision, Reason, Trip, ValveCommand
from .destinations import REJECT, Destination, DestinationError, DestinationKind, Valve
from .repeats import REPEAT_COUNT, REPEAT_WINDOW_S, Repeated, TripHistory
from .requests import Request, RequestError, Shares, Source, SourceKind
from .router import Dropped, HeatRouter
from .safety import Readings
from .settings import DefaultRouting, RoutingSettings, SettingsError
from .state import StoredState, StoredStateError

__all__ = [
    "REJECT",
    "REPEAT_COUNT",
    "REPEAT_WINDOW_S",
    "Decision",
    "DefaultRouting",
    "Destination",
    "DestinationError",
    "DestinationKind",
    "Dropped",
    "HeatRouter",
    "Readings",
    "Reason",
    "Repeated",
    "Request",
    "RequestError",
    "RoutingSettings",
    "SettingsError",
    "Shares",
    "Source",
    "SourceKind",
    "StoredState",
    "StoredStateError",
    "Trip",
    "TripHistory",
    "Valve",
    "ValveCommand",
]

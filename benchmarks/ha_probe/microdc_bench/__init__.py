"""A probe for microdc's benchmarks, loaded into the Home Assistant being measured (not shipped).

- It makes a system user (admin) and an access token and writes the token to
  ``<config>/.microdc_bench_token``, so the benchmark can drive the REST and websocket APIs
  (config flows, states) as a user would.
- A task sleeps 10 ms in a loop and records how late it wakes: its lateness is how long the
  event loop was blocked (by anything) at that moment.
- ``microdc_bench/stall`` (websocket) returns the longest lateness, a few quantiles and a count
  since the last call, and starts a new window; with them the garbage collector's pauses in the
  window (``gc.callbacks``: how many, the longest and their sum), so a long stretch can be told
  apart from a collection of the whole heap.
- ``microdc_bench/watch`` (websocket subscription) sends, for the given entity ids, every state
  change with ``time.monotonic()`` at the moment Home Assistant wrote it. CLOCK_MONOTONIC is the
  same clock in every process of the machine, so the benchmark compares it with its own.
- ``microdc_bench/heap`` (websocket) counts the objects the garbage collector tracks, by the
  module their type comes from, then times one full collection (it blocks the loop: call it
  outside a measured window). A full collection's pause grows with what it has to walk.
- ``microdc_bench/profile`` (websocket) starts cProfile on the event loop's thread, or stops it
  and writes its statistics (pstats) to the given file, for ``scale.py --profile``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import cProfile
import gc
from pathlib import Path
import time
from typing import Any

from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.components import websocket_api
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

DOMAIN = "microdc_bench"
TOKEN_FILE = ".microdc_bench_token"
PERIOD_S = 0.010


class LoopProbe:
    """Sleeps PERIOD_S in a loop and keeps each wake-up's lateness (seconds)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.window_started = time.monotonic()
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._gc_started = 0.0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """gc.callbacks hook: time each collection."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(PERIOD_S)
            self.samples.append(time.monotonic() - before - PERIOD_S)

    def take(self) -> dict[str, Any]:
        samples, self.samples = sorted(self.samples), []
        pauses, self.gc_pauses = self.gc_pauses, []
        started, self.window_started = self.window_started, time.monotonic()
        longest_gc = max(pauses, key=lambda pause: pause[1], default=(-1, 0.0))

        def quantile(q: float) -> float:
            return samples[min(len(samples) - 1, int(q * len(samples)))] if samples else 0.0

        return {
            "samples": len(samples),
            "window_s": self.window_started - started,
            "max_ms": 1000 * (samples[-1] if samples else 0.0),
            "p50_ms": 1000 * quantile(0.5),
            "p99_ms": 1000 * quantile(0.99),
            "p999_ms": 1000 * quantile(0.999),
            "over_50ms": sum(1 for s in samples if s > 0.050),
            "gc_collections": len(pauses),
            "gc_longest_ms": 1000 * longest_gc[1],
            "gc_longest_generation": longest_gc[0],
            "gc_total_ms": 1000 * sum(pause[1] for pause in pauses),
        }


def _package_of(kind: type) -> str:
    """Where a type comes from, deep enough to tell Home Assistant, microdc and the rest apart."""
    module = getattr(kind, "__module__", None)
    if not isinstance(module, str):  # a metaclass may make it a descriptor
        module = "?"
    parts = module.split(".")
    depth = 3 if parts[0] in {"homeassistant", "custom_components"} else 1
    return ".".join(parts[:depth]) + (
        "" if module != "builtins" else f".{getattr(kind, '__name__', '?')}"
    )


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Token, loop probe, websocket commands."""
    user = await hass.auth.async_create_system_user("microdc benchmark", group_ids=[GROUP_ID_ADMIN])
    refresh = await hass.auth.async_create_refresh_token(user)
    token = hass.auth.async_create_access_token(refresh)
    path = Path(hass.config.path(TOKEN_FILE))
    await hass.async_add_executor_job(path.write_text, token)

    probe = LoopProbe()
    gc.callbacks.append(probe.on_gc)
    task = hass.async_create_background_task(probe.run(), "microdc benchmark loop probe")

    @callback
    def _stop(_: Event) -> None:
        task.cancel()
        gc.callbacks.remove(probe.on_gc)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)

    @websocket_api.websocket_command({vol.Required("type"): f"{DOMAIN}/stall"})
    @callback
    def ws_stall(
        hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
    ) -> None:
        connection.send_result(msg["id"], probe.take())

    @websocket_api.websocket_command(
        {vol.Required("type"): f"{DOMAIN}/watch", vol.Required("entity_ids"): [str]}
    )
    @callback
    def ws_watch(
        hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
    ) -> None:
        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            connection.send_message(
                websocket_api.event_message(
                    msg["id"],
                    {
                        "entity_id": event.data["entity_id"],
                        "state": None if new is None else new.state,
                        "monotonic": time.monotonic(),
                    },
                )
            )

        connection.subscriptions[msg["id"]] = async_track_state_change_event(
            hass, msg["entity_ids"], _changed
        )
        connection.send_result(msg["id"])

    profiler: list[cProfile.Profile] = []

    @websocket_api.websocket_command(
        {vol.Required("type"): f"{DOMAIN}/profile", vol.Optional("stats_file"): str}
    )
    @websocket_api.async_response
    async def ws_profile(
        hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
    ) -> None:
        # Enabled from a callback in the loop, so it profiles the loop's thread only.
        if "stats_file" not in msg:
            profiler.append(cProfile.Profile())
            profiler[-1].enable()
        else:
            running = profiler.pop()
            running.disable()
            await hass.async_add_executor_job(running.dump_stats, msg["stats_file"])
        connection.send_result(msg["id"])

    @websocket_api.websocket_command({vol.Required("type"): f"{DOMAIN}/heap"})
    @callback
    def ws_heap(
        hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
    ) -> None:
        tracked = gc.get_objects()
        by_package: Counter[str] = Counter()
        for obj in tracked:
            by_package[_package_of(type(obj))] += 1
        count = len(tracked)
        del tracked
        started = time.perf_counter()
        gc.collect()
        connection.send_result(
            msg["id"],
            {
                "tracked": count,
                "by_package": by_package.most_common(12),
                "full_collection_ms": 1000 * (time.perf_counter() - started),
            },
        )

    websocket_api.async_register_command(hass, ws_heap)
    websocket_api.async_register_command(hass, ws_stall)
    websocket_api.async_register_command(hass, ws_profile)
    websocket_api.async_register_command(hass, ws_watch)
    return True

"""The site's physics: a rack, its water loop, the places its heat goes, and the ground truth.

``SiteModel`` holds the physical state and advances it with ``step(dt_s)``; it integrates at a
fine internal step (``model.internal_step_s`` in the site file, default 1 s) however large dt_s
is. The protocol servers never compute physics: they read ``quantity(name)`` and apply a
controller's effective command with ``command_valve(valve, percent)`` / ``command_pump(on)``.

The model (parameters and their sources are in the site file, simulator/sites/demo.yaml):

- Clock: simulated seconds since start; the time of day starts at ``clock.start_hour``.
- Outdoor air: T_out = mean + amplitude · cos(2π (hour − warmest_hour) / 24) + offset. The
  curve can change while running (``set_outdoor``: a named day of the site file's
  ``outdoor.days``, e.g. winter or spring, or any of mean_c, amplitude_k, warmest_hour,
  offset_k); outdoor air is the model's boundary, so this never breaks the energy balance.
- IT power follows the shop's day: a night baseline, a daytime baseline while the shop is open
  with a lunchtime peak, plus inference bursts at seeded random times (deterministic for a seed),
  clamped to [min_w, max_w]. All electrical power becomes heat in the rack. Seeded events
  (bursts, door openings, visits) are drawn per local day, counted from midnight.
- Rear-door heat exchanger (RDHx): the servers heat their air stream (capacity rate
  C_air = V̇_air ρ_air c_p,air) to T_in + P/C_air; the RDHx moves
  Q_rdhx = ε · min(C_air, C_water) · (T_server_exhaust − T_return) into the loop (ε-NTU form);
  the rest of the heat stays in the room air. Exhaust (after the door) =
  server exhaust − Q_rdhx/C_air.
- Water loop: one well-mixed mass (volume · ρ at the initial temperature) at the return
  temperature T_ret. Supply temperature T_sup = T_ret + Q_rdhx / (ṁ c_p). Flow = pump flow ·
  min(1, bypass + Σ conductance·position) when the pump runs, else 0. The flow splits between
  paths in proportion to conductance·position; the bypass carries heat back unused.
  ρ(T) and c_p(T) come from simulator/water.py (IAPWS-95 values).
- Each heat destination: Q_d = ε_d · min(ṁ_d c_p, C_hx,d) · max(0, T_sup − T_sink), with the sink
  a space's temperature, a fixed shared-loop return temperature, or outdoor air (dry cooler).
  If no path takes the heat, the loop warms, the RDHx takes less and the exhaust gets hotter.
- The shared loop (kind ``sink``) takes heat only while the mall heats: with
  ``heating_limit_c`` and ``demand_w_per_k`` in its entry, its demand follows a heating curve,
  D = demand_w_per_k · max(0, heating_limit_c − T_out), and Q_shared = min(Q_hx, D). What it
  does not take stays in the loop (as when no path is open), so in summer only reject (the dry
  cooler) removes heat. Everything it takes displaces the mall's boiler. A sink without a
  heating limit is an endless sink, as before.
- The room around the rack: one thermal mass exchanging heat with the building around it and
  cooled by a split AC (proportional around its setpoint, limited capacity).
- The dry cooler's fans modulate to hold the loop supply near a setpoint (warm enough to heat
  with); with failed fans only natural convection remains.
- Spaces: first-order RC (capacity C, conductance UA to outdoors), with occupants' gains and their
  own thermostat-controlled heating that recovered heat displaces. Nothing cools a space: fed
  with more heat than it loses, it warms past its setpoint (the stockroom with all of the rack's
  heat passes 26 °C within hours), so a space limit can trip. ``set_space`` sets a space's
  temperature or its conductance to outdoors at once, for tests that need a space at its limit;
  spaces are outside the ledgers' balance (their heat is delivered), so neither breaks it.
- Valves move toward their command at 100 % per ``valves.stroke_s``.
- UPS: feeds the rack. On a mains outage it runs on battery (charge and runtime fall; low battery
  when runtime < low_battery_runtime_s); when empty it switches its output off (IT power 0).
  After mains returns it recharges at charge_w.

Ground truth (``ledgers()``, Wh since start, integrated at the internal step): IT energy, heat
into the loop (what an ideal heat meter integrates), heat delivered per destination, heat
rejected (dry cooler; room: AC plus the room's exchange with the building), heat stored (from
the loop's enthalpy and the room's temperature relative to the start). Energy is conserved:
it_energy = Σ delivered + Σ rejected + stored, up to the Euler step's tiny error.

Quantity names (``quantities()`` lists them all with values): time_s, time_of_day_h, shop_open,
it_power_w, it_energy_wh (the PDU's counter), pdu_voltage_v, pdu_current_a,
ups_status.<online|on_battery|low_battery|charging|bypass|fault|input_bad|
output_off|self_test|high_efficiency|info_alert> (0/1; the last three stay 0: the model runs no self
test, no eco mode and raises no alerts, but a real card's status word has those bits),
ups_output_source.<normal|battery|bypass|off> (0/1), ups_battery_charge_pct, ups_runtime_s,
ups_load_pct, ups_input_voltage_v, ups_output_power_w, inlet_temperature_c, exhaust_temperature_c,
humidity_pct, door_open, room_ac_power_w, loop_supply_temperature_c, loop_return_temperature_c,
loop_flow_m3h, loop_density_kg_m3, loop_cp_j_per_kgk, heat_meter_power_w, heat_meter_energy_wh (the
meter's counter), outdoor_temperature_c, space_temperature_c.<space>, space_setpoint_c.<space> (its
own heating's setpoint, by the shop's hours), occupancy.<space>, space_heating_power_w.<space>,
destination_power_w.<destination>, destination_energy_wh.<destination> (a branch meter's counter:
the heat delivered or rejected there, from ``branch_meters.initial_energy_wh``),
destination_flow_m3h.<destination> and destination_return_temperature_c.<destination> (what a meter
on the branch measures; its supply is the loop's), destination_demand_w.<sink> (a sink with a
heating curve: what it would take now), valve_position_pct.<valve> (where the valve is: it lags the
command by its stroke and stays put while stuck; what a feedback point shows),
valve_command_pct.<valve>, pump_on (effective: commanded and not failed), pump_command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import random
from typing import Any

from simulator import water
from simulator.faults import FaultBoard
from simulator.site import Site, SiteError

UPS_FLAGS = (
    "online",
    "on_battery",
    "low_battery",
    "charging",
    "bypass",
    "fault",
    "input_bad",
    "output_off",
    "self_test",
    "high_efficiency",
    "info_alert",
)
UPS_SOURCES = ("normal", "battery", "bypass", "off")
DAY_S = 86400.0


class UnknownQuantityError(KeyError):
    """A quantity name the model does not have."""


@dataclass
class _Flows:
    """Powers (W) and loop conditions at one instant, shared by the parts of one update."""

    mains: bool
    p_it: float = 0.0
    q_rdhx: float = 0.0
    t_sup: float = 0.0
    cp: float = 4180.0
    c_water: float = 0.0
    total_g: float = 1.0
    q_ac: float = 0.0
    q_room_loss: float = 0.0
    conductance: dict[str, float] = field(default_factory=dict)
    dest_power: dict[str, float] = field(default_factory=dict)
    space_net: dict[str, float] = field(default_factory=dict)
    space_heating: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Event:
    start_s: float
    end_s: float
    amount: float


class SiteModel:
    """Physical state of a site, advanced by ``step``; see the module docstring."""

    def __init__(self, site: Site, faults: FaultBoard | None = None, seed: int = 0) -> None:
        """Build the model at time 0 from the site's parameters."""
        self.site = site
        self.faults = faults if faults is not None else FaultBoard(site)
        self.seed = seed
        p = site.params
        try:
            self._clock = p["clock"]
            self._outdoor: dict[str, float] = {
                "mean_c": float(p["outdoor"]["mean_c"]),
                "amplitude_k": float(p["outdoor"]["amplitude_k"]),
                "warmest_hour": float(p["outdoor"]["warmest_hour"]),
                "offset_k": float(p["outdoor"].get("offset_k", 0.0)),
            }
            self._outdoor_days: dict[str, dict[str, Any]] = p["outdoor"].get("days") or {}
            self._outdoor_base = dict(self._outdoor)
            self._rack = p["rack"]
            self._room = p["room"]
            self._loop = p["loop"]
            self._dest: dict[str, dict[str, Any]] = p["destinations"]
            self._spaces: dict[str, dict[str, Any]] = p.get("spaces") or {}
            self._ups = p["ups"]
            self.internal_step_s = float(p.get("model", {}).get("internal_step_s", 1.0))
            valves = p["valves"]
            self._stroke_pct_per_s = 100.0 / float(valves["stroke_s"])
            for name, dest in self._dest.items():
                if dest["kind"] == "space" and name not in self._spaces:
                    raise SiteError(f"{site.path}: destination {name} has no entry in spaces")
            self.time_s = 0.0
            self.valve_position = {v: float(valves["initial_pct"].get(v, 0.0)) for v in self._dest}
            self.valve_command = dict(self.valve_position)
            self.pump_command = bool(self._loop.get("pump_on_initially", True))
            self.loop_c = float(self._loop["initial_c"])
            self.room_c = float(self._room["initial_c"])
            self.space_c = {s: float(v["initial_c"]) for s, v in self._spaces.items()}
            self.space_loss_w_per_k = {
                s: float(v["loss_to_outdoor_w_per_k"]) for s, v in self._spaces.items()
            }
            self._loop_mass_kg = float(self._loop["volume_m3"]) * water.density(self.loop_c)
            self._room_capacity = float(self._room["capacity_j_per_k"])
            self.battery_wh = (
                float(self._ups["battery_wh"])
                * float(self._ups.get("initial_charge_pct", 100.0))
                / 100.0
            )
            self._pdu_start_wh = float(p.get("pdu", {}).get("initial_energy_wh", 0.0))
            self._meter_start_wh = float(p.get("heat_meter", {}).get("initial_energy_wh", 0.0))
        except (KeyError, TypeError, ValueError) as err:
            raise SiteError(f"{site.path}: bad or missing physics parameter: {err}") from err
        # A branch meter's counter starts where the site file says (a meter is never new).
        self._dest_meter_start_wh = float(p.get("branch_meters", {}).get("initial_energy_wh", 0.0))
        self._dest_ledger = {
            d: f"rejected.{d}" if self._dest[d]["kind"] == "outdoor" else f"delivered.{d}"
            for d in self._dest
        }
        self._stored_ref_j = self._stored_j()
        self._events: dict[tuple[str, int], list[_Event]] = {}
        self._ledger_j: dict[str, float] = {"it_energy": 0.0, "heat_to_loop": 0.0}
        for key in self._dest_ledger.values():
            self._ledger_j[key] = 0.0
        self._ledger_j["rejected.room"] = 0.0
        for s in self._spaces:
            self._ledger_j[f"space_heating.{s}"] = 0.0
        self._q: dict[str, float] = {}
        self._faults_version = -1
        self._update(0.0)

    # ----------------------------------------------------------------- interface for servers
    def quantity(self, name: str) -> float:
        """The current value of a named quantity (see the module docstring for the names)."""
        self._refresh()
        try:
            return self._q[name]
        except KeyError:
            raise UnknownQuantityError(name) from None

    def quantities(self) -> dict[str, float]:
        """Every quantity and its current value."""
        self._refresh()
        return dict(self._q)

    def _refresh(self) -> None:
        # A fault added or cleared since the last update changes what the model shows now.
        if self.faults.version != self._faults_version:
            self._update(0.0)

    def command_valve(self, valve: str, percent: float) -> None:
        """Set a valve's command (0..100 %); it moves there at its stroke rate unless stuck."""
        if valve not in self.valve_command:
            raise KeyError(f"unknown valve {valve!r}")
        self.valve_command[valve] = min(100.0, max(0.0, float(percent)))
        self._update(0.0)

    def command_pump(self, on: bool) -> None:
        """Switch the loop pump's command on or off."""
        self.pump_command = bool(on)
        self._update(0.0)

    def set_space(
        self, space: str, *, temperature_c: float | None = None, loss_w_per_k: float | None = None
    ) -> None:
        """Set a space's temperature now and/or its conductance to outdoors (W/K)."""
        if space not in self.space_c:
            raise KeyError(f"unknown space {space!r}; spaces: {', '.join(self.space_c)}")
        if temperature_c is not None:
            self.space_c[space] = float(temperature_c)
        if loss_w_per_k is not None:
            self.space_loss_w_per_k[space] = float(loss_w_per_k)
        self._update(0.0)

    def set_outdoor(self, day: str | None = None, **curve: float) -> dict[str, float]:
        """Change the outdoor curve: a named day of the site file's ``outdoor.days`` (the site
        file's curve with the day's values), then any of mean_c, amplitude_k, warmest_hour,
        offset_k.
        Returns the curve in force."""
        unknown = sorted(set(curve) - set(self._outdoor))
        if unknown:
            raise KeyError(f"unknown outdoor parameter(s) {', '.join(unknown)}")
        if day is not None:
            if day not in self._outdoor_days:
                known = ", ".join(self._outdoor_days) or "none"
                raise KeyError(f"unknown day {day!r}; days: {known}")
            preset = self._outdoor_days[day]
            self._outdoor = dict(self._outdoor_base)
            self._outdoor.update({k: float(preset[k]) for k in self._outdoor if k in preset})
        self._outdoor.update({k: float(v) for k, v in curve.items()})
        self._update(0.0)
        return self.outdoor_curve()

    def outdoor_curve(self) -> dict[str, float]:
        """The outdoor curve in force: mean_c, amplitude_k, warmest_hour, offset_k."""
        return dict(self._outdoor)

    def outdoor_days(self) -> list[str]:
        """The named days of the site file (outdoor.days)."""
        return list(self._outdoor_days)

    def step(self, dt_s: float) -> None:
        """Advance simulated time by dt_s seconds, in internal steps of at most internal_step_s."""
        remaining = float(dt_s)
        while remaining > 1e-9:
            h = min(self.internal_step_s, remaining)
            self._update(h)
            remaining -= h

    def ledgers(self) -> dict[str, float]:
        """Ground truth since start in Wh: it_energy_wh, heat_to_loop_wh, delivered_wh.<d>,
        rejected_wh.<dry cooler|room>, stored_wh, space_heating_wh.<space>, and the balance
        (it_energy − delivered − rejected − stored, ideally 0)."""
        out: dict[str, float] = {}
        for key, joules in self._ledger_j.items():
            head, _, tail = key.partition(".")
            out[f"{head}_wh" + (f".{tail}" if tail else "")] = joules / 3600.0
        out["stored_wh"] = (self._stored_j() - self._stored_ref_j) / 3600.0
        delivered = sum(v for k, v in out.items() if k.startswith("delivered_wh."))
        rejected = sum(v for k, v in out.items() if k.startswith("rejected_wh."))
        out["delivered_wh"] = delivered
        out["rejected_wh"] = rejected
        out["balance_wh"] = out["it_energy_wh"] - delivered - rejected - out["stored_wh"]
        return out

    # ---------------------------------------------------------------------------- physics
    def _stored_j(self) -> float:
        return self._loop_mass_kg * water.enthalpy(self.loop_c) + self._room_capacity * self.room_c

    def _update(self, dt: float) -> None:
        """Compute every flow at the current state; with dt > 0 integrate and advance time."""
        self.faults.tick(self.time_s)
        t = self.time_s
        hour = (float(self._clock["start_hour"]) + t / 3600.0) % 24.0
        shop_open = float(self._clock["open_hour"]) <= hour < float(self._clock["close_hour"])
        out = self._outdoor
        t_out = (
            out["mean_c"]
            + out["amplitude_k"] * math.cos(2.0 * math.pi * (hour - out["warmest_hour"]) / 24.0)
            + out["offset_k"]
        )
        q: dict[str, float] = {"time_s": t, "time_of_day_h": hour, "shop_open": float(shop_open)}
        q["outdoor_temperature_c"] = t_out
        flows = _Flows(mains=not self.faults.active("mains_outage"))
        self._power(q, flows, t, hour)
        self._rack_and_loop(q, flows)
        self._destinations(q, flows, t_out)
        self._room_air(q, flows, t, hour)
        self._space_balances(q, flows, t=t, hour=hour, shop_open=shop_open, t_out=t_out)
        self._q = q
        self._faults_version = self.faults.version
        if dt > 0.0:
            self._integrate(q, flows, dt)
            self.time_s = t + dt
            self._update(0.0)

    def _power(self, q: dict[str, float], flows: _Flows, t: float, hour: float) -> None:
        """UPS state, IT power and the PDU's readings."""
        ups = self._ups
        battery_full = float(ups["battery_wh"])
        mains = flows.mains
        output_on = mains or self.battery_wh > 0.0
        p_it = self._it_power(t, hour) if output_on else 0.0
        runtime = min(self.battery_wh * 3600.0 / p_it if p_it > 0 else DAY_S, DAY_S)
        flags = {
            "online": mains,
            "on_battery": not mains,
            "low_battery": runtime < float(ups["low_battery_runtime_s"]),
            "charging": mains and self.battery_wh < battery_full,
            "bypass": False,
            "fault": not output_on,
            "input_bad": not mains,
            "output_off": not output_on,
            "self_test": False,
            "high_efficiency": False,
            "info_alert": False,
        }
        for flag in UPS_FLAGS:
            q[f"ups_status.{flag}"] = float(flags[flag])
        source = "normal" if mains else ("battery" if output_on else "off")
        for name in UPS_SOURCES:
            q[f"ups_output_source.{name}"] = float(name == source)
        q["ups_battery_charge_pct"] = 100.0 * self.battery_wh / battery_full
        q["ups_runtime_s"] = runtime
        q["ups_load_pct"] = 100.0 * p_it / float(ups["rating_w"])
        q["ups_input_voltage_v"] = (
            float(ups["input_voltage_v"]) + self._ripple(t, 0.8, 3301.0) if mains else 0.0
        )
        q["ups_output_power_w"] = p_it
        volts = (
            float(self._rack["pdu_voltage_v"]) + self._ripple(t, 1.2, 4111.0) if output_on else 0.0
        )
        q["it_power_w"] = p_it
        q["pdu_voltage_v"] = volts
        q["pdu_current_a"] = p_it / volts if volts > 0 else 0.0
        q["it_energy_wh"] = self._pdu_start_wh + self._ledger_j["it_energy"] / 3600.0
        flows.p_it = p_it

    def _rack_and_loop(self, q: dict[str, float], flows: _Flows) -> None:
        """Server air, the rear-door heat exchanger, the pump and the loop's flow."""
        rack = self._rack
        c_air = (
            float(rack["server_airflow_m3s"])
            * float(rack["air_density_kg_m3"])
            * float(rack["air_cp_j_per_kgk"])
        )
        t_server_ex = self.room_c + flows.p_it / c_air
        pump_on = self.pump_command and not self.faults.active("pump_failure")
        flows.conductance = {
            v: float(self._dest[v]["valve_conductance"]) * self.valve_position[v] / 100.0
            for v in self._dest
        }
        flows.total_g = float(self._loop["bypass_conductance"]) + sum(flows.conductance.values())
        flow_m3h = float(self._loop["pump_flow_m3h"]) * min(1.0, flows.total_g) if pump_on else 0.0
        rho = water.density(self.loop_c)
        flows.cp = water.specific_heat(self.loop_c)
        flows.c_water = flow_m3h / 3600.0 * rho * flows.cp
        if flows.c_water > 0.0:
            flows.q_rdhx = (
                float(rack["rdhx_effectiveness"])
                * min(c_air, flows.c_water)
                * max(0.0, t_server_ex - self.loop_c)
            )
            flows.t_sup = self.loop_c + flows.q_rdhx / flows.c_water
        else:
            flows.q_rdhx, flows.t_sup = 0.0, self.loop_c
        q["inlet_temperature_c"] = self.room_c
        q["exhaust_temperature_c"] = t_server_ex - flows.q_rdhx / c_air
        q["loop_supply_temperature_c"] = flows.t_sup
        q["loop_return_temperature_c"] = self.loop_c
        q["loop_flow_m3h"] = flow_m3h
        q["loop_density_kg_m3"] = rho
        q["loop_cp_j_per_kgk"] = flows.cp
        q["heat_meter_power_w"] = flows.q_rdhx
        q["heat_meter_energy_wh"] = self._meter_start_wh + self._ledger_j["heat_to_loop"] / 3600.0
        q["pump_on"] = float(pump_on)
        q["pump_command"] = float(self.pump_command)

    def _destinations(self, q: dict[str, float], flows: _Flows, t_out: float) -> None:
        """Heat taken by each path's heat exchanger from the loop's supply."""
        for name, dest in self._dest.items():
            kind = dest["kind"]
            hx = float(dest["hx_w_per_k"])
            if kind == "space":
                sink = self.space_c[name]
            elif kind == "outdoor":
                sink = t_out
                # Fans modulate around the supply setpoint; failed fans leave natural convection.
                still = float(dest.get("failed_hx_w_per_k", 0.0))
                fan = float(dest["fan_gain_per_k"]) * (
                    flows.t_sup - float(dest["supply_setpoint_c"])
                )
                if self.faults.active("cooling_failure", "dry_cooler"):
                    fan = 0.0
                hx = still + (hx - still) * min(1.0, max(0.0, fan))
            else:
                sink = float(dest["sink_c"])
            c_branch = flows.c_water * flows.conductance[name] / flows.total_g
            power = float(dest["effectiveness"]) * min(c_branch, hx) * max(0.0, flows.t_sup - sink)
            if kind == "sink" and "heating_limit_c" in dest:
                # The mall's heating curve: no demand, no heat taken; the rest stays in the loop.
                demand = float(dest["demand_w_per_k"]) * max(
                    0.0, float(dest["heating_limit_c"]) - t_out
                )
                q[f"destination_demand_w.{name}"] = demand
                power = min(power, demand)
            flows.dest_power[name] = power
            q[f"destination_power_w.{name}"] = power
            # What a meter on the branch reads: its share of the loop's flow, the loop's supply,
            # and the return its heat exchanger leaves; its counter is the branch's ledger.
            q[f"destination_flow_m3h.{name}"] = (
                q["loop_flow_m3h"] * flows.conductance[name] / flows.total_g
            )
            q[f"destination_return_temperature_c.{name}"] = (
                flows.t_sup - power / c_branch if c_branch > 0.0 else flows.t_sup
            )
            q[f"destination_energy_wh.{name}"] = (
                self._dest_meter_start_wh + self._ledger_j[self._dest_ledger[name]] / 3600.0
            )
            q[f"valve_position_pct.{name}"] = self.valve_position[name]
            q[f"valve_command_pct.{name}"] = self.valve_command[name]

    def _room_air(self, q: dict[str, float], flows: _Flows, t: float, hour: float) -> None:
        """The back room: AC, exchange with the building, humidity and the door."""
        room = self._room
        if self.faults.active("cooling_failure", "room"):
            flows.q_ac = 0.0
        else:
            error = self.room_c - float(room["ac_setpoint_c"])
            flows.q_ac = min(
                float(room["ac_max_w"]), max(0.0, float(room["ac_gain_w_per_k"]) * error)
            )
        flows.q_room_loss = float(room["loss_to_surroundings_w_per_k"]) * (
            self.room_c - float(room["surroundings_c"])
        )
        q["room_ac_power_w"] = flows.q_ac
        q["humidity_pct"] = float(room["humidity_mean_pct"]) + float(
            room["humidity_amplitude_pct"]
        ) * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)
        q["door_open"] = float(self._in_event("door", t, hour) > 0.0)

    def _space_balances(
        self,
        q: dict[str, float],
        flows: _Flows,
        *,
        t: float,
        hour: float,
        shop_open: bool,
        t_out: float,
    ) -> None:
        """Each space's heating, gains and loss to outdoors."""
        for name, sp in self._spaces.items():
            temp = self.space_c[name]
            setpoint = float(sp["setpoint_open_c"] if shop_open else sp["setpoint_closed_c"])
            error = setpoint - temp
            heating = min(
                float(sp["heating_max_w"]), max(0.0, float(sp["heating_gain_w_per_k"]) * error)
            )
            occupied = self._occupied(name, t, hour, shop_open)
            gains = float(sp["occupant_gain_w"]) * float(sp["occupants_open"]) * occupied
            loss = self.space_loss_w_per_k[name] * (temp - t_out)
            flows.space_net[name] = flows.dest_power.get(name, 0.0) + heating + gains - loss
            flows.space_heating[name] = heating
            q[f"space_temperature_c.{name}"] = temp
            q[f"space_setpoint_c.{name}"] = setpoint
            q[f"occupancy.{name}"] = float(occupied > 0.0)
            q[f"space_heating_power_w.{name}"] = heating

    def _integrate(self, q: dict[str, float], flows: _Flows, dt: float) -> None:
        """Advance the state and the ledgers by one explicit Euler step."""
        led = self._ledger_j
        led["it_energy"] += flows.p_it * dt
        led["heat_to_loop"] += flows.q_rdhx * dt
        for name, power in flows.dest_power.items():
            kind = "rejected" if self._dest[name]["kind"] == "outdoor" else "delivered"
            led[f"{kind}.{name}"] += power * dt
        led["rejected.room"] += (flows.q_ac + flows.q_room_loss) * dt
        removed = sum(flows.dest_power.values())
        self.loop_c += (flows.q_rdhx - removed) * dt / (self._loop_mass_kg * flows.cp)
        room_net = flows.p_it - flows.q_rdhx - flows.q_ac - flows.q_room_loss
        self.room_c += room_net * dt / self._room_capacity
        for name, sp in self._spaces.items():
            led[f"space_heating.{name}"] += flows.space_heating[name] * dt
            self.space_c[name] += flows.space_net[name] * dt / float(sp["capacity_j_per_k"])
        for valve, target in self.valve_command.items():
            if self.faults.active("valve_stuck", valve):
                continue
            pos = self.valve_position[valve]
            most = self._stroke_pct_per_s * dt
            self.valve_position[valve] = pos + max(-most, min(most, target - pos))
        battery_full = float(self._ups["battery_wh"])
        if flows.mains:
            charge = float(self._ups["charge_w"]) * dt / 3600.0
            self.battery_wh = min(battery_full, self.battery_wh + charge)
        else:
            self.battery_wh = max(0.0, self.battery_wh - flows.p_it * dt / 3600.0)

    # ----------------------------------------------------------------- the shop's day
    def _it_power(self, t: float, hour: float) -> float:
        rack = self._rack
        open_h, close_h = float(self._clock["open_hour"]), float(self._clock["close_hour"])
        if open_h <= hour < close_h:
            power = float(rack["open_w"]) + float(rack["midday_extra_w"]) * math.exp(
                -(((hour - 13.0) / 1.5) ** 2)
            )
        else:
            power = float(rack["night_w"])
        power += self._in_event("burst", t, hour) + self._ripple(t, 40.0, 617.0)
        return min(float(rack["max_w"]), max(float(rack["min_w"]), power))

    @staticmethod
    def _ripple(t: float, amplitude: float, period_s: float) -> float:
        """A small deterministic wobble so that readings are never perfectly flat."""
        return amplitude * math.sin(2.0 * math.pi * t / period_s)

    def _occupied(self, space: str, t: float, hour: float, shop_open: bool) -> float:
        # A space with visits (the stockroom) is occupied now and then; others while open.
        if "visits_per_open_hour" in self._spaces[space]:
            return 1.0 if self._in_event(f"visit:{space}", t, hour) > 0.0 else 0.0
        return 1.0 if shop_open else 0.0

    def _in_event(self, kind: str, t: float, hour: float) -> float:
        """The amount of the seeded event of this kind in progress at time t, or 0."""
        # Days run from local midnight, not from the start time: a day counted from a start
        # after opening would put its own opening hours before itself and lose their events.
        midnight_s = t - hour * 3600.0
        day = round((midnight_s + float(self._clock["start_hour"]) * 3600.0) / DAY_S)
        events = self._events.get((kind, day))
        if events is None:
            events = self._make_events(kind, day, midnight_s)
            self._events[(kind, day)] = events
            self._events.pop((kind, day - 2), None)
        for event in events:
            if event.start_s <= t < event.end_s:
                return event.amount
        return 0.0

    def _make_events(self, kind: str, day: int, midnight_s: float) -> list[_Event]:
        """Seeded Poisson events within the day's opening hours (deterministic per seed).

        The seed takes the calendar day (0 = the start's day), so a local day's events are the
        same whatever hour the simulation started at.
        """
        rack, room = self._rack, self._room
        if kind.startswith("visit:"):
            space = self._spaces[kind.partition(":")[2]]
            spec = (space["visits_per_open_hour"], space["visit_s"], [1.0, 1.0])
        else:
            spec = {
                "burst": (rack["bursts_per_open_hour"], rack["burst_s"], rack["burst_w"]),
                "door": (room["door_openings_per_open_hour"], room["door_open_s"], [1.0, 1.0]),
            }[kind]
        rate, (len_lo, len_hi), (amt_lo, amt_hi) = float(spec[0]), spec[1], spec[2]
        # day·86400: a site that starts before opening keeps the events it always had.
        rng = random.Random(f"{self.seed}:{kind}:{day * round(DAY_S)}")
        open_s = midnight_s + float(self._clock["open_hour"]) * 3600.0
        close_s = midnight_s + float(self._clock["close_hour"]) * 3600.0
        events: list[_Event] = []
        at = open_s
        while rate > 0:
            at += rng.expovariate(rate / 3600.0)
            if at >= close_s:
                break
            length = rng.uniform(float(len_lo), float(len_hi))
            events.append(_Event(at, at + length, rng.uniform(float(amt_lo), float(amt_hi))))
            at += length
        return events

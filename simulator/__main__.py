"""Command line: ``python -m simulator [--site FILE] [--host H] [--modbus-port N]
[--bacnet-port N] [--bacnet-meter-port N] [--control-port N] [--speed X] [--seed N]``.

A port of 0 picks a free one. When every server listens, one line of JSON goes to stdout:
``{"ready": true, "modbus": {"host", "port"}, "bacnet": {"host", "port", "device_instance"},
"bacnet_meters": [{"name", "host", "port", "device_instance"}, ...], "control": {"host", "port"},
"speed": X, "seed": N}`` (``bacnet`` is null for a site without one; the site's BACnet heat meters
listen on consecutive ports from ``--bacnet-meter-port``). ``--fleet FILE`` serves many devices
instead of a site (simulator/fleet.py, its own ready line); ``--modbus-port`` and ``--bacnet-port``
are then the first of consecutive ports (0: free ones). It runs until SIGINT or SIGTERM, then closes
every server and exits 0. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from simulator.control import start_control
from simulator.profiles import ProfileError
from simulator.runner import SimulatorRunner
from simulator.site import SiteError, load_site


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return port


def _speed(text: str) -> float:
    speed = float(text)
    if not 0 <= speed <= 1e6:
        raise argparse.ArgumentTypeError("speed is 0..1e6 (0: time stands still)")
    return speed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="microdc's site simulator: Modbus TCP and BACnet/IP over a thermal model.",
    )
    parser.add_argument("--site", help="site file (YAML); default: the built-in demo site")
    parser.add_argument("--fleet", help="fleet file (YAML): many devices, no thermal model")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--modbus-port", type=_port, default=5020)
    parser.add_argument("--bacnet-port", type=_port, default=47808)
    parser.add_argument(
        "--bacnet-meter-port",
        type=_port,
        default=0,
        help="first port of the site's BACnet heat meters, one each (default 0: free ones)",
    )
    parser.add_argument("--control-port", type=_port, default=8099)
    parser.add_argument(
        "--speed", type=_speed, default=1.0, help="simulated seconds per wall second (0: paused)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the day's random events")
    parser.add_argument("--log-level", default="WARNING", help="stderr log level")
    return parser.parse_args(argv)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def run_fleet(args: argparse.Namespace) -> None:
    """The fleet mode: every gateway and controller of the fleet file, until a signal."""
    from simulator.fleet import FleetRunner, load_fleet, start_fleet_control  # noqa: PLC0415

    runner = FleetRunner(
        load_fleet(args.fleet),
        host=args.host,
        modbus_port=args.modbus_port,
        bacnet_port=args.bacnet_port,
        speed=args.speed,
    )
    control = None
    try:
        await runner.start()
        control = await start_fleet_control(runner, args.host, args.control_port)
        sys.stdout.write(json.dumps(runner.ready_info()) + "\n")
        sys.stdout.flush()
        await _until_signal()
    finally:
        if control is not None:
            await control.cleanup()
        await runner.stop()


async def run(args: argparse.Namespace) -> None:
    """Start everything, print the ready line, wait for a signal, stop everything."""
    if args.fleet is not None:
        await run_fleet(args)
        return
    site = load_site(args.site)
    runner = SimulatorRunner(
        site,
        host=args.host,
        modbus_port=args.modbus_port,
        bacnet_port=args.bacnet_port,
        control_port=args.control_port,
        bacnet_meter_port=args.bacnet_meter_port,
        speed=args.speed,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    control = None
    try:
        await runner.start()
        control = await start_control(runner, args.host, args.control_port)
        sys.stdout.write(json.dumps(runner.ready_info()) + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        if control is not None:
            await control.cleanup()
        await runner.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(run(args))
    except (SiteError, ProfileError, OSError) as err:
        sys.stderr.write(f"simulator: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

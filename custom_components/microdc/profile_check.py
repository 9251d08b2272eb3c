"""Check profile files before copying them to Home Assistant (python -m ...profile_check).

Prints, per file, the same errors the "invalid profiles" repair issue lists, or the register
blocks microdc will read for the profile (protocols/block_planner.py). Exit status 0 when every
file is a valid profile, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import sys
from typing import TextIO

from .lib.profile import (
    BUILTIN_PROFILES_DIR,
    Profile,
    ProfileError,
    ProfileValidationError,
    load_profile_file,
)
from .lib.protocols.block_planner import DEFAULT_MAX_GAP, plan_reads

USAGE = "usage: python -m custom_components.microdc.profile_check PROFILE.yaml..."


def describe(
    profile: Profile, path: Path | None = None, *, max_gap: int = DEFAULT_MAX_GAP
) -> list[str]:
    """What microdc makes of a valid profile: its points and the reads it plans."""
    blocks = plan_reads(profile.points.values(), max_gap=max_gap)
    lines = [
        f"{profile.source}: ok: {profile.manufacturer} {profile.model},"
        f" {len(profile.points)} points in {len(blocks)} reads"
    ]
    builtin = BUILTIN_PROFILES_DIR / f"{profile.profile_id}.yaml"
    if builtin.is_file() and (path is None or path.resolve() != builtin.resolve()):
        lines.append(f"  note: replaces the built-in profile {profile.profile_id!r}")
    for block in blocks:
        unit = "bits" if block.table.is_bits else "registers"
        keys = ", ".join(point.key for point in block.points)
        lines.append(
            f"  read {block.table} {block.address}..{block.end - 1} ({block.count} {unit}): {keys}"
        )
    writable = [point.key for point in profile.points.values() if point.writable]
    if writable:
        lines.append(f"  writable: {', '.join(writable)}")
    return lines


def check_file(path: Path) -> tuple[Profile | None, list[ProfileError]]:
    """The profile in the file, or the errors that keep microdc from loading it."""
    if not path.is_file():
        return None, [ProfileError(file=path.name, message="no such file")]
    try:
        return load_profile_file(path), []
    except ProfileValidationError as err:
        return None, err.errors


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Check each file named on the command line; the exit status says whether all passed."""
    args = list(sys.argv[1:] if argv is None else argv)
    stream = out or sys.stdout
    if not args or any(arg in ("-h", "--help") for arg in args):
        print(USAGE, file=stream)
        return 2
    failed = False
    for arg in args:
        profile, errors = check_file(Path(arg))
        if profile is None:
            failed = True
            print(f"{Path(arg).name}: not loaded:", file=stream)
            for error in errors:
                # The repair issue's wording: one "- file: points.key.field: message" per error.
                print(f"- {error}", file=stream)
            continue
        for line in describe(profile, Path(arg)):
            print(line, file=stream)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

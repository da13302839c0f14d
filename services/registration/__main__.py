"""``python -m services.registration replay``: rebuild the decisions and the status read model
from the log into empty tables and compare them with the live ones (see ``replay.py``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gelombang.logs import configure_logging
from services.registration.replay import replay
from services.registration.settings import ProjectorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.registration", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("replay", help="rebuild from the log, compare with the live tables")
    run.add_argument("--schema", default="replay", help="schema for the rebuilt tables")
    run.add_argument("--keep", action="store_true", help="keep the rebuilt tables afterwards")
    run.add_argument(
        "--live-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the live projector to reach the snapshot before comparing",
    )
    args = parser.parse_args(argv)
    settings = ProjectorSettings()
    configure_logging("registration-replay", "WARNING")
    result = asyncio.run(replay(settings, args.schema, args.keep, args.live_timeout))
    print(
        f"registrations rebuilt: {result.replayed:,}\n"
        f"  verdicts that differ from the live ones: {result.verdicts_differ}\n"
        f"  NIK claims that differ: {result.claims_differ}\n"
        f"  statuses that differ: {result.statuses_differ}"
        f" (and {result.statuses_moved_on} that moved on after the snapshot)\n"
        f"  not yet in the live read model: {result.missing_live}\n"
        + ("same decisions as live" if result.same else "DIFFERENT from live")
    )
    return 0 if result.same else 1


if __name__ == "__main__":
    sys.exit(main())

"""python -m deploy.dashboards write | check (from the repository root)."""

from __future__ import annotations

import argparse
import sys

from deploy.dashboards.generate import ROOT, stale_files, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.dashboards",
        description="Generate the Grafana dashboards and the Prometheus console pages from"
        " deploy/dashboards/panels.py.",
    )
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    if args.command == "write":
        for path in write():
            verb = "wrote" if path.exists() else "deleted"
            print(f"{verb} {path.relative_to(ROOT)}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"out of date: {path.relative_to(ROOT)}")
    if stale:
        print("run: .venv/bin/python -m deploy.dashboards write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

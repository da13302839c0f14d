"""python -m deploy.gateway write | check (from the repository root)."""

from __future__ import annotations

import argparse
import sys

from deploy.gateway.render import ROOT, stale_files, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.gateway",
        description="Render the compose and Kubernetes gateway configs from"
        " deploy/gateway/nginx.conf.template.",
    )
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    if args.command == "write":
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"out of date: {path.relative_to(ROOT)}")
    if stale:
        print("run: .venv/bin/python -m deploy.gateway write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""The command lines of Gelombang's processes, parsed in one place: an API's or a worker's
(``--host``, ``--port``) and a Kafka set-up step's (``ensure [--timeout S]``).

Apart from ``gelombang.serving`` (FastAPI, uvicorn) and ``gelombang.topics`` (aiokafka) so that
a worker or the ACL step does not load another process's stack just to read its arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from gelombang.logs import configure_logging
from gelombang.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def command_line(
    settings: Callable[[], S], *, description: str, port: int
) -> tuple[S, str, int]:
    """Every process's command line: ``--host`` and ``--port`` (an API's, or a worker's probes),
    then its settings from the environment and its logging; returns settings, host and port."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    args = parser.parse_args()
    chosen = settings()
    configure_logging(chosen.service_name, chosen.log_level)
    return chosen, args.host, args.port


def ensure_command(
    description: str | None, argv: list[str] | None, timeout_s: float
) -> tuple[CommonSettings, float]:
    """The command line of each Kafka set-up step (``python -m ... ensure [--timeout S]``):
    the settings it reads and its timeout."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("command", choices=["ensure"])
    parser.add_argument("--timeout", type=float, default=timeout_s)
    args = parser.parse_args(argv)
    return CommonSettings(), args.timeout

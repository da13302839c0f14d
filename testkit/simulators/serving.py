"""The command line the simulators share: where they listen, the key they accept, and how the
HTTP ones start (their faults from flags and environment, one uvicorn without access log)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from gelombang.logs import configure_logging
from testkit.simulators.faults import (
    FaultConfig,
    Faults,
    add_fault_arguments,
    fault_config_from_args,
)


def simulator_parser(
    description: str, port: int, port_help: str | None = None
) -> argparse.ArgumentParser:
    """``--host`` (loopback unless told otherwise) and ``--port``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help=port_help)
    return parser


@dataclass(frozen=True)
class HttpSimulator:
    """What sets one HTTP simulator apart: its name in metrics and logs, the prefix of its
    environment variables and its default faults."""

    service: str
    env_prefix: str
    faults: FaultConfig

    def parser(self, description: str, port: int, key: str) -> argparse.ArgumentParser:
        """``--host``, ``--port`` and ``--api-key`` (``key``: what the API key is called in
        ``--help``), by default ``<prefix>API_KEY``; unset, any non-empty key is accepted."""
        parser = simulator_parser(description, port)
        parser.add_argument(
            "--api-key",
            default=os.environ.get(f"{self.env_prefix}API_KEY") or None,
            help=f"the only {key} accepted (default: any non-empty key)",
        )
        return parser

    def serve(
        self,
        parser: argparse.ArgumentParser,
        create_app: Callable[[Faults, argparse.Namespace], FastAPI],
    ) -> None:
        """Add the fault flags to ``parser``, read the command line and serve the app until a
        signal stops it."""
        add_fault_arguments(parser, self.env_prefix, self.faults)
        args = parser.parse_args()
        configure_logging(self.service, os.environ.get("GELOMBANG_LOG_LEVEL", "INFO"))
        app = create_app(Faults(fault_config_from_args(args)), args)
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            loop="uvloop",
            http="httptools",
            # Bodies and query strings carry personal data (NIKs, names, phone numbers); the RED
            # metrics replace access logs.
            access_log=False,
            log_level="warning",
        )

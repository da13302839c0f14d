"""The command line the simulators share: where they listen, the key they accept, and how the
HTTP ones start (their faults from flags and environment, one uvicorn without access log)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

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


def add_api_key_argument(parser: argparse.ArgumentParser, env_prefix: str, key: str) -> None:
    """``--api-key``, by default ``<prefix>API_KEY``; unset, any non-empty key is accepted."""
    parser.add_argument(
        "--api-key",
        default=os.environ.get(f"{env_prefix}API_KEY") or None,
        help=f"the only {key} accepted (default: any non-empty key)",
    )


def serve_http_simulator(
    service: str,
    parser: argparse.ArgumentParser,
    env_prefix: str,
    default_faults: FaultConfig,
    create_app: Callable[[Faults, argparse.Namespace], FastAPI],
) -> None:
    """Add the fault flags to ``parser``, read the command line and serve the app until a
    signal stops it."""
    add_fault_arguments(parser, env_prefix, default_faults)
    args = parser.parse_args()
    configure_logging(service, os.environ.get("GELOMBANG_LOG_LEVEL", "INFO"))
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

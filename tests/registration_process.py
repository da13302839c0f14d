"""A registration API process of a test's own, with its own limits, on a free port.

Admission and waiting-room tests need caps far below the stack's; changing the stack's own
processes would shed every other test. The instance shares the stack's Kafka, Redis and
Postgres and is stopped when the test is done.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def registration_api(service_name: str, settings: dict[str, str]) -> Iterator[str]:
    """Yields the base URL once /readyz answers; ``settings`` are GELOMBANG_* overrides."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.registration.app", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "GELOMBANG_SERVICE_NAME": service_name, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"the test's registration API ({service_name}) did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)

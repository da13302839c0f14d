"""What every Locust scenario shares: the sign-up user, the source address, the id files.

Settings come from the environment so ``make load`` can pass them through:

- ``LOAD_PEAK_PER_MIN`` (80000), ``LOAD_RAMP_S`` (60), ``LOAD_HOLD_S`` (180),
  ``LOAD_DURATION_S`` (600, the launch-day curve), ``LOAD_PER_USER_PER_S`` (1);
- ``GELOMBANG_LOAD_SOURCE`` (127.0.0.2): the loopback address the users connect from, which the
  gateway exempts from its per-IP limits; set it empty to connect from the default address;
- ``LOAD_OFFICERS`` (2): posko officers submitting a walk-in every 2 s on their own lane
  through the spike; Locust reports them as ``officer sign-up`` (issue 8: under 1 s);
- ``LOAD_IDS_DIR`` (reports/): each Locust process writes the registration ids it got a 202
  for to ``load-ids-<pid>.json`` there, for ``python -m loadtests.reconcile``.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from geventhttpclient.connectionpool import ConnectionPool
from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task

from gelombang.settings import REPO_ROOT
from loadtests.citizens import signup_payload
from loadtests.officer import ASSISTED, OFFICER_TARGET_MS, provision_officer, walk_in_payload
from loadtests.reconcile import write_ids

PEAK_PER_MIN = float(os.environ.get("LOAD_PEAK_PER_MIN", "80000"))
RAMP_S = float(os.environ.get("LOAD_RAMP_S", "60"))
HOLD_S = float(os.environ.get("LOAD_HOLD_S", "180"))
DURATION_S = float(os.environ.get("LOAD_DURATION_S", "600"))
PER_USER_PER_S = float(os.environ.get("LOAD_PER_USER_PER_S", "1"))
SOURCE = os.environ.get("GELOMBANG_LOAD_SOURCE", "127.0.0.2")
IDS_DIR = Path(os.environ.get("LOAD_IDS_DIR", str(REPO_ROOT / "reports")))
SIGNUP = "/api/v1/registrations"

_STARTED_MS = int(time.time() * 1000)
ACCEPTED: list[str] = []
# One generator per process: seeding a new one per request would read os.urandom each time.
RNG = random.Random()


def _bound_socket(self: ConnectionPool, family: int, socktype: int, protocol: int) -> socket.socket:
    # Locust has gevent patch the socket module on import, so this is gevent's socket.
    sock = socket.socket(family, socktype, protocol)
    if SOURCE and family == socket.AF_INET:
        sock.bind((SOURCE, 0))
    return sock


# geventhttpclient has no source-address option; its documented extension point is overriding
# the socket factory, which every FastHttpUser connection goes through.
ConnectionPool._create_tcp_socket = _bound_socket  # type: ignore[method-assign]


def _write_ids(**_: Any) -> None:
    write_ids(IDS_DIR / f"load-ids-{os.getpid()}.json", _STARTED_MS, ACCEPTED)


# Locust's event hooks are not annotated.
events.test_stop.add_listener(_write_ids)  # type: ignore[no-untyped-call]


def run_time(shape: LoadTestShape) -> float:
    # LoadTestShape.get_run_time is untyped; this is the same arithmetic, typed.
    return time.perf_counter() - float(shape.start_time)


class SignUpUser(FastHttpUser):
    """One person signing up once a second (paced), as the sign-up page does it."""

    abstract = True
    wait_time = constant_throughput(PER_USER_PER_S)
    # Loopback: connection set-up is cheap, and a slow answer must show as latency, not as an
    # error, up to the point a person would give up.
    network_timeout = 10.0
    connection_timeout = 5.0

    def sign_up(self, payload: dict[str, Any], expect: int = 202) -> dict[str, Any] | None:
        name = {202: "sign-up", 409: "sign-up (duplicate)", 422: "sign-up (invalid)"}[expect]
        with self.client.post(
            SIGNUP,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code} (expected {expect})")
                return None
            response.success()
            if expect != 202:
                return None
            body: dict[str, Any] = response.json()
            ACCEPTED.append(body["registration_id"])
            return body


class SpikeUser(SignUpUser):
    abstract = True

    @task
    def register(self) -> None:
        self.sign_up(signup_payload(RNG))


class OfficerUser(FastHttpUser):
    """A posko officer at a desk: one walk-in every two seconds, whatever the public does."""

    abstract = True
    fixed_count = int(os.environ.get("LOAD_OFFICERS", "2"))
    wait_time = constant_throughput(0.5)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        key = provision_officer(str(self.host), officer_name=f"Petugas Beban {os.getpid()}")
        self._authorization = f"Bearer {key.api_key}"

    @task
    def walk_in(self) -> None:
        sent = time.perf_counter()
        with self.client.post(
            f"{ASSISTED}/registrations",
            data=json.dumps(walk_in_payload(RNG)),
            headers={
                "Content-Type": "application/json",
                "Authorization": self._authorization,
                "Idempotency-Key": str(uuid.uuid4()),
            },
            name="officer sign-up",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code} (expected 202)")
                return
            # The request is complete when the block starts.
            if (time.perf_counter() - sent) * 1000 >= OFFICER_TARGET_MS:
                response.failure("answered in over 1 s")
                return
            response.success()
            ACCEPTED.append(response.json()["registration_id"])

"""What every Locust scenario shares: the sign-up user, the source address, the id files.

Settings come from the environment so ``make load`` can pass them through:

- ``LOAD_PEAK_PER_MIN`` (80000), ``LOAD_RAMP_S`` (60), ``LOAD_HOLD_S`` (180),
  ``LOAD_DURATION_S`` (600, the launch-day curve), ``LOAD_PER_USER_PER_S`` (1);
- ``GELOMBANG_LOAD_SOURCE`` (127.0.0.2): the loopback address the users connect from, which the
  gateway exempts from its per-IP limits; set it empty to connect from the default address;
- ``LOAD_OFFICERS`` (2): posko officers submitting a walk-in every 2 s on their own lane
  through the spike; Locust reports them as ``officer sign-up`` (issue 8: under 1 s);
- ``LOAD_IDS_DIR`` (reports/): each Locust process that runs users (not the master of
  ``--processes``) writes the registration ids it got a 202 for to ``load-ids-<pid>.json`` there
  when its users have stopped, with the number of 202s Locust's request hook counted, for
  ``python -m loadtests.reconcile --expect-files <processes>``.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geventhttpclient.connectionpool import ConnectionPool
from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.runners import MasterRunner

from gelombang.settings import REPO_ROOT
from loadtests.citizens import signup_payload
from loadtests.curves import spike_per_s, users_for
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
SIGN_UP_NAMES = {202: "sign-up", 409: "sign-up (duplicate)", 422: "sign-up (invalid)"}
OFFICER_SIGN_UP = "officer sign-up"
# Every request that can create a registration: a 202 to any of them must be reconciled, even
# one that was meant to be refused.
CREATING = frozenset({*SIGN_UP_NAMES.values(), OFFICER_SIGN_UP})

# Taken before --processes forks, so every worker's file starts from the same moment.
_STARTED_MS = int(time.time() * 1000)


@dataclass
class Accepted:
    """This process's 202s, kept twice: the ids the users read from the answers, and a count
    taken by Locust's request hook whatever the users did with the answers. They differ when a
    user dropped an accepted id, which the reconciliation then reports as unchecked."""

    ids: list[str] = field(default_factory=list)
    answered_202: int = 0


ACCEPTED = Accepted()
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


def count_202(name: str, response: Any = None, **_: Any) -> None:
    if name in CREATING and getattr(response, "status_code", None) == 202:
        ACCEPTED.answered_202 += 1


def write_accepted(environment: Environment, **_: Any) -> None:
    # The master of --processes runs no users: its file would be one more, always empty, and the
    # reconciliation counts files. A worker fires this once its users have stopped, which may be
    # after the locust command has returned; the reconciliation waits for it.
    if isinstance(environment.runner, MasterRunner):
        return
    path = IDS_DIR / f"load-ids-{os.getpid()}.json"
    write_ids(path, _STARTED_MS, ACCEPTED.ids, ACCEPTED.answered_202)


# Locust's event hooks are not annotated.
events.request.add_listener(count_202)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(write_accepted)  # type: ignore[no-untyped-call]


def json_object(response: FastResponse) -> dict[str, Any] | None:
    """The answer's JSON object; None for no answer, a cut one, or anything else."""
    try:
        body = json.loads(response.text or "")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def keep_accepted(response: FastResponse) -> dict[str, Any] | None:
    """A 202's body, its registration id kept for the reconciliation; None if it names none."""
    body = json_object(response)
    rid = body.get("registration_id") if body is not None else None
    if not isinstance(rid, str):
        return None
    ACCEPTED.ids.append(rid)
    return body


def run_time(shape: LoadTestShape) -> float:
    # LoadTestShape.get_run_time is untyped; this is the same arithmetic, typed.
    return time.perf_counter() - float(shape.start_time)


class SpikeShape(LoadTestShape):
    """Ramp to ``PEAK_PER_MIN`` in ``RAMP_S`` and hold it for ``HOLD_S``; then the shape returns
    None and Locust stops by itself."""

    abstract = True

    def tick(self) -> tuple[int, float] | None:
        rate = spike_per_s(run_time(self), RAMP_S, HOLD_S, PEAK_PER_MIN)
        if rate == 0.0:
            return None
        # Spawn fast enough to follow the ramp within a second.
        return users_for(rate, PER_USER_PER_S), max(10.0, PEAK_PER_MIN / 60 / max(RAMP_S, 1))


class SignUpUser(FastHttpUser):
    """One person signing up once a second (paced), as the sign-up page does it."""

    abstract = True
    wait_time = constant_throughput(PER_USER_PER_S)
    # Loopback: connection set-up is cheap, and a slow answer must show as latency, not as an
    # error, up to the point a person would give up.
    network_timeout = 10.0
    connection_timeout = 5.0

    def sign_up(self, payload: dict[str, Any], expect: int = 202) -> dict[str, Any] | None:
        with self.client.post(
            SIGNUP,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
            name=SIGN_UP_NAMES[expect],
            catch_response=True,
        ) as response:
            body = keep_accepted(response) if response.status_code == 202 else None
            if response.status_code != expect:
                response.failure(f"{response.status_code} (expected {expect})")
                return None
            if body is None and expect == 202:
                response.failure("202 without a registration id")
                return None
            response.success()
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
    target_ms = OFFICER_TARGET_MS
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
            name=OFFICER_SIGN_UP,
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code} (expected 202)")
                return
            # A slow answer is still an accepted registration to reconcile.
            if keep_accepted(response) is None:
                response.failure("202 without a registration id")
                return
            # The request is complete when the block starts.
            if (time.perf_counter() - sent) * 1000 >= self.target_ms:
                response.failure("answered in over 1 s")
                return
            response.success()

"""Fault suite: steady sign-ups through the gateway while one component at a time is SIGKILLed
and brought back, then every 202 reconciled against Kafka and Postgres.

``python -m loadtests.chaos [--faults projector,registration-0] [--rate 30]`` (``make chaos``).
Loopback only, bounded (each fault: ``--before-s`` of load, the kill, the restart through
``deploy/local/stack.py up``, ``--after-s`` more load), and it stops by itself. It signals only
processes of the local stack, by the pid in ``.run/pids/<name>.pid``, and restarts them itself.

Per fault, ``reports/chaos.json`` holds ``requests``, ``accepted`` (202), ``refused`` (429/503
with Retry-After: the honest answer during a fault), ``failed`` (anything else: a 5xx without
Retry-After, or no answer after every retry), ``lost`` and ``duplicated`` (from
``loadtests.reconcile``) and ``recovery_s`` (kill to the first 202 after it). Exit 1 on any
loss, duplicate or failed request.

Every request has its own Idempotency-Key; a timeout or a cut connection is retried with the
same key and body, so each key must end as exactly one registration.

Not yet covered (issue 9): SIGSTOP/SIGCONT pauses, a full disk under Kafka and Postgres, a TCP
proxy injecting latency and cut connections between the API and Kafka, and overload at 2x/3x
the measured knee.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from gelombang.settings import REPO_ROOT, CommonSettings
from loadtests.citizens import signup_payload
from loadtests.reconcile import check

GATEWAY = "http://127.0.0.1:8080"
# The gateway exempts this source address from its per-IP limits (the load tests use it too).
SOURCE_ADDRESS = "127.0.0.2"
PIDS = REPO_ROOT / ".run" / "pids"
REPORT = REPO_ROOT / "reports" / "chaos.json"
# App processes first: they are quick to restart. Infrastructure last.
ALL_FAULTS = (
    "registration-0",
    "projector",
    "verification-0",
    "civil-registry-sim",
    "redis",
    "kafka",
    "postgres",
)
ATTEMPTS = 4


@dataclass
class FaultResult:
    fault: str
    requests: int = 0
    accepted: int = 0
    refused: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    recovery_s: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    accepted_ids: list[str] = field(default_factory=list, repr=False)


async def sign_up(
    client: httpx.AsyncClient, result: FaultResult, rng: random.Random, killed_at: list[float]
) -> None:
    """One person, one key; retried with the same key and body until a final answer."""
    body = json.dumps(signup_payload(rng)).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    result.requests += 1
    started = time.monotonic()
    ids: set[str] = set()
    final: int | None = None
    for attempt in range(ATTEMPTS):
        try:
            response = await client.post("/api/v1/registrations", content=body, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        final = response.status_code
        if response.status_code == 202:
            ids.add(response.json()["registration_id"])
            break
        if response.status_code in (429, 503) and response.headers.get("Retry-After"):
            break
        if response.status_code >= 500:  # retry like a client would; counted if it persists
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        break
    result.statuses[str(final)] = result.statuses.get(str(final), 0) + 1
    if final == 202:
        result.accepted += 1
        result.accepted_ids.extend(ids)
        # Two different ids for one key would be one person registered twice.
        result.duplicated += len(ids) - 1
        if killed_at and started >= killed_at[0] and result.recovery_s is None:
            result.recovery_s = round(time.monotonic() - killed_at[0], 2)
    elif final in (429, 503):
        result.refused += 1
    else:
        result.failed += 1


async def steady_load(
    result: FaultResult, rate: float, seconds: float, rng: random.Random, killed_at: list[float]
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=SOURCE_ADDRESS)
    async with httpx.AsyncClient(base_url=GATEWAY, transport=transport, timeout=10) as client:
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate)
            for _ in range(due - sent):
                task = asyncio.create_task(sign_up(client, result, rng, killed_at))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            await asyncio.sleep(0.02)
        if tasks:
            await asyncio.wait(tasks, timeout=60)


def kill(name: str) -> None:
    pid = int((PIDS / f"{name}.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)


def bring_back() -> None:
    # `up` is idempotent: it starts exactly what is not running, i.e. the component just killed.
    subprocess.run(  # noqa: S603 - a fixed command line, no outside input
        [sys.executable, str(REPO_ROOT / "deploy" / "local" / "stack.py"), "up"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        timeout=300,
        check=True,
    )


async def one_fault(
    fault: str, rate: float, before_s: float, after_s: float, rng: random.Random
) -> FaultResult:
    result = FaultResult(fault)
    killed_at: list[float] = []

    async def inject() -> None:
        await asyncio.sleep(before_s)
        kill(fault)
        killed_at.append(time.monotonic())
        await asyncio.sleep(2)  # a moment of real outage before the restart
        await asyncio.to_thread(bring_back)

    load = asyncio.create_task(steady_load(result, rate, before_s + after_s, rng, killed_at))
    await inject()
    # The load goes on for after_s past the restart, at least, so recovery is observed.
    await asyncio.wait({load}, timeout=before_s + after_s + 300)
    return result


async def reconcile_all(results: list[FaultResult], since_ms: int, wait_s: float) -> None:
    """Each fault's 202s against Kafka and the read model, waiting for the projector to catch
    up (it may itself have been the component killed)."""
    settings = CommonSettings()
    deadline = time.monotonic() + wait_s
    for result in results:
        while True:
            outcome = await check(result.accepted_ids, since_ms, settings)
            if outcome.ok or time.monotonic() >= deadline:
                break
            await asyncio.sleep(2)
        result.lost = outcome.lost
        result.duplicated += outcome.duplicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated names")
    parser.add_argument("--rate", type=float, default=30.0, help="sign-ups per second")
    parser.add_argument("--before-s", type=float, default=5.0)
    parser.add_argument("--after-s", type=float, default=20.0)
    parser.add_argument("--reconcile-wait-s", type=float, default=120.0)
    args = parser.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(ALL_FAULTS)}")
    rng = random.Random()
    since_ms = int(time.time() * 1000)
    results: list[FaultResult] = []
    for fault in faults:
        print(f"chaos: {fault} ...", flush=True)
        results.append(asyncio.run(one_fault(fault, args.rate, args.before_s, args.after_s, rng)))
        print(f"chaos: {fault} {summary(results[-1])}", flush=True)
    asyncio.run(reconcile_all(results, since_ms, args.reconcile_wait_s))
    report: dict[str, Any] = {
        "rate_per_s": args.rate,
        "faults": {r.fault: public(r) for r in results},
        "totals": {k: sum(public_counts(r)[k] for r in results) for k in COUNTS},
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    for result in results:
        print(f"{result.fault:20} {summary(result)}")
    bad = [r.fault for r in results if r.lost or r.duplicated or r.failed or not r.accepted]
    print(f"report: {REPORT.relative_to(REPO_ROOT)}; " + (f"FAILED: {bad}" if bad else "ok"))
    return 1 if bad else 0


COUNTS = ("requests", "accepted", "refused", "failed", "lost", "duplicated")


def public_counts(result: FaultResult) -> dict[str, int]:
    return {k: int(getattr(result, k)) for k in COUNTS}


def public(result: FaultResult) -> dict[str, Any]:
    data = asdict(result)
    data.pop("accepted_ids")
    data.pop("fault")
    return data


def summary(result: FaultResult) -> str:
    counts = " ".join(f"{k} {v}" for k, v in public_counts(result).items())
    return f"{counts} recovery_s {result.recovery_s} statuses {result.statuses}"


if __name__ == "__main__":
    sys.exit(main())

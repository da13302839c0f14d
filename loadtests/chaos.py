"""Fault suite: steady sign-ups through the gateway while one component at a time is SIGKILLed
and brought back, then every 202 reconciled against Kafka and Postgres.

``python -m loadtests.chaos [--faults projector,pause-kafka] [--overload 2,3]`` (``make chaos``).
Loopback only, bounded (each fault: ``--before-s`` of load, the kill, the restart through
``deploy/local/stack.py up``, ``--after-s`` more load), and it stops by itself. It signals only
processes of the local stack, by the pid in ``.run/pids/<name>.pid``, and restarts them itself;
a killed app is first left to the stack's supervision (``restarted_by`` and ``new_pid_after_s``
in the report say who brought it back, and when).

Per fault, ``reports/chaos.json`` holds ``requests``, ``accepted`` (202), ``refused`` (429/503
with Retry-After: the honest answer during a fault), ``failed`` (anything else: a 5xx without
Retry-After, or no answer after every retry), ``lost`` and ``duplicated`` (from
``loadtests.reconcile``) and ``recovery_s`` (from the fault to the first 202 answered after the
last refusal or failure; with none, to the first 202 asked after the fault). Exit 1 on any
loss, duplicate or failed request.

Every request has its own Idempotency-Key; a timeout or a cut connection is retried with the
same key and body, so each key must end as exactly one registration.

Pauses (``pause-kafka``, ``pause-postgres``, ``pause-redis``): the process is SIGSTOPped for
``--pause-s`` and then SIGCONTed, which is what a long GC pause, a stalled disk or a frozen VM
looks like from outside: connections stay open and nothing answers.

Overload (``--overload 2,3``): after the faults, sign-ups are offered at 2x and 3x the knee that
``make bench`` measured (``reports/bench.json``, or ``--knee-per-s``; with neither, it is
measured first, the bench's way) through the gateway, while
a posko officer keeps submitting on the priority lane. Per multiple: goodput, shed (429/503 with
Retry-After), anything else (a 5xx, a refusal without Retry-After, a timeout), the API and
gateway's peak memory, whether every component is still alive, and the officer's latencies.
Exit 1 if anything but shedding went wrong, or an officer waited 1 s or more.

The link (``kafka-link``): a registration process of its own reaches Kafka only through
``loadtests.faulty_link`` (``tc netem`` is not available here), which adds 300 ms each way for
8 s, then cuts every connection once a second for 6 s, then refuses connections for 5 s.

Full disks (``disk-kafka``, ``disk-postgres``): the store is stopped, its data moved onto a
tmpfs with 64 MB to spare and the store started again; under load a ballast file fills that disk
to the last byte for 10 s and is then removed (the store restarted if the full disk stopped
it). Afterwards the data goes back to the real disk. Needs root (mount).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from deploy.local.installs import parse_env_file
from deploy.local.layout import STACK_ENV
from gelombang.settings import REPO_ROOT, CommonSettings
from loadtests.bench import GATEWAY, GATEWAY_URL, SOURCE, find_knee
from loadtests.citizens import signup_payload, unique_bodies
from loadtests.faulty_link import FaultyLink
from loadtests.generator import percentile, run_rate
from loadtests.officer import officer_lane, provision_officer
from loadtests.processes import (
    alive,
    component_pids,
    memory_mb_by_component,
    registration_api,
    running,
    stopped,
)
from loadtests.reconcile import check

REPORT = REPO_ROOT / "reports" / "chaos.json"
BENCH_REPORT = REPO_ROOT / "reports" / "bench.json"
# The bench's first knee steps: this machine's knee has been 50/s; bigger rigs should run the bench.
KNEE_STEPS = (25, 50, 100, 200, 300)
# App processes first: they are quick to restart, and the stack's supervision starts them again
# by itself (deploy/local/supervision.py). Infrastructure last: `stack.py up` restarts it.
APP_KILLS = ("registration-0", "projector", "verification-0", "civil-registry-sim")
KILLS = (*APP_KILLS, "redis", "kafka", "postgres")
# How long a killed app may take to have a new pid; past it, `up` starts it.
SUPERVISED_BACK_S = 60.0
PAUSES = ("pause-redis", "pause-kafka", "pause-postgres")
# A pause's watchdog resumes the process this long after the pause should have ended.
PAUSE_WATCHDOG_S = 5.0
# Between an API process and Kafka: latency, then cut connections, then the link down.
LINK = "kafka-link"
LINK_DELAY_S = 0.3
# A size-limited tmpfs under the store's data, filled to the last byte for a while.
DISKS = ("disk-kafka", "disk-postgres")
# With three brokers (`make up KAFKA_BROKERS=3`): one of them SIGKILLed and restarted, then two
# at once kept down for BROKERS_DOWN_S. On a one-broker stack they are skipped, and say so.
BROKER = "kafka-broker"
TWO_BROKERS = "kafka-two-brokers"
BROKER_FAULTS = (BROKER, TWO_BROKERS)
BROKER_DOWN_S = 15.0
ALL_FAULTS = (*KILLS, *PAUSES, LINK, *DISKS, *BROKER_FAULTS)
ATTEMPTS = 4


@dataclass(kw_only=True)
class Reconciled:
    """How a run's sign-ups were answered, and what reconcile_all found of its 202s in Kafka and
    the read model."""

    requests: int = 0
    accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0
    accepted_ids: list[str] = field(default_factory=list, repr=False)


@dataclass
class FaultResult(Reconciled):
    fault: str
    refused: int = 0
    failed: int = 0
    # 5xx answers other than 503 + Retry-After, even if a retry then got a 202: each was a broken
    # promise ("accept durably or refuse with 503 and Retry-After").
    server_errors: int = 0
    recovery_s: float | None = None
    # Answer times (monotonic) of 202s and of everything else, to work out recovery_s.
    accepted_at: list[float] = field(default_factory=list, repr=False)
    troubled_at: list[float] = field(default_factory=list, repr=False)
    #: What the fault did, where it is not obvious (connections that went through the link).
    detail: dict[str, Any] = field(default_factory=dict)
    fault_at: float | None = field(default=None, repr=False)  # monotonic, when it was injected

    @property
    def ok(self) -> bool:
        # No connection through the link would mean the process found Kafka some other way
        # and nothing was tested.
        tested = self.detail.get("connections_through_link", 1) > 0
        clean = not (self.lost or self.duplicated or self.failed or self.server_errors)
        return clean and self.accepted > 0 and tested


async def sign_up(
    client: httpx.AsyncClient, result: FaultResult, rng: random.Random, fault_at: list[float]
) -> None:
    """One person, one key; retried with the same key and body until a final answer."""
    body = json.dumps(signup_payload(rng)).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    result.requests += 1
    started = time.monotonic()
    ids: set[str] = set()
    final: int | str = "no answer"
    for attempt in range(ATTEMPTS):
        try:
            response = await client.post("/api/v1/registrations", content=body, headers=headers)
        except httpx.TransportError as exc:
            final = type(exc).__name__  # what is left if every attempt ends like this
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        except Exception as exc:  # a harness fault must show up in the counts
            final = f"harness error {type(exc).__name__}"
            break
        final = response.status_code
        if response.status_code == 202:
            ids.add(response.json()["registration_id"])
            break
        if response.status_code in (429, 503) and response.headers.get("Retry-After"):
            break
        if response.status_code >= 500:  # retry like a client would, but it counts
            result.server_errors += 1
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        break
    result.statuses[str(final)] = result.statuses.get(str(final), 0) + 1
    if final == 202:
        result.accepted += 1
        result.accepted_ids.extend(ids)
        # Two different ids for one key would be one person registered twice.
        result.duplicated += len(ids) - 1
        if fault_at and started >= fault_at[0]:
            result.accepted_at.append(time.monotonic())
    elif final in (429, 503):
        result.refused += 1
        result.troubled_at.append(time.monotonic())
    else:
        result.failed += 1
        result.troubled_at.append(time.monotonic())


def recovery_s(result: FaultResult, fault_at: float) -> float | None:
    last_trouble = max(result.troubled_at, default=fault_at)
    after = [t for t in result.accepted_at if t > last_trouble]
    return round(min(after) - fault_at, 2) if after else None


async def steady_load(
    result: FaultResult,
    base_url: str,
    rate: float,
    rng: random.Random,
    fault_at: list[float],
    stop: asyncio.Event,
) -> None:
    # No pool limit: these are independent people, and a shared pool would turn a slow server
    # into client-side PoolTimeouts that say nothing about the server.
    transport = httpx.AsyncHTTPTransport(
        local_address=SOURCE,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
    )
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10) as client:
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        sent = 0
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate)
            for _ in range(due - sent):
                task = asyncio.create_task(sign_up(client, result, rng, fault_at))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            await asyncio.sleep(0.02)
        # Every sign-up ends by itself (ATTEMPTS bounded by the client timeout); closing the
        # client under one still retrying would drop it from the counts.
        await asyncio.gather(*tasks)


def signal_component(name: str, signum: signal.Signals) -> None:
    pid = component_pids()[name]
    os.kill(pid, signum)


def bring_back() -> None:
    # `up` is idempotent: it starts exactly what is not running, i.e. the component just killed.
    subprocess.run(  # noqa: S603 - a fixed command line, no outside input
        [sys.executable, str(REPO_ROOT / "deploy" / "local" / "stack.py"), "up"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        timeout=300,
        check=True,
    )


# Starts the fault at once, and returns when it is over (the component back, the disk freed).
Inject = Callable[[], Awaitable[None]]


async def kill_and_restart(component: str, detail: dict[str, Any]) -> None:
    old = component_pids()[component]
    signal_component(component, signal.SIGKILL)
    if component in APP_KILLS and running("supervisor"):
        # The fault measures the stack's own recovery: no `up` until the app has a new pid.
        back_s = await asyncio.to_thread(new_pid_after, component, old, SUPERVISED_BACK_S)
        detail["restarted_by"] = "supervision" if back_s is not None else "stack.py up"
        detail["new_pid_after_s"] = back_s
    else:
        await asyncio.sleep(2)  # a moment of real outage before the restart
        detail["restarted_by"] = "stack.py up"
    # Also waits until every component is healthy again before the fault's after-load.
    await asyncio.to_thread(bring_back)


def new_pid_after(component: str, old: int, within_s: float) -> float | None:
    """Seconds until ``component`` runs under a pid other than ``old``; None if not within_s."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        pid = component_pids().get(component)
        if pid is not None and pid != old and alive(pid):
            return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    return None


def kafka_brokers() -> int:
    """How many brokers the local stack runs (.run/stack.env, written by `make up`)."""
    env = parse_env_file(STACK_ENV) if STACK_ENV.exists() else {}
    return int(env.get("GELOMBANG_KAFKA_BROKERS", "1"))


async def brokers_down(components: Sequence[str], seconds: float) -> None:
    """SIGKILL brokers (never the first: chaos' other faults use its data directory), keep them
    down for ``seconds`` of load, then bring them back with `up`."""
    for component in components:
        signal_component(component, signal.SIGKILL)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(bring_back)


async def pause(component: str, seconds: float) -> None:
    with stopped(component, seconds + PAUSE_WATCHDOG_S):
        await asyncio.sleep(seconds)


async def bad_link(link: FaultyLink) -> None:
    """Slow, then flapping, then down, then healthy again."""
    link.delay_s = LINK_DELAY_S
    await asyncio.sleep(8)
    link.delay_s = 0.0
    for _ in range(6):
        link.cut()
        await asyncio.sleep(1)
    link.refusing = True
    link.cut()
    await asyncio.sleep(5)
    link.refusing = False


def kafka_fault_ports() -> tuple[int, int]:
    """(the broker's FAULTS listener, the proxy port it advertises), from the broker's config."""
    props = (REPO_ROOT / ".run" / "kafka" / "server.properties").read_text()
    ports: dict[str, int] = {}
    for line in props.splitlines():
        key, _, value = line.partition("=")
        for listener in value.split(","):
            if listener.startswith("FAULTS://"):
                ports[key.strip()] = int(listener.rsplit(":", 1)[1])
    if set(ports) != {"listeners", "advertised.listeners"}:
        raise RuntimeError("the broker has no FAULTS listener: restart it with `make up`")
    return ports["listeners"], ports["advertised.listeners"]


async def under_load(
    fault: str,
    base_url: str,
    inject: Inject,
    rate: float,
    before_s: float,
    after_s: float,
    rng: random.Random,
) -> FaultResult:
    result = FaultResult(fault)
    # Empty until the fault starts: sign-ups read it to tell "after the fault" from before.
    fault_at: list[float] = []
    stop = asyncio.Event()
    load = asyncio.create_task(steady_load(result, base_url, rate, rng, fault_at, stop))
    await asyncio.sleep(before_s)
    fault_at.append(time.monotonic())
    await inject()
    # The load goes on for after_s past the end of the fault (a restart can take a while), so
    # recovery is observed.
    await asyncio.sleep(after_s)
    stop.set()
    await load
    result.recovery_s = recovery_s(result, fault_at[0])
    result.fault_at = fault_at[0]
    return result


async def one_fault(
    fault: str, rate: float, before_s: float, after_s: float, pause_s: float, rng: random.Random
) -> FaultResult:
    if fault in PAUSES:
        component = fault.removeprefix("pause-")
        return await under_load(
            fault, GATEWAY_URL, partial(pause, component, pause_s), rate, before_s, after_s, rng
        )
    if fault in DISKS:
        component = fault.removeprefix("disk-")
        with on_a_small_disk(component) as data:
            result = await under_load(
                fault,
                GATEWAY_URL,
                partial(fill_then_free, component, data),
                rate,
                before_s,
                after_s,
                rng,
            )
        return result
    if fault in BROKER_FAULTS:
        victims = ("kafka-2",) if fault == BROKER else ("kafka-2", "kafka-3")
        result = await under_load(
            fault,
            GATEWAY_URL,
            partial(brokers_down, victims, BROKER_DOWN_S),
            rate,
            before_s,
            after_s,
            rng,
        )
        result.detail["brokers_killed"] = len(victims)
        # When refusals stopped, after the kill: the leader-election window the issue bounds.
        refused_after = [t - (result.fault_at or 0.0) for t in result.troubled_at]
        result.detail["refusals_end_s"] = round(max(refused_after), 1) if refused_after else 0.0
        return result
    if fault != LINK:
        restart: dict[str, Any] = {}
        result = await under_load(
            fault,
            GATEWAY_URL,
            partial(kill_and_restart, fault, restart),
            rate,
            before_s,
            after_s,
            rng,
        )
        result.detail.update(restart)
        return result
    # A registration process of its own that reaches Kafka only through the faulty link; the
    # load goes to it directly.
    listener, proxied = kafka_fault_ports()
    async with FaultyLink(proxied, listener) as link:
        with contextlib.ExitStack() as stack:
            # Blocking start and stop: in a thread, so the proxy on this loop keeps serving.
            base = await asyncio.to_thread(
                stack.enter_context,
                registration_api(
                    "registration-chaos-link",
                    {"GELOMBANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{proxied}"},
                ),
            )
            try:
                result = await under_load(
                    fault, base, partial(bad_link, link), rate, before_s, after_s, rng
                )
            finally:
                await asyncio.to_thread(stack.close)
    result.detail["connections_through_link"] = link.connections
    return result


# -- Full disks ---------------------------------------------------------------------------------

# Each store's data directory and the signal for a fast, clean stop (Postgres' SIGTERM waits for
# every client to leave).
DATA_DIRS = {
    "kafka": (REPO_ROOT / ".run" / "kafka" / "data", signal.SIGTERM),
    "postgres": (REPO_ROOT / ".run" / "postgres" / "data", signal.SIGINT),
}
# Room left on the small disk once the data is on it; the ballast file then takes all of it.
DISK_HEADROOM_MB = 64
DISK_FULL_S = 10.0


def stop_and_wait(component: str, signum: signal.Signals, timeout_s: float = 90.0) -> None:
    pid = component_pids()[component]
    os.kill(pid, signum)
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _du_mb(path: Path) -> int:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total // 2**20 + 1


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=600)  # noqa: S603 - fixed tools


@contextlib.contextmanager
def on_a_small_disk(component: str) -> Iterator[Path]:
    """The component's data moved onto a tmpfs with only DISK_HEADROOM_MB free, and back after.

    The copy on the real disk is kept until the data from the small disk has been copied back,
    so a failure part-way leaves a usable copy (and says where).
    """
    data, stop = DATA_DIRS[component]
    kept = data.with_name(data.name + ".before-chaos")
    stop_and_wait(component, stop)
    owner = data.stat()
    data.rename(kept)
    data.mkdir(mode=0o700)
    size_mb = _du_mb(kept) + DISK_HEADROOM_MB
    try:
        _run(
            "mount", "-t", "tmpfs", "-o",
            f"size={size_mb}m,mode=0700,uid={owner.st_uid},gid={owner.st_gid}",
            f"gelombang-chaos-{component}", str(data),
        )  # fmt: skip
    except subprocess.CalledProcessError:
        data.rmdir()
        kept.rename(data)
        bring_back()
        raise
    try:
        _run("cp", "-a", f"{kept}/.", str(data))
        bring_back()
        yield data
    finally:
        if running(component):
            stop_and_wait(component, stop)
        restored = data.with_name(data.name + ".restored")
        _run("cp", "-a", str(data), str(restored))
        _run("umount", str(data))
        data.rmdir()
        restored.rename(data)
        shutil.rmtree(kept)
        bring_back()


async def fill_then_free(component: str, data: Path) -> None:
    """Fill the small disk to the last byte, keep it full, then free it and restart the store
    if the full disk stopped it (Kafka takes its only log directory offline and halts;
    Postgres PANICs when WAL cannot be written)."""
    ballast = data / "chaos-ballast"
    await asyncio.to_thread(_fill, ballast)
    await asyncio.sleep(DISK_FULL_S)
    await asyncio.to_thread(ballast.unlink)
    if not running(component):
        await asyncio.to_thread(bring_back)


def _fill(path: Path) -> None:
    chunk = b"\0" * 2**20
    with path.open("wb") as ballast:
        try:
            while True:
                ballast.write(chunk)
                ballast.flush()
        except OSError:  # ENOSPC: full
            pass


# -- Overload ----------------------------------------------------------------------------------

# Components whose memory must stay bounded under overload: the ones the flood reaches.
FRONT = ("nginx", "registration-0", "registration-1", "assisted", "kafka", "redis")
# A process that grows by more than this during 30 s of overload is not shedding, it is queueing.
MEMORY_GROWTH_LIMIT_MB = 256.0


@dataclass
class OverloadResult(Reconciled):
    multiple: float
    offered_per_s: float
    seconds: float
    goodput_per_s: float = 0.0
    shed: int = 0
    shed_rate: float = 0.0
    other_errors: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    # Of the 202s alone: the promise overload must keep to those it admits. Measured here by
    # the generator, which shares the 2 cores it floods: at 3x its own lateness is in it.
    p99_admitted_ms: float = 0.0
    # The same 202s as the gateway timed them (nginx's $request_time): the server's side alone.
    gateway_p99_admitted_ms: float = 0.0
    memory_mb_before: dict[str, float] = field(default_factory=dict)
    memory_mb_peak: dict[str, float] = field(default_factory=dict)
    memory_bounded: bool = True
    crashed: list[str] = field(default_factory=list)
    officer: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.other_errors == 0
            and self.memory_bounded
            and not self.crashed
            and bool(self.officer.get("officer_under_1s"))
            and self.lost == 0
            and self.duplicated == 0
        )


ACCESS_LOG = REPO_ROOT / ".run" / "logs" / "nginx-access.log"


def gateway_sign_up_times_ms(log: Path, offset: int, status: int) -> list[float]:
    """$request_time of the sign-ups answered ``status`` that the gateway logged past
    ``offset`` bytes (the local stack's log_format 'gelombang')."""
    if not log.exists():
        return []
    times: list[float] = []
    wanted = str(status)
    with log.open("rb") as lines:
        lines.seek(offset)
        for raw in lines:
            fields = raw.split()
            # addr [time] "METHOD uri proto" status bytes request_time upstream=...
            if len(fields) < 8 or fields[2] != b'"POST' or fields[3] != b"/api/v1/registrations":
                continue
            if fields[5].decode() == wanted:
                times.append(float(fields[7]) * 1000)
    return times


def measured_knee() -> float | None:
    try:
        knee = json.loads(BENCH_REPORT.read_text()).get("knee_per_s")
    except (OSError, ValueError):
        return None
    return float(knee) if knee else None


async def overload(
    multiple: float, knee: float, seconds: float, rng: random.Random
) -> OverloadResult:
    rate = multiple * knee
    result = OverloadResult(multiple, rate, seconds)
    before = {k: round(v, 1) for k, v in memory_mb_by_component(FRONT).items()}
    # The supervision starts a crashed app again: a pid that ended is the crash, not a dead pidfile.
    pids_before = component_pids()
    peak = dict(before)
    sampling = True

    async def sample_memory() -> None:
        while sampling:
            # In a thread: the generator's loop must not stop to read /proc (its latencies are
            # the result).
            for name, mb in (await asyncio.to_thread(memory_mb_by_component, FRONT)).items():
                if name in peak:
                    peak[name] = max(peak[name], round(mb, 1))
            await asyncio.sleep(1)

    officer = await asyncio.to_thread(
        provision_officer, GATEWAY_URL, posko_name="Posko Uji Beban Lebih"
    )
    sampler = asyncio.create_task(sample_memory())
    log_from = ACCESS_LOG.stat().st_size if ACCESS_LOG.exists() else 0
    try:
        bodies = unique_bodies(rng, int(rate * seconds) + 10)
        recording, desk = await asyncio.gather(
            run_rate([GATEWAY], bodies, rate, seconds, connections=512, source=SOURCE),
            officer_lane(GATEWAY_URL, officer, every_s=1.0, seconds=seconds, rng=rng),
        )
    finally:
        sampling = False
        await sampler
    statuses = recording.statuses()
    latencies = recording.latencies_ms()
    without_retry_after = recording.shed_without_retry_after()
    result.requests = sum(statuses.values())
    result.accepted = statuses.get(202, 0)
    result.goodput_per_s = round(result.accepted / seconds, 1)
    result.shed = statuses.get(429, 0) + statuses.get(503, 0) - without_retry_after
    result.shed_rate = round(result.shed / max(1, result.requests), 3)
    result.other_errors = result.requests - result.accepted - result.shed
    result.statuses = {str(k): v for k, v in sorted(statuses.items())}
    result.p50_ms = round(percentile(latencies, 50), 1)
    result.p99_ms = round(percentile(latencies, 99), 1)
    result.p99_admitted_ms = round(percentile(recording.accepted_latencies_ms(), 99), 1)
    # nginx flushes its buffered access log every second.
    await asyncio.sleep(1.5)
    gateway = gateway_sign_up_times_ms(ACCESS_LOG, log_from, status=202)
    result.gateway_p99_admitted_ms = round(percentile(gateway, 99), 1)
    result.memory_mb_before = before
    result.memory_mb_peak = peak
    result.memory_bounded = all(
        peak[name] - before[name] <= MEMORY_GROWTH_LIMIT_MB for name in before
    )
    result.crashed = [name for name, pid in pids_before.items() if not alive(pid)]
    result.officer = desk.summary()
    result.accepted_ids = recording.accepted_ids + desk.accepted_ids
    return result


async def reconcile_all(results: Sequence[Reconciled], since_ms: int, wait_s: float) -> None:
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


def _multiples(text: str) -> list[float]:
    return [float(m) for m in text.split(",") if m.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated names")
    parser.add_argument("--rate", type=float, default=30.0, help="sign-ups per second")
    parser.add_argument("--before-s", type=float, default=5.0)
    parser.add_argument("--after-s", type=float, default=20.0)
    parser.add_argument("--pause-s", type=float, default=10.0, help="length of each SIGSTOP")
    parser.add_argument(
        "--overload", type=_multiples, default=[2.0, 3.0], help="multiples of the knee ('' none)"
    )
    parser.add_argument("--overload-s", type=float, default=30.0)
    parser.add_argument(
        "--knee-per-s", type=float, default=None, help="default: knee_per_s of reports/bench.json"
    )
    parser.add_argument("--reconcile-wait-s", type=float, default=120.0)
    args = parser.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(ALL_FAULTS)}")
    if any(f in DISKS for f in faults) and os.geteuid() != 0:
        parser.error(f"{', '.join(DISKS)} mount a tmpfs and need root; leave them out")
    brokers = kafka_brokers()
    skipped = []
    if brokers < 3:
        skipped = [f for f in faults if f in BROKER_FAULTS]
        faults = [f for f in faults if f not in BROKER_FAULTS]
    if LINK in faults and brokers > 1:
        # The fault proxy fronts one broker; a client would be told of the others directly.
        skipped.append(LINK)
        faults.remove(LINK)
    for fault in skipped:
        print(
            f"chaos: {fault} skipped: the stack runs {brokers} Kafka broker(s)"
            f" ({'needs `make up KAFKA_BROKERS=3`' if brokers < 3 else 'needs one broker'})"
        )
    knee = args.knee_per_s or measured_knee()
    knee_source = "--knee-per-s" if args.knee_per_s else "reports/bench.json"
    rng = random.Random()
    if args.overload and not knee:
        knee_source = "measured by chaos (no bench report)"
        # A fresh checkout has no bench report yet: measure the knee the way the bench does.
        print("chaos: no knee in reports/bench.json; measuring it (10 s per step) ...", flush=True)
        bodies = unique_bodies(rng, sum(KNEE_STEPS) * 10 + 10)
        knee = asyncio.run(find_knee(bodies, list(KNEE_STEPS), 10))[0]
        if not knee:
            print("chaos: not even the lowest rate held; overload runs at multiples of it")
            knee = KNEE_STEPS[0]
    since_ms = int(time.time() * 1000)
    results: list[FaultResult] = []
    for fault in faults:
        print(f"chaos: {fault} ...", flush=True)
        results.append(
            asyncio.run(one_fault(fault, args.rate, args.before_s, args.after_s, args.pause_s, rng))
        )
        print(f"chaos: {fault} {summary(results[-1])}", flush=True)
    overloads: list[OverloadResult] = []
    for multiple in args.overload:
        assert knee is not None
        print(f"chaos: overload {multiple}x the knee ({multiple * knee:.0f}/s) ...", flush=True)
        overloads.append(asyncio.run(overload(multiple, knee, args.overload_s, rng)))
        print(f"chaos: overload {overload_summary(overloads[-1])}", flush=True)
    asyncio.run(reconcile_all([*results, *overloads], since_ms, args.reconcile_wait_s))
    report: dict[str, Any] = {
        "rate_per_s": args.rate,
        "kafka_brokers": brokers,
        "skipped": skipped,
        "faults": {r.fault: public(r) for r in results},
        "totals": {k: sum(public_counts(r)[k] for r in results) for k in COUNTS},
        "overload": {
            "knee_per_s": knee,
            "knee_source": knee_source,
            "seconds": args.overload_s,
            "runs": {f"{o.multiple:g}x": {**public(o), "ok": o.ok} for o in overloads},
        },
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    for result in results:
        print(f"{result.fault:20} {summary(result)}")
    for o in overloads:
        print(f"{f'overload {o.multiple:g}x':20} {overload_summary(o)}")
    bad = [r.fault for r in results if not r.ok]
    bad += [f"overload {o.multiple:g}x" for o in overloads if not o.ok]
    print(f"report: {REPORT.relative_to(REPO_ROOT)}; " + (f"FAILED: {bad}" if bad else "ok"))
    return 1 if bad else 0


COUNTS = ("requests", "accepted", "refused", "failed", "server_errors", "lost", "duplicated")


def public_counts(result: FaultResult) -> dict[str, int]:
    return {k: int(getattr(result, k)) for k in COUNTS}


def public(result: FaultResult | OverloadResult) -> dict[str, Any]:
    data = asdict(result)
    for internal in ("accepted_ids", "fault", "accepted_at", "troubled_at", "fault_at"):
        data.pop(internal, None)
    return data


def summary(result: FaultResult) -> str:
    counts = " ".join(f"{k} {v}" for k, v in public_counts(result).items())
    return f"{counts} recovery_s {result.recovery_s} statuses {result.statuses}"


def overload_summary(o: OverloadResult) -> str:
    return (
        f"offered {o.offered_per_s:.0f}/s goodput {o.goodput_per_s}/s shed {o.shed_rate:.0%} "
        f"other {o.other_errors} p99 {o.p99_ms} ms (admitted {o.p99_admitted_ms} ms, at the "
        f"gateway {o.gateway_p99_admitted_ms} ms) officer max {o.officer.get('officer_max_ms')} "
        f"ms crashed {o.crashed} memory bounded {o.memory_bounded} lost {o.lost} "
        f"duplicated {o.duplicated}"
    )


if __name__ == "__main__":
    sys.exit(main())

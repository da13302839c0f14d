"""``make bench``: one run on this machine, against the running stack, written to reports/.

Phases, in order (each bounded; the whole run stops by itself):

1. ceiling: the bare validated endpoint (``loadtests.ceiling``), one process per API process,
   offered more than it can take; what it completes per second is the ceiling;
   then process for process (``loadtests.per_process``): one ceiling process, one 2020-design
   baseline (``loadtests.baseline``: validate, then one INSERT) and one registration API
   process, each at rising rates directly: ``intake_vs_baseline`` and ``api_cpu_vs_ceiling``;
2. knee: sign-ups through the gateway at rising rates until a step's p99 passes 250 ms or any
   answer is not a 202; the knee is the last rate that held;
3. sustained: 80,000 sign-ups a minute (``--rate-per-min``) for ``--sustained-s`` seconds,
   and on top of them 2% more (``--repeat-rate``) that are repeat attempts of people already
   answered 202 (``loadtests.repeats``), and for 10 s in the middle (``--redis-pause-s``) Redis is
   SIGSTOPped, so the edge answers without its fast path and some repeats reach the log. The
   headline latency and errors leave that outage (and the seconds after it) out and report it
   apart; the repeats' answers are reported apart too (a 409 to a repeat is the right answer);
4. lag drain: seconds until the stack's consumer groups have no lag left after phase 3, on every
   topic they read and on the intake topic alone, and the NIK checks still waiting then;
5. reconciliation of every 202 from phases 2 and 3 against Kafka and the read model, and the
   duplicate check (``loadtests.duplicates``): every repeat that got a 202 must be refused as a
   duplicate by the log and acted on by nothing downstream;
6. the 1.5 M-row wave draw (``python -m services.selection bench-draw``): in memory, and from the
   stored pool to stored results (``--stored``, in a scratch database it drops afterwards).

CPU seconds per component come from /proc (the pid in .run/pids and its descendants), so the
report says where the machine's two cores went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gelombang.events import REGISTRATIONS_SUBMITTED
from gelombang.kafka import aiokafka_connection
from gelombang.settings import REPO_ROOT, CommonSettings
from loadtests.bench_report import write_markdown, write_png
from loadtests.citizens import unique_bodies
from loadtests.duplicates import judge
from loadtests.generator import Recording, Target, percentile, run_rate
from loadtests.officer import officer_lane, provision_officer
from loadtests.outage import Outage, stop_redis
from loadtests.per_process import bodies_needed, side_by_side
from loadtests.processes import CpuTimeline, cpu_by_component, wait_healthy
from loadtests.reconcile import check, write_ids
from loadtests.repeats import Repeats, fresh_statuses

REPORTS = REPO_ROOT / "reports"
GATEWAY = Target("127.0.0.1", 8080, "/api/v1/registrations")
GATEWAY_URL = "http://127.0.0.1:8080"
# One walk-in every two seconds: a busy desk, and enough answers for a p99 over 3 minutes.
OFFICER_EVERY_S = 2.0
# The gateway exempts this address from its per-IP limits (deploy/local/stack.py).
SOURCE = os.environ.get("GELOMBANG_LOAD_SOURCE", "127.0.0.2")
CEILING_BASE_PORT = 8100
CEILING_SAMPLE = 2000
P99_LIMIT_MS = 250.0
# Fine steps at the bottom too: on a busy 2-core machine the knee can be well below the target.
KNEE_RATES = "50,100,200,300,400,500,600,700,800,1000,1333,1600,2000"
# The consumer groups of the stack that read the intake topic, directly or downstream.
GROUPS = ("registration-projector", "verification", "selection-pool")
# How often the bench samples CPU per component for its timeline.
CPU_SAMPLE_S = 5.0


@dataclass
class Config:
    rate_per_min: int
    sustained_s: int
    knee_rates: list[int]
    knee_step_s: int
    ceiling_rate: int
    ceiling_s: int
    lag_timeout_s: int
    draw_rows: int
    connections: int
    repeat_rate: float
    redis_pause_s: float
    api_instances: int


@dataclass
class Step:
    rate_per_s: int
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    held: bool


@dataclass
class Timeline:
    """Per second of the whole run, for the PNG."""

    t: list[float] = field(default_factory=list)
    accepted_per_s: list[int] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)

    def add(self, rec: Recording, phase: str, offset: float) -> None:
        for i, second in enumerate(rec.seconds):
            self.t.append(offset + i)
            self.accepted_per_s.append(second.completed)
            self.p99_ms.append(percentile(second.latencies_ms, 99))
            self.phase.append(phase)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def parse_args(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate-per-min", type=int, default=_env_int("BENCH_RATE_PER_MIN", 80_000))
    p.add_argument("--sustained-s", type=int, default=_env_int("BENCH_SUSTAINED_S", 180))
    p.add_argument(
        "--knee-rates",
        type=lambda text: [int(r) for r in text.split(",")],
        default=os.environ.get("BENCH_KNEE_RATES", KNEE_RATES),
        help=f"offered sign-ups/s per step, comma-separated (default {KNEE_RATES})",
    )
    p.add_argument("--knee-step-s", type=int, default=_env_int("BENCH_KNEE_STEP_S", 10))
    p.add_argument("--ceiling-rate", type=int, default=_env_int("BENCH_CEILING_RATE", 4000))
    p.add_argument("--ceiling-s", type=int, default=_env_int("BENCH_CEILING_S", 10))
    p.add_argument("--lag-timeout-s", type=int, default=_env_int("BENCH_LAG_TIMEOUT_S", 240))
    p.add_argument("--draw-rows", type=int, default=_env_int("BENCH_DRAW_ROWS", 1_500_000))
    # Enough for the target rate at the p99 target (1,333/s x 0.25 s = 333) with margin. More
    # (1,024 measured) costs the generator 3x the CPU without offering anything more.
    p.add_argument("--connections", type=int, default=_env_int("BENCH_CONNECTIONS", 512))
    p.add_argument(
        "--repeat-rate",
        type=float,
        default=float(os.environ.get("BENCH_REPEAT_RATE", "0.02")),
        help="repeat attempts of someone already accepted per fresh sustained sign-up, sent on"
        " top of --rate-per-min (default 0.02)",
    )
    p.add_argument(
        "--redis-pause-s",
        type=float,
        default=float(os.environ.get("BENCH_REDIS_PAUSE_S", "10")),
        help="Redis SIGSTOPped this long mid-sustained (default 10; 0: not at all)",
    )
    args = p.parse_args(argv)
    return Config(
        **{k: v for k, v in vars(args).items()},
        api_instances=_env_int("GELOMBANG_API_INSTANCES", _stack_api_instances()),
    )


def _stack_api_instances() -> int:
    env = REPO_ROOT / ".run" / "stack.env"
    if env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("GELOMBANG_API_INSTANCES="):
                return int(line.split("=", 1)[1])
    return int(os.environ.get("GELOMBANG_API_INSTANCES", "2"))


def _chunk(args: tuple[int, int]) -> list[bytes]:
    seed, count = args
    return list(unique_bodies(random.Random(seed), count))


def make_bodies(count: int) -> Iterator[bytes]:
    """Generated before the clock starts, on both cores, so it does not compete with the run."""
    parts = 8
    base = time.time_ns()
    with ProcessPoolExecutor(2) as pool:
        chunks = pool.map(_chunk, [(base + i, count // parts + 1) for i in range(parts)])
        seen: set[bytes] = set()
        bodies: list[bytes] = []
        for chunk in chunks:
            for body in chunk:
                # A NIK drawn by two chunks would be a correct 409, not a sign-up.
                nik = body[: body.index(b'","full_name"')]
                if nik not in seen:
                    seen.add(nik)
                    bodies.append(body)
    return iter(bodies)


# -- Kafka lag -------------------------------------------------------------------------------


async def consumer_lag(kafka: dict[str, Any], topic: str | None = None) -> int:
    """Records not yet handled by the stack's groups, over every partition they committed
    (only ``topic``'s partitions if given)."""
    admin = AIOKafkaAdminClient(**kafka)
    consumer = AIOKafkaConsumer(**kafka)
    await admin.start()
    await consumer.start()
    try:
        committed: dict[TopicPartition, int] = {}
        for group in GROUPS:
            offsets = await admin.list_consumer_group_offsets(group)
            for tp, meta in offsets.items():
                if topic is not None and tp.topic != topic:
                    continue
                key = TopicPartition(f"{group}\0{tp.topic}", tp.partition)
                committed[key] = meta.offset
        partitions = {TopicPartition(k.topic.split("\0")[1], k.partition) for k in committed}
        end = await consumer.end_offsets(list(partitions))
        lag = 0
        for key, offset in committed.items():
            tp = TopicPartition(key.topic.split("\0")[1], key.partition)
            lag += max(0, end[tp] - max(offset, 0))
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def wait_for_lag(
    kafka: dict[str, Any], timeout_s: float, topic: str | None = None
) -> tuple[float | None, int]:
    """(seconds until no lag, or None on timeout; the lag seen last)."""
    started = time.monotonic()
    lag = -1
    while time.monotonic() - started < timeout_s:
        lag = await consumer_lag(kafka, topic)
        if lag == 0:
            return time.monotonic() - started, 0
        await asyncio.sleep(1.0)
    return None, lag


async def wait_for_drains(kafka: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Lag drain after the spike, twice: every topic the groups read, and the intake topic.

    The two differ because the NIK checks run from Postgres after a sign-up is stored, at the
    civil registry's pace (300/s in the simulator, like a real quota), and every check
    publishes a progress step that the projector then reads: while that backlog lasts, the
    progress topic is never quite at zero even when every sign-up has long been stored.
    """
    results = await asyncio.gather(
        wait_for_lag(kafka, timeout_s),
        wait_for_lag(kafka, timeout_s, REGISTRATIONS_SUBMITTED),
    )
    report: dict[str, Any] = {}
    for prefix, (seconds, left) in zip(("", "intake_"), results, strict=True):
        report[f"{prefix}lag_drain_s"] = None if seconds is None else round(seconds, 1)
        report[f"{prefix}lag_left"] = left
    return report


async def pending_nik_checks(database_url: str) -> int | None:
    """NIK checks still waiting for the civil registry (None if Postgres did not answer)."""
    try:
        conn = await asyncpg.connect(database_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM verification_cases"
            " WHERE nik_state = 'pending' AND outcome IS NULL"
        )
        return count
    finally:
        await conn.close()


REGISTRY_SIM = "http://127.0.0.1:8091"
# The civil registry's answers that are NIK checks done (not refusals: 429, 401, injected errors).
_CHECK_RESULTS = ("match", "mismatch", "not_found")


async def registry_checks_and_quota() -> tuple[float, float] | None:
    """NIK checks the civil registry simulator has answered so far, and its quota per second
    (None if it did not answer): the pipeline's drain is bound by that quota, not by CPU."""
    try:
        async with httpx.AsyncClient(base_url=REGISTRY_SIM, timeout=5) as client:
            metrics = (await client.get("/metrics")).text
            quota = float((await client.get("/admin/faults")).json()["rate_limit_per_s"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    done = 0.0
    for line in metrics.splitlines():
        if line.startswith("registry_sim_requests_total{") and any(
            f'result="{result}"' in line for result in _CHECK_RESULTS
        ):
            done += float(line.rsplit(" ", 1)[1])
    return done, quota


def nik_check_rate(
    before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float
) -> dict[str, float | None]:
    """NIK checks per second between two readings, and that rate over the registry's quota."""
    if before is None or after is None or seconds <= 0:
        return {"nik_checks_per_s_after_spike": None, "nik_check_rate_vs_quota": None}
    rate = (after[0] - before[0]) / seconds
    quota = after[1]
    return {
        "nik_checks_per_s_after_spike": round(rate, 1),
        "nik_check_rate_vs_quota": round(rate / quota, 3) if quota > 0 else None,
    }


# -- Phases ----------------------------------------------------------------------------------


async def measure_ceiling(cfg: Config, bodies: list[bytes]) -> tuple[float, Recording]:
    ports = [CEILING_BASE_PORT + i for i in range(cfg.api_instances)]
    # Fixed argv, no shell; Popen returns at once, so it does not block the loop.
    procs = [
        subprocess.Popen(  # noqa: S603, ASYNC220
            [sys.executable, "-m", "loadtests.ceiling", "--port", str(port)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        await wait_healthy(ports, "ceiling process", 30.0)
        targets = [Target("127.0.0.1", port, GATEWAY.path) for port in ports]
        # The same bodies over and over: nothing behind this endpoint remembers them.
        count = cfg.ceiling_rate * cfg.ceiling_s

        def cycle() -> Iterator[bytes]:
            for i in range(count):
                yield bodies[i % len(bodies)]

        rec = await run_rate(
            targets,
            cycle(),
            cfg.ceiling_rate,
            cfg.ceiling_s,
            connections=64,
            idempotency_key=False,
            keep_ids=False,
        )
        ok = rec.statuses().get(202, 0)
        return ok / max(1e-9, rec.finished - rec.started), rec
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def summarize(rec: Recording, rate: int, duration_s: float) -> Step:
    statuses = rec.statuses()
    lat = rec.latencies_ms()
    errors = sum(n for status, n in statuses.items() if status != 202)
    p99 = percentile(lat, 99)
    return Step(
        rate_per_s=rate,
        accepted_per_s=round(statuses.get(202, 0) / duration_s, 1),
        p50_ms=round(percentile(lat, 50), 1),
        p99_ms=round(p99, 1),
        errors=errors,
        held=errors == 0 and p99 <= P99_LIMIT_MS,
    )


async def find_knee(
    bodies: Iterator[bytes], rates: list[int], step_s: int, connections: int = 512
) -> tuple[int, list[Step], list[Recording]]:
    """Rising rates through the gateway until p99 passes 250 ms or errors appear; the knee is
    the last rate that held (0 if none did)."""
    steps: list[Step] = []
    recordings: list[Recording] = []
    for rate in rates:
        rec = await run_rate(
            [GATEWAY], bodies, rate, step_s, connections=connections, source=SOURCE
        )
        recordings.append(rec)
        step = summarize(rec, rate, step_s)
        steps.append(step)
        print(f"bench: knee step {asdict(step)}", file=sys.stderr)
        if not step.held:
            break
        await asyncio.sleep(3)
    held = [s for s in steps if s.held]
    return (held[-1].rate_per_s if held else 0), steps, recordings


async def run(cfg: Config) -> dict[str, Any]:
    settings = CommonSettings()
    knee_rates = cfg.knee_rates
    # The fresh sign-ups at the offered rate, and the repeats on top (loadtests.repeats).
    sustained_rate = cfg.rate_per_min / 60 * (1 + cfg.repeat_rate)
    # The ceiling's sample comes out of the same bodies; the rest is margin.
    needed = CEILING_SAMPLE + 1000 + bodies_needed()
    needed += int(sum(knee_rates) * cfg.knee_step_s + sustained_rate * cfg.sustained_s)
    print(f"bench: generating {needed} sign-up bodies", file=sys.stderr)
    bodies = make_bodies(needed)
    since_ms = int(time.time() * 1000)
    started = time.monotonic()
    cpu_before = cpu_by_component({"load-generator": os.getpid()})
    timeline = Timeline()
    # Where the cores go over time, by role: does intake keep its share during the spike while
    # the pipeline lags, and does the background catch up after it?
    cpu = CpuTimeline(every_s=CPU_SAMPLE_S)
    cpu_done = asyncio.Event()
    cpu_sampler = asyncio.create_task(
        cpu.sample(started, {"load-generator": os.getpid()}, cpu_done)
    )

    print("bench: ceiling (bare validated endpoint)", file=sys.stderr)
    sample = [next(bodies) for _ in range(CEILING_SAMPLE)]
    ceiling_per_s, ceiling_rec = await measure_ceiling(cfg, sample)
    timeline.add(ceiling_rec, "ceiling", ceiling_rec.started - started)
    print(f"bench: ceiling {ceiling_per_s:.0f}/s", file=sys.stderr)

    accepted: list[str] = []
    print("bench: process for process (ceiling, 2020-design baseline, API)", file=sys.stderr)
    yardstick = await side_by_side(bodies, SOURCE, accepted)
    print(
        "bench: intake_vs_baseline {intake_vs_baseline}, api_cpu_vs_ceiling"
        " {api_cpu_vs_ceiling}".format(**yardstick),
        file=sys.stderr,
    )
    await wait_for_lag(aiokafka_connection(settings), 60)

    knee_per_s, steps, knee_recs = await find_knee(
        bodies, knee_rates, cfg.knee_step_s, cfg.connections
    )
    for rec in knee_recs:
        accepted += rec.accepted_ids
        timeline.add(rec, "knee", rec.started - started)

    # Let the knee's backlog clear so the sustained phase starts from an empty pipeline.
    await wait_for_lag(aiokafka_connection(settings), 60)
    print(f"bench: sustained {cfg.rate_per_min}/min for {cfg.sustained_s} s", file=sys.stderr)
    # A posko officer keeps working through the spike, on the priority lane (issue 8).
    officer = await asyncio.to_thread(provision_officer, GATEWAY_URL)
    repeats = Repeats(bodies, cfg.repeat_rate, random.Random())
    outage = Outage()
    pause_s = min(cfg.redis_pause_s, cfg.sustained_s / 2)
    sustained, desk, _ = await asyncio.gather(
        run_rate(
            [GATEWAY],
            repeats,
            sustained_rate,
            cfg.sustained_s,
            connections=cfg.connections,
            source=SOURCE,
            on_answer=repeats.answered,
        ),
        officer_lane(
            GATEWAY_URL,
            officer,
            every_s=OFFICER_EVERY_S,
            seconds=cfg.sustained_s,
            rng=random.Random(),
        ),
        stop_redis((cfg.sustained_s - pause_s) / 2, pause_s, outage),
    )
    print(f"bench: officer during the spike {desk.summary()}", file=sys.stderr)
    accepted += sustained.accepted_ids + desk.accepted_ids
    timeline.add(sustained, "sustained", sustained.started - started)
    spike_end = time.monotonic() - started
    checks_before = await registry_checks_and_quota()
    drains = await wait_for_drains(aiokafka_connection(settings), cfg.lag_timeout_s)
    drain_end = time.monotonic() - started
    checks = nik_check_rate(checks_before, await registry_checks_and_quota(), drain_end - spike_end)
    print(f"bench: lag after the spike {drains}", file=sys.stderr)
    nik_checks_left = await pending_nik_checks(settings.database_url)

    write_ids(REPORTS / "accepted-ids.json", since_ms, accepted)
    result = await check(accepted, since_ms, settings)
    print(f"bench: reconciliation {result}", file=sys.stderr)
    duplicates = await judge(repeats.answers, since_ms, settings.database_url)
    print(f"bench: duplicate check {duplicates.verdict} {duplicates}", file=sys.stderr)
    cpu_after = cpu_by_component({"load-generator": os.getpid()})
    elapsed = time.monotonic() - started
    cpu_done.set()
    await cpu_sampler
    spike_start = sustained.started - started

    draw_s = run_draw(cfg.draw_rows)
    stored_draw = run_stored_draw(cfg.draw_rows)

    # Fresh sign-ups only (the repeats are judged by the duplicate check), and the headline
    # latency and errors outside the Redis outage, which has its own numbers.
    fresh = fresh_statuses(sustained, repeats.answers)
    skip = outage.seconds(sustained)
    statuses = fresh_statuses(sustained, repeats.answers, skip)
    lat = sustained.latencies_ms(skip)
    errors = sum(n for status, n in statuses.items() if status != 202)
    fresh_sent = sum(s.sent for s in sustained.seconds) - repeats.sent
    return {
        "sustained_accepted_per_min": round(fresh.get(202, 0) / cfg.sustained_s * 60),
        "sustained_offered_per_min": cfg.rate_per_min,
        "sustained_fresh_offered_per_min": round(fresh_sent / cfg.sustained_s * 60),
        "sustained_s": cfg.sustained_s,
        "p50_ms": round(percentile(lat, 50), 1),
        "p99_ms": round(percentile(lat, 99), 1),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **outage.summary(sustained, repeats.answers),
        **desk.summary(),
        "lost": result.lost,
        "duplicated": result.duplicated,
        "reconciled_accepted": result.accepted,
        **duplicates.summary(),
        **yardstick,
        "ceiling_per_s": round(ceiling_per_s, 1),
        "knee_per_s": knee_per_s,
        "ceiling_ratio": round(knee_per_s / ceiling_per_s, 3) if ceiling_per_s else 0.0,
        "knee_steps": [asdict(s) for s in steps],
        **drains,
        "nik_checks_left": nik_checks_left,
        # Over the whole drain window: a lower bound if the checks ran out before it ended.
        **checks,
        "draw_1_5m_s": draw_s,
        # Issue 19's figure: close (freeze + hash), load, draw, store (COPY + pool), in total.
        "draw_stored_1_5m_s": None if stored_draw is None else stored_draw["stored_total_s"],
        "draw_stored_steps": None
        if stored_draw is None
        else {key: stored_draw[key] for key in ("close_s", "load_s", "draw_s", "store_s")},
        "draw_rows": cfg.draw_rows,
        "cores_by_role_during_spike": cpu.mean_cores(spike_start, spike_end),
        "cores_by_role_after_spike": cpu.mean_cores(spike_end, drain_end),
        "cpu_timeline": asdict(cpu),
        "cpu_seconds_by_component": {
            name: round(cpu_after.get(name, 0.0) - before, 1)
            for name, before in sorted(cpu_before.items())
        },
        "run_s": round(elapsed, 1),
        "api_instances": cfg.api_instances,
        "generator": "loadtests.generator (asyncio + uvloop, open loop)",
        "timeline": asdict(timeline),
    }


def run_draw(rows: int) -> float | None:
    print(f"bench: wave draw over {rows} rows", file=sys.stderr)
    figures = _bench_draw(["--rows", str(rows)], timeout_s=600)
    return None if figures is None else float(figures["draw_s"])


def run_stored_draw(rows: int) -> dict[str, Any] | None:
    """From the stored pool to stored results; the seconds of each step and in total."""
    print(f"bench: stored wave draw over {rows} rows (scratch database)", file=sys.stderr)
    # Loading 1.5 M synthetic people into the scratch pool takes a minute or two before the
    # timed steps start.
    return _bench_draw(["--rows", str(rows), "--stored"], timeout_s=1200)


def _bench_draw(args: list[str], timeout_s: float) -> dict[str, Any] | None:
    try:
        out = subprocess.run(  # noqa: S603  (fixed argv, no shell)
            [sys.executable, "-m", "services.selection", "bench-draw", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            # On a timeout the child gets SIGKILL: a stored run's scratch database stays until
            # the next run drops it.
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"bench: bench-draw {' '.join(args)} timed out", file=sys.stderr)
        return None
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    report = uvloop.run(run(cfg))
    REPORTS.mkdir(exist_ok=True)
    timeline = report.pop("timeline")
    (REPORTS / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(REPORTS / "bench.md", report)
    write_png(REPORTS / "bench.png", timeline, report["cpu_timeline"])
    print(
        json.dumps(
            {k: v for k, v in report.items() if k not in ("knee_steps", "cpu_timeline")},
            indent=2,
        )
    )
    target_met = (
        report["sustained_accepted_per_min"] >= report["sustained_fresh_offered_per_min"] * 0.99
        and report["p99_ms"] <= P99_LIMIT_MS
        and report["errors"] == 0
    )
    print(f"bench: target {'met' if target_met else 'NOT met'}; reports in {REPORTS}")
    print(
        f"bench: duplicate check {report['duplicate_check']}:"
        f" {report['duplicates_downstream']} duplicates downstream (target 0),"
        f" {report['duplicates_past_edge_not_refused']} not refused by the log (target 0),"
        f" {report['duplicates_past_edge']} past the edge (must be > 0 to prove anything)"
    )
    # Loss, duplication or a duplicate the log let through is a correctness failure; missing
    # the performance target, or a run where no duplicate got past the edge, is a result.
    correct = (
        report["lost"] == 0 and report["duplicated"] == 0 and report["duplicate_check"] != "FAILED"
    )
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())

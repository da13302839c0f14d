"""The local stack's processes: their CPU and memory (read from /proc, no psutil needed), and
a registration API process of one's own.

A component is a process in ``.run/pids`` with all its descendants: Postgres backends, nginx
workers and the JVM's children count towards their parent component.

``stopped`` SIGSTOPs a component for a while (a frozen process: connections stay open, nothing
answers) and always SIGCONTs it again.

``registration_api`` starts an extra registration process on a free port with its own settings
(caps far below the stack's for admission tests, another Kafka address for fault tests):
changing the stack's own processes would affect everything else running. It shares the stack's
Kafka, Redis and Postgres and is stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dotenv import dotenv_values

from gelombang.settings import REPO_ROOT, STACK_ENV

PIDS = REPO_ROOT / ".run" / "pids"
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_s: float
    rss_mb: float

    @property
    def memory_mb(self) -> float:
        """Proportional set size: a page shared with other processes counts in part. A forked
        child shares nearly all of its parent's memory (Redis rewriting its append-only file,
        Postgres backends with shared_buffers), and resident sizes summed over a process tree
        would count it twice: `make chaos` once saw Redis "grow" 320 -> 695 MB in 30 s of
        overload that way. Resident size where smaps_rollup cannot be read."""
        try:
            with open(f"/proc/{self.pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        return self.rss_mb


def proc_table() -> dict[int, ProcStat]:
    """Every process now: parent, CPU seconds, resident memory."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, ProcStat] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime + stime, plus cutime + cstime: a Postgres backend that exits between the two
        # snapshots moves its CPU into the postmaster's children time instead of vanishing.
        used = sum(int(f) for f in fields[11:15])
        pid = int(entry.name)
        table[pid] = ProcStat(pid, int(fields[1]), used / tick, int(fields[21]) * _PAGE_MB)
    return table


def component_pids() -> dict[str, int]:
    """Component name -> pid, from .run/pids."""
    roots: dict[str, int] = {}
    for pidfile in sorted(PIDS.glob("*.pid")):
        try:
            roots[pidfile.stem] = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return roots


def by_component(
    measure: Callable[[ProcStat], float],
    extra: dict[str, int] | None = None,
    names: Container[str] | None = None,
) -> dict[str, float]:
    """``measure`` summed over each component's process tree (missing processes count 0), for
    every component or those in ``names``."""
    table = proc_table()
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    totals: dict[str, float] = {}
    for name, root in {**(extra or {}), **component_pids()}.items():
        if names is not None and name not in names:
            continue
        stack, total = [root], 0.0
        while stack:
            pid = stack.pop()
            if pid in table:
                total += measure(table[pid])
                stack += children.get(pid, [])
        totals[name] = total
    return totals


def cpu_by_component(extra: dict[str, int] | None = None) -> dict[str, float]:
    """CPU seconds so far of each component."""
    return by_component(lambda stat: stat.cpu_s, extra)


def memory_mb_by_component(names: Container[str]) -> dict[str, float]:
    """Memory now of the components in ``names`` (their processes' proportional set sizes), in
    MiB. Not cheap: the kernel walks each process's mappings (0.37 s for the whole stack, most
    of it Postgres's backends), so ask for the few you need, off the event loop."""
    return by_component(lambda stat: stat.memory_mb, names=names)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def running(component: str) -> bool:
    pid = component_pids().get(component)
    return pid is not None and alive(pid)


def dead_components() -> list[str]:
    """Components whose recorded pid is no longer running."""
    return [name for name, pid in component_pids().items() if not alive(pid)]


# Resumes a paused pid after a while, from a process of its own: the pause then ends even if the
# process that paused it is killed outright and never gets to run its ``finally``.
_RESUME_LATER = (
    "import os, signal, sys, time\n"
    "time.sleep(float(sys.argv[1]))\n"
    "os.kill(int(sys.argv[2]), signal.SIGCONT)\n"
)


@contextmanager
def stopped(component: str, at_most_s: float) -> Iterator[int]:
    """``component`` SIGSTOPped inside the block and SIGCONTed on leaving it, however it is left
    (error, cancellation, Ctrl-C); after ``at_most_s`` a watchdog resumes it in any case.
    Yields the pid. ``KeyError`` if the component has no pid in .run/pids."""
    pid = component_pids()[component]
    watchdog = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _RESUME_LATER, str(at_most_s), str(pid)],
        # Its own session: a Ctrl-C to the caller's process group must not stop the watchdog.
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        os.kill(pid, signal.SIGSTOP)
        yield pid
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass  # gone meanwhile: nothing left to resume
        watchdog.kill()
        watchdog.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def registration_principal() -> dict[str, str]:
    """The registration API's own Kafka principal, as `make up` gives the stack's (nothing while
    the stack's Kafka runs without SASL: GELOMBANG_KAFKA_USERNAME not in .run/stack.env)."""
    stack = dotenv_values(STACK_ENV) if STACK_ENV.exists() else {}
    if not stack.get("GELOMBANG_KAFKA_USERNAME"):
        return {}
    password = stack.get("GELOMBANG_KAFKA_PASSWORD_REGISTRATION") or ""
    return {"GELOMBANG_KAFKA_USERNAME": "registration", "GELOMBANG_KAFKA_PASSWORD": password}


@contextmanager
def registration_api(service_name: str, settings: dict[str, str]) -> Iterator[str]:
    """Yields the base URL once /readyz answers; ``settings`` are GELOMBANG_* overrides."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own module, a port we chose
        [sys.executable, "-m", "services.registration.app", "--port", str(port)],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            **registration_principal(),
            "GELOMBANG_SERVICE_NAME": service_name,
            **settings,
        },
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
                raise RuntimeError(f"the extra registration API ({service_name}) did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


async def wait_healthy(ports: Sequence[int], what: str, timeout_s: float) -> None:
    """Until every process of ours on ``ports`` answers /healthz; RuntimeError naming ``what``
    and the port after ``timeout_s`` in all."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        for port in ports:
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} on {port} did not start")
                await asyncio.sleep(0.2)


# What each component is for during a spike (issue 15, item 4): intake must keep its cores, the
# decider should keep up, the background may wait and catch up afterwards.
ROLES: tuple[tuple[str, str], ...] = (
    ("registration-", "intake"),
    ("assisted", "intake"),
    ("nginx", "intake"),
    ("kafka", "intake"),
    ("redis", "intake"),
    ("projector", "decider"),
    ("postgres", "decider"),
    ("load-generator", "load generator"),
)


def role_of(component: str) -> str:
    """``intake``, ``decider``, ``load generator`` or ``background`` (verification, simulators,
    the pool worker, exporters, Prometheus)."""
    if component.endswith("-exporter"):
        return "background"
    for prefix, role in ROLES:
        if component.startswith(prefix):
            return role
    return "background"


@dataclass
class CpuTimeline:
    """Cores used per role, one sample every ``every_s`` seconds of a run."""

    every_s: float
    t: list[float] = field(default_factory=list)
    cores: dict[str, list[float]] = field(default_factory=dict)

    async def sample(self, started: float, extra: dict[str, int], stop: asyncio.Event) -> None:
        """Until ``stop`` is set: CPU seconds per role since the last sample / the interval."""
        before, at = cpu_by_component(extra), time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)
            now, after = time.monotonic(), cpu_by_component(extra)
            used: dict[str, float] = {}
            for name, seconds in after.items():
                role = role_of(name)
                used[role] = used.get(role, 0.0) + max(0.0, seconds - before.get(name, 0.0))
            self.t.append(round(now - started, 1))
            for role in {*self.cores, *used}:
                series = self.cores.setdefault(role, [0.0] * (len(self.t) - 1))
                series.append(round(used.get(role, 0.0) / max(1e-9, now - at), 3))
            before, at = after, now

    def mean_cores(self, start: float, end: float) -> dict[str, float]:
        """Mean cores per role over the samples that ended within [start, end]."""
        picked = [i for i, t in enumerate(self.t) if start < t <= end]
        if not picked:
            return {}
        return {
            role: round(sum(series[i] for i in picked) / len(picked), 2)
            for role, series in sorted(self.cores.items())
        }

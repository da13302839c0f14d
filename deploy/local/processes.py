"""The shared process runner of the local stack: the stack lock, pidfiles, starting a component
detached with its log (and its CPU priority), waiting until it is ready, stopping it, and one-shot
commands.

We only ever signal a pid whose command line proves it is the component we started
(``proc_matches``)."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy.local.layout import HOST, LOGS, PIDS, ROOT, RUN, STOP_GRACE, StackError, say

STACK_LOCK = RUN / "stack.lock"


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """Serialise up/infra/down/restart: tests may call stack.py while someone else does too, and
    the supervision (supervision.py) starts nothing while one of them runs."""
    RUN.mkdir(parents=True, exist_ok=True)
    with STACK_LOCK.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another stack.py run (or a supervision round) to finish...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # the lock is released when the file closes


@contextlib.contextmanager
def stack_lock_if_free() -> Iterator[bool]:
    """The stack lock if nobody holds it (True), else at once False: a supervision round never
    waits behind an `up`, it looks again a second later."""
    RUN.mkdir(parents=True, exist_ok=True)
    with STACK_LOCK.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def pidfile(name: str) -> Path:
    return PIDS / f"{name}.pid"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(name: str, pid: int) -> None:
    PIDS.mkdir(parents=True, exist_ok=True)
    pidfile(name).write_text(f"{pid}\n")


def proc_matches(pid: int, marker: str) -> bool:
    """True if pid is a live (non-zombie) process whose command line contains marker.

    Checking the command line, not just the pid, protects against stale pidfiles whose pid the
    kernel has since handed to an unrelated process: we must never signal that one.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return marker in cmdline.replace(b"\0", b" ").decode(errors="replace")


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "gelombang-stack"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        data = path.read_bytes()[-64_000:].decode(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data[-lines:]) or f"(log {path} is empty)"


def fail_with_log(what: str, log: Path) -> StackError:
    return StackError(f"{what}\n--- last lines of {log} ---\n{log_tail(log)}\n---")


def run_checked(
    argv: list[str],
    what: str,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> str:
    """Run a one-shot command; on failure raise StackError carrying its output."""
    try:
        res = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: timed out after {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {exc}") from exc
    out = (res.stdout or b"").decode(errors="replace") if capture else ""
    if res.returncode != 0:
        tail = "\n".join(out.splitlines()[-30:])
        raise StackError(f"{what} failed (exit {res.returncode})\n{tail}".rstrip())
    return out


# ---------------------------------------------------------------------------------------------
# Health checks. Each returns (ok, short detail) and never raises.
# ---------------------------------------------------------------------------------------------


Health = tuple[bool, str]


def check_http(port: int, path: str) -> Health:
    try:
        status, _ = http_get(port, path)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {path}: {exc.__class__.__name__}"
    return status == 200, f"GET {path} -> {status}"


# ---------------------------------------------------------------------------------------------
# Component model
# ---------------------------------------------------------------------------------------------


@dataclass
class Component:
    name: str
    marker: str  # substring of /proc/<pid>/cmdline proving the pid is really this component
    ports: tuple[int, ...]
    health: Callable[[], Health]
    address: str = ""

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    def running_pid(self) -> int | None:
        pid = read_pid(pidfile(self.name))
        if pid is not None and proc_matches(pid, self.marker):
            return pid
        return None

    def ensure_ports_free(self) -> None:
        # A port we cannot bind is a clear error up front, not a readiness timeout later.
        for port in self.ports:
            if port_open(port):
                raise StackError(
                    f"{self.name}: port {port} is in use by a process gelombang did not start;"
                    " stop it or free the port"
                )


# ---------------------------------------------------------------------------------------------
# Generic start / wait / stop
# ---------------------------------------------------------------------------------------------


def spawn(
    comp: Component,
    argv: list[str],
    env: dict[str, str] | None = None,
    nice: int = 0,
    note: str = "stack.py starting",
) -> subprocess.Popen[bytes]:
    """Start a long-running process detached from us (own session: it survives our exit and a
    Ctrl-C in this terminal), output appended to its log, pid recorded. ``note`` heads the log's
    new section (who started it, and why)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with comp.log.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {note} {comp.name}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if nice:
        # Right after the start, before it forks anything: what it starts inherits it.
        os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
        group = cpu_group_for(nice)
        if group is None or not join_cpu_group(proc.pid, group):
            set_autogroup_nice(proc.pid, nice)
    write_pid(comp.name, proc.pid)
    return proc


@dataclass(frozen=True)
class CpuGroup:
    """A cgroup v1 ``cpu`` group: its share of a busy CPU against each intake process's 1,024."""

    name: str
    shares: int


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
# Work that Kafka buffers and that may wait out a spike entirely (verification, the simulators,
# the pool worker): nice 10 or more. Nice alone did not hold (nice 10 in its own autogroup
# still took 0.56 of 2 cores while intake queued). 32, not the kernel's minimum of 2: the
# consumers' event loops must still run now and then during a long spike, or their group
# sessions (30 s) lapse and the groups rebalance.
BACKGROUND_NICE = 10
BACKGROUND = CpuGroup("gelombang-background", 32)
# The decider (the projector, nice 5) is background work too (DESIGN: it yields CPU to intake
# during a spike and catches up after it; the log keeps the order, so a late verdict is the
# same verdict), but it comes before the rest: it is what verification waits for. In its own
# autogroup at nice 5 (weight 335) it and the Postgres work it drives took ~0.65 of 2 cores at
# 600 sign-ups/s, and one API process gave out at 600-800/s instead of 1,000-1,300/s (issue 15,
# README Performance).
DECIDER_NICE = 5
DECIDER = CpuGroup("gelombang-decider", 64)


def cpu_group_for(nice: int) -> CpuGroup | None:
    if nice >= BACKGROUND_NICE:
        return BACKGROUND
    if nice >= DECIDER_NICE:
        return DECIDER
    return None


def join_cpu_group(pid: int, group: CpuGroup) -> bool:
    """Move ``pid`` into ``group``; False where the kernel or the container offers no writable
    cgroup v1 cpu controller (then autogroup nice is the fallback)."""
    path = CGROUP_CPU / group.name
    try:
        path.mkdir(exist_ok=True)
        (path / "cpu.shares").write_text(f"{group.shares}\n")
        (path / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        return False
    return True


def set_autogroup_nice(pid: int, nice: int) -> None:
    """Give the process's scheduler autogroup the same nice value as the process.

    Every process we start has its own session (``start_new_session``), and with the kernel's
    autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``, on by default) each
    session is its own group: the CPU is shared between groups first, and a process's nice only
    counts inside its group. A niced verification worker therefore got as much CPU as an API
    process (measured: 0.56 of 2 cores at nice 10 while intake queued at 300/s). The group's nice
    is what counts between sessions.
    """
    path = Path(f"/proc/{pid}/autogroup")
    try:
        path.write_text(f"{nice}\n")
    except FileNotFoundError:
        return  # kernel built without autogroup: plain nice is all there is, and it works
    except OSError:
        # Lowering a group's priority needs no privilege, but some containers mount /proc
        # read-only; the processes then compete as equals, which is slower, not wrong.
        say(f"  note: could not set the scheduler group nice of pid {pid} ({path})")


def wait_ready(
    comp: Component,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    check: Callable[[], Health] | None = None,
) -> None:
    check = check or comp.health
    deadline = time.monotonic() + timeout
    detail = "not checked"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise fail_with_log(
                f"{comp.name} exited with code {proc.returncode} during startup", comp.log
            )
        ok, detail = check()
        if ok:
            return
        time.sleep(0.3)
    raise fail_with_log(f"{comp.name} not ready after {timeout:.0f}s ({detail})", comp.log)


def start_simple(
    comp: Component,
    argv: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
) -> bool:
    """Start comp unless already running. Returns True if it was started now."""
    pid = comp.running_pid()
    if pid is not None:
        say(f"  {comp.name}: already running (pid {pid})")
        return False
    comp.ensure_ports_free()
    t0 = time.monotonic()
    proc = spawn(comp, argv, env)
    wait_ready(comp, timeout, proc)
    say(f"  {comp.name}: started (pid {proc.pid}) in {time.monotonic() - t0:.1f}s")
    return True


def signal_and_wait(pid: int, marker: str, grace: float) -> bool:
    """SIGTERM, wait up to grace, then SIGKILL. Returns True if it needed the SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not proc_matches(pid, marker):
            return False
        time.sleep(0.2)
    # Our processes lead their own session (start_new_session), so the process group is ours
    # too: killing the group also takes down children (nginx workers, uvicorn workers) that
    # would otherwise keep the ports bound after their parent is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    return True


def running_argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.rstrip(b"\0").split(b"\0")]


def restart_if_flags_changed(comp: Component, argv: list[str]) -> None:
    """Stop comp if it runs with other flags than argv (a pull changed them), so that the start
    that follows applies them; flags, unlike Prometheus' config file, cannot be reloaded."""
    pid = comp.running_pid()
    if pid is not None and running_argv(pid) != argv:
        say(f"  {comp.name}: running with other flags; restarting")
        stop_component(comp)


def stop_component(comp: Component) -> None:
    path = pidfile(comp.name)
    pid = read_pid(path)
    if pid is None:
        say(f"  {comp.name}: not running")
        path.unlink(missing_ok=True)
        return
    if not proc_matches(pid, comp.marker):
        say(f"  {comp.name}: not running (stale pidfile {pid} removed)")
        path.unlink(missing_ok=True)
        return
    t0 = time.monotonic()
    killed = signal_and_wait(pid, comp.marker, STOP_GRACE)
    path.unlink(missing_ok=True)
    how = "killed after SIGTERM timeout" if killed else "stopped"
    say(f"  {comp.name}: {how} (pid {pid}) in {time.monotonic() - t0:.1f}s")

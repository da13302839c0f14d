#!/usr/bin/env python3
"""Supervision of the local stack's app processes: a killed or crashed app comes back by itself.

`make up` starts one watcher (``python3 deploy/local/supervision.py``, stdlib only like
stack.py) after the apps. Once a second it looks at every app of the app table that has a
pidfile: a pidfile whose process is gone means the app died, because stop_component removes the
pidfile of an app stopped on purpose (`make down`, `make restart`); an app without a pidfile is
left alone. The app is started again through ``apps.launch``, the path `up` takes (own session,
nice, background cgroup, env from .run/stack.env, log, pidfile), after a backoff (1, 2, 4, 8 s),
and left down after ``max_exits`` exits within ``window_s``: ``.run/supervision/<app>.failed``
says why, `make status` shows it as failed with its log, and `make up` or `make restart` starts
it again (the watcher then forgets the old exits).

When a file of deploy/local changes, the watcher execs itself again (same pid) once the new code
imports, so restarts follow the current app table.

Each round runs under the stack lock, taken without waiting (a round takes milliseconds): while
`up`, `down` or `restart` runs, the watcher neither looks nor starts, so a stop they make (SIGTERM,
then the pidfile removed) is never mistaken for a crash, and never undone.

Why a watcher of our own and not supervisord or process-compose: their children share the
supervisor's session, so each app would lose its own scheduler autogroup (processes.spawn, the
measured CPU split between intake and background work); supervisord restarts a process that
crashes after ``startsecs`` forever, without backoff or limit; and every pid-based path (`make
down`, `make restart`, the chaos faults, tests that SIGKILL a worker) would read as a crash to be
undone, or have to learn supervisorctl. The watcher keeps all of them as they were.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from deploy.local.apps import AppSpec, app_table, launch
from deploy.local.installs import app_env
from deploy.local.layout import HERE, ROOT, SUPERVISION, StackError, say
from deploy.local.processes import (
    Component,
    Health,
    pidfile,
    proc_matches,
    read_pid,
    stack_lock_if_free,
    start_simple,
)

SUPERVISOR = "supervisor"  # its component, pidfile and log name
SCRIPT = HERE / "supervision.py"
ROUND_S = 1.0
# The heartbeat is touched every round; much older means the watcher is stuck.
HEARTBEAT_STALE_S = 15.0
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RestartPolicy:
    """A process that exits ``max_exits`` times within ``window_s`` is crash-looping: left down.
    Before that, each restart waits twice as long as the one before (up to ``max_delay_s``)."""

    max_exits: int = 5
    window_s: float = 300.0
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay_s(self, exits: int) -> float:
        """The wait before the start that follows the ``exits``-th exit within the window."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, exits - 1))


class Apps(Protocol):
    """What the watcher sees and does; LocalApps is the real one, tests pass a fake."""

    def names(self) -> list[str]: ...

    def recorded_pid(self, name: str) -> int | None: ...

    def running(self, name: str, pid: int) -> bool: ...

    def start(self, name: str, note: str) -> int: ...

    def failure(self, name: str) -> str | None: ...

    def mark_failed(self, name: str, reason: str) -> None: ...

    def clear_failure(self, name: str) -> None: ...

    def lock(self) -> AbstractContextManager[bool]: ...


@dataclass
class Watch:
    known_pid: int | None = None  # last seen running, or last started by the watcher
    counted_pid: int | None = None  # the dead pid whose exit is already counted
    exits: list[float] = field(default_factory=list)  # when, within the policy's window
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        apps: Apps,
        clock: Callable[[], float],
        log: Callable[[str], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self.apps = apps
        self.clock = clock
        self.log = log
        self.policy = policy or RestartPolicy()
        self.watches: dict[str, Watch] = {}

    def round(self) -> None:
        # The whole round under the stack lock (a few milliseconds): while `up`, `down` or
        # `restart` holds it, an app between its SIGTERM and the removal of its pidfile looks
        # dead, and must be neither counted nor started again.
        with self.apps.lock() as held:
            if not held:
                return  # look again next round
            now = self.clock()
            names = self.apps.names()
            for gone in set(self.watches) - set(names):
                del self.watches[gone]
            for name in names:
                if self.observe(name, now):
                    self.restart(name, now)

    def observe(self, name: str, now: float) -> bool:
        """Note what became of ``name`` since the last round; True if it is due a start."""
        watch = self.watches.setdefault(name, Watch())
        pid = self.apps.recorded_pid(name)
        if pid is None:
            self.watches[name] = Watch()  # stopped on purpose, or never started
            return False
        if self.apps.running(name, pid):
            if pid != watch.known_pid:
                # Started by `up`, `restart` or an operator: a fresh start, so the exits before
                # it (and a failed mark) no longer count.
                self.watches[name] = Watch(known_pid=pid)
                self.apps.clear_failure(name)
            return False
        if pid != watch.counted_pid:
            watch.counted_pid = pid
            if self.apps.failure(name) is not None:
                return False  # given up on earlier (maybe by a previous watcher)
            self.exited(name, watch, now, f"pid {pid} is gone")
        return watch.restart_at is not None and now >= watch.restart_at

    def exited(self, name: str, watch: Watch, now: float, what: str) -> None:
        policy = self.policy
        watch.exits = [t for t in watch.exits if now - t < policy.window_s] + [now]
        count = len(watch.exits)
        if count >= policy.max_exits:
            watch.restart_at = None
            reason = f"crash loop: {count} exits in {policy.window_s:.0f} s; left down"
            self.apps.mark_failed(name, reason)
            self.log(f"{name}: {what}; {reason}")
            return
        delay = policy.delay_s(count)
        watch.restart_at = now + delay
        self.log(
            f"{name}: {what} (exit {count} of {policy.max_exits} allowed in"
            f" {policy.window_s:.0f} s); starting it again in {delay:g} s"
        )

    def restart(self, name: str, now: float) -> None:
        watch = self.watches[name]
        note = f"supervision restarting (exit {len(watch.exits)} in {self.policy.window_s:.0f} s)"
        try:
            new = self.apps.start(name, note)
        except (OSError, StackError) as exc:
            self.exited(name, watch, now, f"could not be started ({exc})")
            return
        watch.known_pid = new
        watch.restart_at = None
        self.log(f"{name}: started again (pid {new})")


# ---------------------------------------------------------------------------------------------
# The real stack: the app table, .run/pids, /proc, the stack lock, apps.launch
# ---------------------------------------------------------------------------------------------


def failure_path(name: str, folder: Path = SUPERVISION) -> Path:
    return folder / f"{name}.failed"


def read_failure(name: str, folder: Path = SUPERVISION) -> str | None:
    """Why the watcher left ``name`` down, None if it did not."""
    try:
        return failure_path(name, folder).read_text().strip() or "left down"
    except OSError:
        return None


class LocalApps:
    def __init__(self, folder: Path = SUPERVISION) -> None:
        self.folder = folder
        self.env: dict[str, str] = {}
        self.specs: dict[str, AppSpec] = {}

    def names(self) -> list[str]:
        # Read every round: the table follows .run/stack.env, as `up` does.
        self.env = app_env()
        self.specs = {app.name: app for app in app_table(self.env) if app.present()}
        return list(self.specs)

    def recorded_pid(self, name: str) -> int | None:
        return read_pid(pidfile(name))

    def running(self, name: str, pid: int) -> bool:
        return proc_matches(pid, self.specs[name].component().marker)

    def start(self, name: str, note: str) -> int:
        # Through a child that exits as soon as the app is launched: the app is then nobody's
        # child, as after `up` (stack.py exits), so it leaves no zombie here, and per-component
        # CPU and memory sums over process trees (loadtests/processes.py) do not count it under
        # the watcher as well.
        child = os.fork()
        if child == 0:
            code = 1
            try:
                launch(self.specs[name], self.env, note)
                code = 0
            except Exception as exc:
                say(f"{name}: launch failed: {exc!r}")
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        pid = read_pid(pidfile(name))
        if os.waitstatus_to_exitcode(status) != 0 or pid is None:
            raise StackError(f"launching {name} failed; see {self.specs[name].component().log}")
        return pid

    def failure(self, name: str) -> str | None:
        return read_failure(name, self.folder)

    def mark_failed(self, name: str, reason: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        failure_path(name, self.folder).write_text(f"{reason} at {stamp}\n")

    def clear_failure(self, name: str) -> None:
        failure_path(name, self.folder).unlink(missing_ok=True)

    def lock(self) -> AbstractContextManager[bool]:
        return stack_lock_if_free()


def supervisor_component(folder: Path = SUPERVISION) -> Component:
    heartbeat = folder / "heartbeat"

    def health() -> Health:
        try:
            age = time.time() - heartbeat.stat().st_mtime
        except OSError:
            return False, "no heartbeat"
        return age < HEARTBEAT_STALE_S, f"watching apps, last round {age:.0f}s ago"

    return Component(SUPERVISOR, str(SCRIPT), (), health)


def start_supervision(env: dict[str, str]) -> None:
    """Start the watcher unless it runs (a step of `up`, after the apps)."""
    comp = supervisor_component()
    if comp.running_pid() is None:
        # A heartbeat left by an earlier watcher would pass the readiness check at once.
        (SUPERVISION / "heartbeat").unlink(missing_ok=True)
    start_simple(comp, [sys.executable, str(SCRIPT)], START_TIMEOUT, env)


def code_version() -> float:
    """The newest change to the stack's code (this package): the app table, launch, spawn."""
    return max(path.stat().st_mtime for path in HERE.glob("*.py"))


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def log(msg: str) -> None:
        say(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}")

    SUPERVISION.mkdir(parents=True, exist_ok=True)
    heartbeat = SUPERVISION / "heartbeat"
    supervisor = Supervisor(LocalApps(), time.monotonic, log)
    loaded = code_version()
    log(f"watching the apps of {ROOT} (policy {supervisor.policy})")
    while not stop.is_set():
        try:
            supervisor.round()
        except (OSError, StackError) as exc:
            # A bad stack.env or a full disk must not end supervision; say it and look again.
            log(f"round failed: {exc}")
        heartbeat.touch()
        if code_version() != loaded:
            loaded = code_version()
            # Start apps the way the code now says (a changed app table, argv or env), not the
            # way it said when `up` started the watcher; the same pid, so the pidfile stays
            # right. Code that does not even import (a file saved halfway) is not run.
            check = [sys.executable, "-c", "import deploy.local.stack"]
            if subprocess.run(check, cwd=ROOT, capture_output=True, check=False).returncode:
                log("deploy/local changed but does not import; going on with the loaded code")
            else:
                log("deploy/local changed; reloading")
                os.execv(sys.executable, [sys.executable, str(SCRIPT)])  # noqa: S606
        stop.wait(ROUND_S)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

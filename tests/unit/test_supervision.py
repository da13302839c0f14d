"""The local stack's supervision (deploy/local/supervision.py): which dead app is started again,
when, and when it is left down. A fake stack and a fake clock; no process is started."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local.supervision import (
    LocalApps,
    RestartPolicy,
    Supervisor,
    read_failure,
    supervisor_component,
)
from tests.unit.fakes import FakeClock


class FakeStack:
    """Pidfiles, live pids, failed marks and the stack lock, in memory."""

    def __init__(self, *names: str) -> None:
        self.apps = list(names)
        self.pids: dict[str, int] = {}
        self.alive: set[int] = set()
        self.failures: dict[str, str] = {}
        self.lock_free = True
        self.on_lock: Callable[[], object] = lambda: None
        self.refuse_starts = False
        self.restarts: list[str] = []
        self.last_pid = 1000
        for name in names:
            self.operator_start(name)

    # What the supervision sees and does
    def names(self) -> list[str]:
        return list(self.apps)

    def recorded_pid(self, name: str) -> int | None:
        return self.pids.get(name)

    def running(self, name: str, pid: int) -> bool:
        return pid in self.alive

    def start(self, name: str, note: str) -> int:
        if self.refuse_starts:
            raise OSError("no such file")
        self.restarts.append(name)
        return self.operator_start(name)

    def failure(self, name: str) -> str | None:
        return self.failures.get(name)

    def mark_failed(self, name: str, reason: str) -> None:
        self.failures[name] = reason

    def clear_failure(self, name: str) -> None:
        self.failures.pop(name, None)

    @contextmanager
    def lock(self) -> Iterator[bool]:
        self.on_lock()
        yield self.lock_free

    # What happens to the stack
    def operator_start(self, name: str) -> int:
        self.last_pid += 1
        self.pids[name] = self.last_pid
        self.alive.add(self.last_pid)
        return self.last_pid

    def kill(self, name: str) -> None:
        self.alive.discard(self.pids[name])

    def stop(self, name: str) -> None:
        """What stop_component does: the process ends and its pidfile goes."""
        self.kill(name)
        del self.pids[name]

    def is_up(self, name: str) -> bool:
        return self.pids.get(name) in self.alive


def watching(stack: FakeStack, clock: FakeClock) -> Supervisor:
    supervisor = Supervisor(stack, clock, log=lambda _: None, policy=RestartPolicy())
    supervisor.round()
    return supervisor


def watched(*names: str) -> tuple[FakeStack, FakeClock, Supervisor]:
    """``names`` up, watched from 0 s on."""
    stack, clock = FakeStack(*names), FakeClock(0.0)
    return stack, clock, watching(stack, clock)


def run_for(supervisor: Supervisor, clock: FakeClock, seconds: float) -> None:
    """Rounds once a second, as the watcher does."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1
        supervisor.round()


def seconds_until_back(
    supervisor: Supervisor, stack: FakeStack, clock: FakeClock, name: str
) -> float:
    """From the round that first sees ``name`` dead to the round that starts it."""
    died = clock.now
    supervisor.round()
    for _ in range(120):
        clock.now += 0.5
        supervisor.round()
        if stack.is_up(name):
            return clock.now - died
    raise AssertionError(f"{name} did not come back")


def test_a_killed_app_comes_back_with_a_new_pid_after_a_second() -> None:
    stack, clock, supervisor = watched("projector", "sms-gateway-sim")
    old = stack.pids["projector"]
    stack.kill("projector")
    clock.now = 1.0
    supervisor.round()
    assert not stack.is_up("projector")  # the first backoff: one second after it was seen dead
    clock.now = 2.0
    supervisor.round()
    assert stack.is_up("projector") and stack.pids["projector"] != old
    assert stack.restarts == ["projector"]  # the other app was left alone


def test_each_exit_within_the_window_waits_twice_as_long_as_the_one_before() -> None:
    stack, clock, supervisor = watched("verification-0")
    waits = []
    for _ in range(4):
        stack.kill("verification-0")
        waits.append(seconds_until_back(supervisor, stack, clock, "verification-0"))
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_the_backoff_stops_growing_at_its_ceiling() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=30)
    assert [policy.delay_s(n) for n in (1, 2, 5, 6, 20)] == [1, 2, 16, 30, 30]


def test_a_crash_loop_is_left_down_and_says_why() -> None:
    stack, clock, supervisor = watched("projector")
    for _ in range(4):
        stack.kill("projector")
        seconds_until_back(supervisor, stack, clock, "projector")
    stack.kill("projector")  # the fifth exit in five minutes
    run_for(supervisor, clock, 120)
    assert not stack.is_up("projector")
    assert len(stack.restarts) == 4
    assert "5 exits in 300 s" in stack.failures["projector"]


def test_exits_further_apart_than_the_window_never_give_up() -> None:
    stack, clock, supervisor = watched("projector")
    for _ in range(12):
        stack.kill("projector")
        seconds_until_back(supervisor, stack, clock, "projector")
        run_for(supervisor, clock, 100)
    assert len(stack.restarts) == 12 and not stack.failures


def test_an_app_stopped_on_purpose_stays_stopped() -> None:
    stack, clock, supervisor = watched("projector")
    stack.stop("projector")
    run_for(supervisor, clock, 60)
    assert stack.restarts == [] and not stack.is_up("projector")


def test_nothing_is_started_while_up_down_or_restart_holds_the_lock() -> None:
    stack, clock, supervisor = watched("projector")
    stack.lock_free = False
    stack.kill("projector")
    run_for(supervisor, clock, 30)
    assert stack.restarts == []
    stack.lock_free = True
    run_for(supervisor, clock, 2)  # seen dead once the lock is free, started a second later
    assert stack.is_up("projector")


def test_a_stop_made_just_before_the_lock_is_taken_is_not_undone() -> None:
    stack, clock, supervisor = watched("projector")
    stack.kill("projector")
    # `make down` takes the lock first and removes the pidfile; the watcher gets it after.
    stack.on_lock = lambda: stack.pids.pop("projector", None)
    run_for(supervisor, clock, 30)
    assert stack.restarts == [] and "projector" not in stack.pids


def test_an_app_started_by_up_meanwhile_is_not_started_twice() -> None:
    stack, clock, supervisor = watched("verification-0")
    stack.kill("verification-0")
    stack.on_lock = lambda: None if stack.is_up("verification-0") else stack.operator_start(
        "verification-0"
    )
    run_for(supervisor, clock, 30)
    assert stack.restarts == [] and stack.is_up("verification-0")


def test_a_start_by_an_operator_forgets_the_crash_loop() -> None:
    stack, clock, supervisor = watched("projector")
    for _ in range(5):
        stack.kill("projector")
        run_for(supervisor, clock, 20)
    assert "projector" in stack.failures
    stack.operator_start("projector")  # `make restart NAMES=projector` after a fix
    run_for(supervisor, clock, 1)
    assert "projector" not in stack.failures
    stack.kill("projector")
    assert seconds_until_back(supervisor, stack, clock, "projector") == 1.0


def test_an_app_left_down_by_an_earlier_watcher_stays_down() -> None:
    stack, clock = FakeStack("projector"), FakeClock(0.0)
    stack.kill("projector")
    stack.failures["projector"] = "crash loop: 5 exits in 300 s; left down"
    supervisor = watching(stack, clock)
    run_for(supervisor, clock, 60)
    assert stack.restarts == [] and "projector" in stack.failures


def test_a_start_that_fails_counts_as_an_exit() -> None:
    stack, clock, supervisor = watched("mail-sink")
    stack.refuse_starts = True
    stack.kill("mail-sink")
    run_for(supervisor, clock, 120)
    assert "mail-sink" in stack.failures


def test_the_failed_mark_and_the_heartbeat_live_in_the_supervision_folder(tmp_path: Path) -> None:
    apps = LocalApps(tmp_path)
    assert read_failure("projector", tmp_path) is None
    apps.mark_failed("projector", "crash loop: 5 exits in 300 s; left down")
    assert (read_failure("projector", tmp_path) or "").startswith("crash loop: 5 exits")
    apps.clear_failure("projector")
    assert read_failure("projector", tmp_path) is None

    watcher = supervisor_component(tmp_path)
    assert watcher.health()[0] is False
    (tmp_path / "heartbeat").touch()
    assert watcher.health()[0] is True

"""NIK checks against the civil registry as a continuous pipeline.

The worker used to claim up to 64 due checks, call the registry for all of them, store each
answer in a transaction of its own, and only then claim again: every round waited for its
slowest call (40 ± 30 ms each in the simulator, up to the 3 s timeout), so the registry's
quota was never used in full (212 of 300 checks/s after the bench's spike). Here:

- up to ``concurrency`` calls are in flight at any time, and a slow call holds back nothing but
  its own slot. A call that ends starts the next claimed check at once; claims top the claimed
  checks up to ``concurrency + prefetch`` once ``claim_min`` are missing, so one claim query
  serves several checks (each query is a round trip, and on this machine a round trip's
  syscalls cost more CPU than the check's SQL) and a claimed check waits for a slot for no
  longer than ``prefetch`` calls take, well inside its lease;
- answers go to one writer that stores them in batches (one transaction of a few set-based
  statements per batch, after a short linger so that batches fill). Claiming pauses while
  ``max_unwritten`` answers wait to be stored, so a slow or absent database never lets
  answers pile up past their leases;
- while the registry asks us to wait (a 429's Retry-After, an open circuit) nothing is claimed
  and nothing is called: a check claimed just before is put back for when the wait is over,
  without counting as an attempt. An unavailable registry reschedules the check with the same
  jittered backoff as before, never rejects.

The collaborators (the store, the registry, the cipher) are passed in, so the unit tests run the
loop with fakes.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gelombang.events import Event
from gelombang.logs import get_logger
from gelombang.metrics import VERIFICATION_CHECKS, VERIFICATION_RETRIES
from gelombang.pii import PiiCipher, PiiError
from services.verification.gateways import Unavailable
from services.verification.service import (
    DueNikCheck,
    NikChecked,
    NikRetry,
    RegistryResult,
    nik_state_for,
    retry_delay_s,
)

log = get_logger(__name__)

Finished = NikChecked | NikRetry


class NikCheckStore(Protocol):
    async def claim(self, limit: int) -> Sequence[DueNikCheck]:
        """Up to ``limit`` due checks, leased to this worker."""

    async def record(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> Sequence[Event]:
        """Store finished checks (idempotent: only pending checks change); the outcomes
        settled by them."""


class NikRegistry(Protocol):
    def wait_s(self) -> float:
        """Seconds until calling makes sense again (0: now)."""

    async def verify(self, nik: str, full_name: str, birth_date: str) -> RegistryResult:
        """The registry's answer; raises ``Unavailable`` when there is none to act on."""


@dataclass(frozen=True)
class NikCheckConfig:
    concurrency: int = 16  # registry calls in flight per worker
    claim_min: int = 4  # missing claimed checks before the next claim
    prefetch: int = 0  # claimed checks waiting for a slot, at most
    write_batch: int = 64
    write_linger_s: float = 0.1
    max_unwritten: int = 256
    idle_s: float = 0.5  # nothing due: look again after this long
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0


@dataclass(eq=False)
class NikCheckPipeline:
    store: NikCheckStore
    registry: NikRegistry
    cipher: PiiCipher
    config: NikCheckConfig
    rng: random.Random
    recorded: Callable[[Sequence[Event]], None] = lambda _: None
    _claim_min: int = field(init=False)
    _calling: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    # Claimed, waiting for a slot.
    _queued: deque[DueNikCheck] = field(default_factory=deque, init=False)
    _unwritten: list[Finished] = field(default_factory=list, init=False)
    _writing: int = field(default=0, init=False)
    # Set whenever the claimer may have something to do: a slot freed, a batch stored, stop.
    _changed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    # Set whenever the writer may have something to do: an answer arrived, closing.
    _ready: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _closing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        config = self.config
        self._claim_min = max(1, min(config.claim_min, config.concurrency + config.prefetch))

    @property
    def in_flight(self) -> int:
        return len(self._calling)

    async def run(self, stop: asyncio.Event) -> None:
        """Check until ``stop``; then let the calls in flight finish and store their answers."""
        watcher = asyncio.create_task(self._wake_on(stop))
        writer = asyncio.create_task(self._write_loop())
        try:
            await self._claim_loop(stop)
            # Calls end within the registry client's timeout; their answers are stored before
            # the worker goes (what is not stored is due again when its lease ends). Checks
            # still waiting for a slot go back untried, due at once for the other workers.
            while self._queued:
                check = self._queued.popleft()
                self._finish(NikRetry(check.registration_id, 0.0, "shutdown", tried=False))
            if self._calling:
                await asyncio.wait(set(self._calling))
            self._closing = True
            self._ready.set()
            await writer
        finally:
            self._queued.clear()  # cancelled: nothing more may start (the leases bring them back)
            watcher.cancel()
            writer.cancel()
            for task in self._calling:
                task.cancel()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._changed.set()

    # -- claiming ---------------------------------------------------------------------------
    async def _claim_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            # Cleared before looking, with no await in between: a change after this is seen.
            self._changed.clear()
            hold = self.registry.wait_s()
            if hold > 0:
                # The registry is down or asked us to slow down: claim nothing yet.
                await _until(stop, hold)
                continue
            room = (
                self.config.concurrency
                + self.config.prefetch
                - len(self._calling)
                - len(self._queued)
            )
            backlog = len(self._unwritten) + self._writing
            if backlog >= self.config.max_unwritten or room < self._claim_min:
                await _until(self._changed, None)  # a slot frees, a batch is stored, or stop
                continue
            try:
                due = await self.store.claim(room)
            except Exception:
                failures += 1
                log.exception("nik_claim_failed", failures=failures)
                await _until(stop, min(30.0, self.config.idle_s * 2**failures))
                continue
            failures = 0
            self._queued.extend(due)
            self._start_calls()
            if len(due) < room:
                await _until(stop, self.config.idle_s)  # nothing more due for now

    def _start_calls(self) -> None:
        while self._queued and len(self._calling) < self.config.concurrency:
            task = asyncio.create_task(self._check(self._queued.popleft()))
            self._calling.add(task)
            task.add_done_callback(self._call_ended)

    def _call_ended(self, task: asyncio.Task[None]) -> None:
        self._calling.discard(task)
        self._start_calls()
        self._changed.set()
        if not task.cancelled() and task.exception() is not None:
            # Not expected (_check turns every failure into a retry): the lease brings it back.
            log.error("nik_check_failed", error=repr(task.exception()))

    # -- checking ---------------------------------------------------------------------------
    async def _check(self, due: DueNikCheck) -> None:
        config = self.config
        hold = self.registry.wait_s()
        if hold > 0:
            # The registry asked us to wait after this was claimed: put it back, untried.
            delay = max(hold, config.retry_base_s / 2 + self.rng.uniform(0, config.retry_base_s))
            self._finish(NikRetry(due.registration_id, delay, "held_off", tried=False))
            return
        try:
            personal = self.cipher.open_json(due.pii, str(due.registration_id))
            nik, name, born = personal["nik"], personal["full_name"], personal["birth_date"]
        except (PiiError, ValueError, KeyError, TypeError):
            # Not expected: sealed by our own API. Retried slowly, as any check without answer.
            log.error("nik_check_unreadable")
            delay = retry_delay_s(due.attempts, config.retry_base_s, config.retry_max_s, self.rng)
            self._finish(NikRetry(due.registration_id, delay, "unreadable"))
            return
        try:
            result = await self.registry.verify(nik, name, born)
        except Unavailable as exc:
            delay = retry_delay_s(due.attempts, config.retry_base_s, config.retry_max_s, self.rng)
            if exc.retry_after_s is not None:
                delay = max(delay, exc.retry_after_s)
            VERIFICATION_RETRIES.labels("nik", exc.reason).inc()
            self._finish(NikRetry(due.registration_id, delay, exc.reason))
            return
        VERIFICATION_CHECKS.labels("nik", result).inc()
        self._finish(NikChecked(due.registration_id, nik_state_for(result)))

    def _finish(self, finished: Finished) -> None:
        self._unwritten.append(finished)
        self._ready.set()

    # -- storing ----------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        failures = 0
        while True:
            if not self._unwritten:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            if len(self._unwritten) < self.config.write_batch and not self._closing:
                await asyncio.sleep(self.config.write_linger_s)  # let the batch fill
            batch = self._unwritten[: self.config.write_batch]
            del self._unwritten[: len(batch)]
            self._writing = len(batch)
            checked, retries = split_batch(batch)
            try:
                events = await self.store.record(checked, retries)
            except Exception:
                self._unwritten[:0] = batch
                failures += 1
                log.exception("nik_results_not_stored", size=len(batch), failures=failures)
                if self._closing and failures >= 3:
                    return  # leaving: the leases bring these checks back
                await asyncio.sleep(min(10.0, 0.2 * 2**failures))
                continue
            finally:
                self._writing = 0
                self._changed.set()
            failures = 0
            try:
                self.recorded(events)
            except Exception:  # a metric or a wake-up must never stop the writer
                log.exception("nik_results_callback_failed")


async def _until(event: asyncio.Event, timeout_s: float | None) -> None:
    """Wait for ``event``, at most ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        pass


def split_batch(batch: Sequence[Finished]) -> tuple[list[NikChecked], list[NikRetry]]:
    """One entry per case: an answer over a retry, else the latest (a case claimed again after
    its lease ran out may be in a batch twice)."""
    latest: dict[uuid.UUID, Finished] = {}
    for finished in batch:
        earlier = latest.get(finished.registration_id)
        if isinstance(earlier, NikChecked) and isinstance(finished, NikRetry):
            continue
        latest[finished.registration_id] = finished
    checked = [f for f in latest.values() if isinstance(f, NikChecked)]
    retries = [f for f in latest.values() if isinstance(f, NikRetry)]
    return checked, retries

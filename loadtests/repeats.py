"""Repeat attempts: people already answered 202 who sign up again, mixed into a body stream.

A repeat reuses the NIK (and so the person) of a fresh sign-up whose 202 has already arrived,
with another email and, as the generator sends every request, a new Idempotency-Key. The edge
should refuse it with 409 (the Redis reservation, or the Postgres claim); one that gets past the
edge, as it can while Redis is down, is a real registration in the log, and the log must refuse
it as a duplicate (``loadtests.duplicates`` checks that it did).

The original is one of the last few 202s: the edge's Postgres claim only knows a NIK once the
projector has stored it (about a second after the 202), so a repeat that follows its original
closely is the one that tests the log rather than the claim. Each original is repeated at most
once, which keeps "the first of this NIK" unambiguous when the results are judged.

No I/O: the generator reports every answer through :meth:`Repeats.answered`.
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass

from loadtests.citizens import repeat_body
from loadtests.generator import Recording

# ~0.1-0.2 s of 202s at the rates this machine takes: recent enough to beat the claim.
RECENT = 64


@dataclass(frozen=True)
class RepeatAnswer:
    """What the edge said to one repeat attempt."""

    original_id: str
    due: float
    status: int
    registration_id: str | None  # set for a 202
    phone: str | None  # where its OTP would go, to look for one


class Repeats:
    """An iterator of bodies: ``fresh`` ones, and ``rate`` repeats per fresh one on top (0.02:
    one after every 50 fresh bodies, once some fresh sign-up has been accepted). On top, not
    instead: the bench offers its full rate of new people, so every one of them can be accepted
    (with 2% of the rate given to repeats, 80,000 offered a minute could never be 80,000
    accepted). Pass :meth:`answered` as the generator's ``on_answer``."""

    def __init__(
        self, fresh: Iterator[bytes], rate: float, rng: random.Random, recent: int = RECENT
    ) -> None:
        self._fresh = fresh
        # Fresh bodies per repeat, counted exactly so the bench's fresh rate is what it offers.
        self._every = round(1 / rate) if rate > 0 else 0
        self._since_repeat = 0
        self._rng = rng
        self._recent: deque[tuple[str, bytes]] = deque(maxlen=recent)
        # Repeat bodies in flight -> (original id, phone). Each is unique (a new email).
        self._pending: dict[bytes, tuple[str, str | None]] = {}
        self.sent = 0
        self.answers: list[RepeatAnswer] = []

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._every and self._since_repeat >= self._every and self._recent:
            self._since_repeat = 0
            index = self._rng.randrange(len(self._recent))
            original_id, original = self._recent[index]
            del self._recent[index]
            body = repeat_body(original, self._rng)
            phone = json.loads(body).get("phone")
            self._pending[body] = (original_id, phone if isinstance(phone, str) else None)
            self.sent += 1
            return body
        body = next(self._fresh)
        self._since_repeat += 1
        return body

    def answered(self, due: float, body: bytes, status: int, registration_id: str | None) -> None:
        repeat = self._pending.pop(body, None)
        if repeat is not None:
            original_id, phone = repeat
            self.answers.append(RepeatAnswer(original_id, due, status, registration_id, phone))
        elif status == 202 and registration_id is not None:
            self._recent.append((registration_id, body))


def fresh_statuses(
    rec: Recording, answers: Sequence[RepeatAnswer], skip: Container[int] = ()
) -> dict[int, int]:
    """The recording's statuses without the repeats' (a 409 to a repeat is the right answer, not
    an error), leaving out the seconds (by due time) in ``skip``."""
    total = Counter(rec.statuses(skip))
    total.subtract(a.status for a in answers if rec.index(a.due) not in skip)
    return {status: n for status, n in sorted(total.items()) if n > 0}

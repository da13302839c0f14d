"""Repeat attempts: which answers they get, and how they are kept out of the headline numbers."""

from __future__ import annotations

import json
import random

from loadtests.citizens import repeat_body, unique_bodies
from loadtests.generator import Recording, Second
from loadtests.outage import SETTLE_S, Outage
from loadtests.repeats import RepeatAnswer, Repeats, fresh_statuses


def _fresh(count: int, seed: int = 1) -> list[bytes]:
    return list(unique_bodies(random.Random(seed), count))


def always_repeating(seed: int) -> tuple[list[bytes], Repeats]:
    """Fifty fresh bodies, and repeats that repeat whenever an accepted NIK is there to reuse."""
    fresh = _fresh(50)
    return fresh, Repeats(iter(fresh), rate=1.0, rng=random.Random(seed))


def accepted_then_repeated(repeats: Repeats, at: float) -> tuple[bytes, bytes]:
    """The first body, answered 202 at ``at``, and the body sent after it: its repeat."""
    first = next(repeats)
    repeats.answered(at, first, 202, "id-1")
    return first, next(repeats)


def test_a_repeat_is_the_same_person_with_another_email() -> None:
    original = _fresh(1)[0]
    first, again = json.loads(original), json.loads(repeat_body(original, random.Random(2)))
    assert again["email"] != first.get("email")
    assert {k: v for k, v in again.items() if k != "email"} == {
        k: v for k, v in first.items() if k != "email"
    }
    # The bench reads the NIK off the front of a body: a repeat keeps the same layout.
    assert next(iter(again)) == "nik"


def test_nothing_is_repeated_before_a_first_202() -> None:
    fresh, repeats = always_repeating(seed=3)
    assert [next(repeats) for _ in range(10)] == fresh[:10]
    for body in fresh[:10]:
        repeats.answered(0.0, body, 503, None)  # refused: nobody to repeat yet
    assert next(repeats) == fresh[10]
    assert repeats.sent == 0


def test_a_repeat_reuses_an_accepted_nik_once_and_its_answer_is_kept_apart() -> None:
    fresh, repeats = always_repeating(seed=4)
    first, repeat = accepted_then_repeated(repeats, at=1.0)
    assert json.loads(repeat)["nik"] == json.loads(first)["nik"]
    assert repeat != first
    # Its original is used up: the next body is fresh again.
    assert next(repeats) == fresh[1]
    repeats.answered(2.5, repeat, 202, "id-2")
    phone = json.loads(first).get("phone")
    assert repeats.answers == [RepeatAnswer("id-1", 2.5, 202, "id-2", phone)]
    assert repeats.sent == 1


def test_a_repeat_answered_202_is_never_itself_repeated() -> None:
    fresh, repeats = always_repeating(seed=5)
    _, repeat = accepted_then_repeated(repeats, at=0.0)
    repeats.answered(0.0, repeat, 202, "id-2")
    assert next(repeats) == fresh[1]  # nothing accepted left to repeat


def test_repeats_come_on_top_of_the_fresh_bodies_at_the_rate() -> None:
    fresh = _fresh(3000, seed=6)
    repeats = Repeats(iter(fresh), rate=0.02, rng=random.Random(7))
    niks: list[str] = []
    for i in range(2550):
        body = next(repeats)
        niks.append(json.loads(body)["nik"])
        repeats.answered(float(i), body, 202, f"id-{i}")
    # One after every 50 fresh: the bench's fresh rate is exactly the rate it means to offer.
    assert repeats.sent == 50
    assert len(set(niks)) == 2500
    assert len(niks) - len(set(niks)) == repeats.sent


def test_a_repeat_due_while_nobody_is_accepted_waits_for_a_202() -> None:
    fresh = _fresh(10, seed=9)
    repeats = Repeats(iter(fresh), rate=0.5, rng=random.Random(10))
    assert [next(repeats) for _ in range(4)] == fresh[:4]  # nobody accepted yet
    repeats.answered(0.0, fresh[3], 202, "id-3")
    again = next(repeats)
    assert json.loads(again)["nik"] == json.loads(fresh[3])["nik"]
    assert repeats.sent == 1
    assert [next(repeats) for _ in range(2)] == fresh[4:6]


def test_the_bodies_end_when_the_fresh_ones_do() -> None:
    repeats = Repeats(iter(_fresh(3)), rate=0.0, rng=random.Random(8))
    assert len(list(repeats)) == 3


def _recording() -> Recording:
    # Three seconds: a 202 and a 409 in each; the 409s are the repeats' answers.
    rec = Recording(started=100.0)
    for _ in range(3):
        rec.seconds.append(Second(statuses={202: 1, 409: 1}, latencies_ms=[10.0, 300.0]))
    return rec


def test_repeats_answers_are_left_out_of_the_statuses() -> None:
    rec = _recording()
    answers = [RepeatAnswer("o", 100.0 + i + 0.5, 409, None, None) for i in range(3)]
    assert fresh_statuses(rec, answers) == {202: 3}
    # Seconds left out leave their repeats out too.
    assert fresh_statuses(rec, answers, skip={1}) == {202: 2}
    assert rec.latencies_ms(skip={0, 2}) == [10.0, 300.0]


def test_the_outage_covers_its_seconds_and_the_settling_after_it() -> None:
    rec = _recording()
    assert list(Outage().seconds(rec)) == []
    outage = Outage(started=100.5, ended=100.9)
    assert list(outage.seconds(rec)) == list(range(0, int(0.9 + SETTLE_S) + 1))
    summary = outage.summary(rec, [])
    assert summary["redis_outage_s"] == 0.4
    assert summary["redis_outage_at_s"] == 0.5

"""Per-IP and per-NIK limits and the proof of work, with in-memory counters and a fake clock."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

import pytest
from altcha import v1

from gelombang.admission import Refusal, SignUpGuard, WindowLimits, sliding_window_wait


class FakeSeen:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def first_time(self, key: str, ttl_s: int) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class BrokenSeen:
    async def first_time(self, key: str, ttl_s: int) -> bool:
        raise TimeoutError("redis is slow")


class FakeClock:
    def __init__(self) -> None:
        # Starts at the real time: ALTCHA checks a challenge's expiry (issued from this clock)
        # against the real clock, so a fixed date would expire every challenge once it passed.
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def guard(
    clock: FakeClock, seen: FakeSeen | BrokenSeen | None = None, **limits: int
) -> SignUpGuard:
    return SignUpGuard(
        seen=seen or FakeSeen(),
        service="test-guard",
        pow_hmac_key=b"k" * 32,
        pow_max_number=500,
        pow_ttl_s=300,
        windows=WindowLimits(
            ip=(limits.get("ip_limit", 3), 60),
            nik=(limits.get("nik_limit", 2), 600),
            ip_exempt=["127.0.0.0/8"],
            clock=clock,
        ),
        clock=clock,
    )


def solve(challenge: dict[str, object]) -> str:
    solution = v1.solve_challenge(
        str(challenge["challenge"]),
        str(challenge["salt"]),
        "SHA-256",
        int(str(challenge["maxNumber"])),
    )
    assert solution is not None
    payload = {
        "algorithm": "SHA-256",
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


@dataclass
class Edge:
    """The guard's limits checked and counted as the registration edge's Redis script does
    (services.registration.fast_path._EDGE; tests/integration/test_sign_up_edge.py runs the
    script itself): stop at the first limit reached, count every limit only if none was."""

    guard: SignUpGuard
    counts: dict[str, int] = field(default_factory=dict)

    def sign_up(self, ip: str = "203.0.113.9", nik: str = "h") -> Refusal | None:
        limits = self.guard.limits(ip, nik)
        for limit in limits:
            current = self.counts.get(limit.key, 0)
            previous = self.counts.get(limit.previous_key, 0)
            if current + 1 + previous * limit.carried > limit.limit:
                return limit.refusal(current, previous)
        for limit in limits:
            self.counts[limit.key] = self.counts.get(limit.key, 0) + 1
        return None


def test_a_flood_from_one_address_waits_until_enough_of_it_has_slid_out() -> None:
    clock = FakeClock()
    clock.now = 1_800_000_030.0  # half way through a minute
    edge = Edge(guard(clock, ip_limit=3, nik_limit=100))
    for n in range(3):
        assert edge.sign_up(nik=f"h{n}") is None
    refused = edge.sign_up(nik="h9")
    assert refused is not None
    # The three count fully for the rest of this minute and for a third of the next, after
    # which 1 + 3 x 2/3 = 3 fits: 30 s + 20 s.
    assert (refused.status, refused.code, refused.retry_after_s) == (
        429,
        "too_many_from_network",
        50,
    )
    # Someone else on another address is not affected.
    assert edge.sign_up(ip="198.51.100.7", nik="x") is None
    clock.now += 49
    assert edge.sign_up(nik="y") is not None
    clock.now += 1
    assert edge.sign_up(nik="y") is None


def limit_reached(at: float) -> tuple[Edge, FakeClock]:
    """An address allowed two sign-ups a minute that has just made them at ``at``."""
    clock = FakeClock()
    clock.now = at
    edge = Edge(guard(clock, ip_limit=2, nik_limit=100))
    assert edge.sign_up(nik="a") is None
    assert edge.sign_up(nik="b") is None
    return edge, clock


def test_a_minute_boundary_does_not_let_an_address_send_twice_the_limit() -> None:
    edge, clock = limit_reached(1_800_000_059.5)
    clock.now += 1  # into the next minute
    refused = edge.sign_up(nik="c")
    assert refused is not None and refused.code == "too_many_from_network"


def test_retrying_a_refused_sign_up_does_not_lengthen_the_wait() -> None:
    edge, clock = limit_reached(1_800_000_010.0)
    first = edge.sign_up(nik="c")
    assert first is not None and first.retry_after_s is not None
    for _ in range(5):  # an impatient thumb
        clock.now += 1
        again = edge.sign_up(nik="c")
        assert again is not None and again.retry_after_s == first.retry_after_s - (
            clock.now - 1_800_000_010.0
        )
    clock.now = 1_800_000_010.0 + first.retry_after_s
    assert edge.sign_up(nik="c") is None


@pytest.mark.parametrize(
    ("at", "current", "previous", "limit", "expected"),
    [
        # Limit 1 reached: the window assumes events spread evenly, so this minute's one weighs
        # until the whole next minute has passed.
        (30.0, 1, 0, 1, 90),
        (30.0, 0, 4, 2, 15),  # 0 + 1 + 4 x (1 - f) <= 2 from f = 3/4
        (0.0, 2, 2, 2, 90),  # next minute, 1 + 2 x (1 - g) <= 2 from g = 1/2
        (59.0, 5, 0, 10, 1),  # a race between replicas: never less than a second
    ],
)
def test_the_wait_is_when_one_more_fits(
    at: float, current: int, previous: int, limit: int, expected: int
) -> None:
    assert (
        sliding_window_wait(
            now=1_800_000_000.0 + at,
            window_s=60,
            limit=limit,
            current=current,
            previous=previous,
        )
        == expected
    )


def test_trusted_local_load_generators_are_not_limited_by_address() -> None:
    edge = Edge(guard(FakeClock(), ip_limit=1, nik_limit=100))
    for n in range(5):
        assert edge.sign_up(ip="127.0.0.1", nik=f"h{n}") is None
    assert [limit.reason for limit in edge.guard.limits("127.0.0.1", "h")] == ["nik_limit"]


def test_hammering_one_nik_is_refused_whatever_the_address() -> None:
    edge = Edge(guard(FakeClock(), ip_limit=100, nik_limit=2))
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert edge.sign_up(ip=ip, nik="same") is None
    refused = edge.sign_up(ip="203.0.113.3", nik="same")
    assert refused is not None and (refused.status, refused.code) == (429, "too_many_for_nik")
    # Never longer than two windows: by then nothing counted weighs any more.
    assert refused.retry_after_s is not None and 1 <= refused.retry_after_s <= 1200


def test_a_refusal_counts_against_no_limit() -> None:
    # The NIK's limit refuses; the address's count must not grow for an attempt that was
    # refused, or double-tapping after a 429 would lengthen the address's wait too.
    edge = Edge(guard(FakeClock(), ip_limit=100, nik_limit=1))
    assert edge.sign_up(nik="same") is None
    assert edge.sign_up(nik="same") is not None
    [ip_limit, _] = edge.guard.limits("203.0.113.9", "same")
    assert edge.counts[ip_limit.key] == 1


async def test_under_pressure_a_solved_challenge_is_needed_and_works_once() -> None:
    g = guard(FakeClock(), ip_limit=100, nik_limit=100)
    missing = await g.proof_refusal("203.0.113.1", None)
    assert missing is not None and (missing.status, missing.code) == (428, "challenge_required")
    proof = solve(g.challenge())
    assert await g.proof_refusal("203.0.113.1", proof) is None
    replayed = await g.proof_refusal("203.0.113.1", proof)
    assert replayed is not None and replayed.status == 428
    garbage = await g.proof_refusal("203.0.113.1", "bm9wZQ==")
    assert garbage is not None and garbage.status == 428
    # Trusted load generators are neither bots nor browsers.
    assert await g.proof_refusal("127.0.0.1", None) is None


async def test_a_forged_solution_is_refused() -> None:
    g = guard(FakeClock())
    challenge = g.challenge()
    challenge["signature"] = "0" * 64
    forged = await g.proof_refusal("203.0.113.1", solve(challenge))
    assert forged is not None and forged.status == 428


async def test_redis_trouble_never_blocks_a_sign_up() -> None:
    # The limits ride on the edge's script, which degrades as a whole (tests of register());
    # the proof's replay guard alone must not refuse a good solution when Redis fails.
    g = guard(FakeClock(), seen=BrokenSeen(), ip_limit=1, nik_limit=1)
    proof = solve(g.challenge())
    assert await g.proof_refusal("203.0.113.1", proof) is None


def _encoded(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _shaped(**fields: object) -> str:
    """A solution with every field present, some of them of a type a client may send."""
    solution = {
        "algorithm": "SHA-256",
        "challenge": "a",
        "number": 1,
        "salt": "s",
        "signature": "b",
    }
    return _encoded({**solution, **fields})


@pytest.mark.parametrize(
    "proof",
    [
        "\xff\xfe\xe9abc",  # header bytes 0x80-0xFF, as Starlette's latin-1 decoding gives them
        "\xe9" * 4000,
        base64.b64encode(b"\xff\xfe" * 100).decode(),  # not UTF-8 once decoded
        base64.b64encode(b"[" * 2900).decode(),  # nested past the recursion limit
        _encoded(["algorithm", "challenge", "number", "salt", "signature"]),
        _encoded("algorithm challenge number salt signature"),
        _shaped(salt=5),
        _shaped(salt=None),
        _shaped(salt="\ud800"),  # cannot be encoded to hash it
        _shaped(algorithm=["SHA-256"], challenge={}, signature=1),
    ],
)
async def test_a_hostile_proof_header_is_a_refusal_never_an_error(proof: str) -> None:
    g = guard(FakeClock())
    refused = await g.proof_refusal("203.0.113.1", proof)
    assert refused is not None and (refused.status, refused.code) == (428, "challenge_required")

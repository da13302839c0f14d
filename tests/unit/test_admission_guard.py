"""Per-IP and per-NIK limits and the proof of work, with in-memory counters and a fake clock."""

from __future__ import annotations

import base64
import json

from altcha import v1

from gelombang.admission import SignUpGuard


class FakeCounters:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.seen: set[str] = set()

    async def hit(self, key: str, ttl_s: int) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def first_time(self, key: str, ttl_s: int) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class BrokenCounters:
    async def hit(self, key: str, ttl_s: int) -> int:
        raise TimeoutError("redis is slow")

    async def first_time(self, key: str, ttl_s: int) -> bool:
        raise TimeoutError("redis is slow")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def guard(counters: FakeCounters | BrokenCounters, clock: FakeClock, **limits: int) -> SignUpGuard:
    return SignUpGuard(
        counters=counters,
        service="test-guard",
        pow_hmac_key=b"k" * 32,
        pow_max_number=500,
        pow_ttl_s=300,
        ip_limit=limits.get("ip_limit", 3),
        ip_window_s=60,
        nik_limit=limits.get("nik_limit", 2),
        nik_window_s=600,
        ip_exempt=["127.0.0.0/8"],
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


async def test_a_flood_from_one_address_waits_until_the_next_minute() -> None:
    clock = FakeClock()
    clock.now = 1_800_000_030.0  # half way through a minute
    g = guard(FakeCounters(), clock, ip_limit=3, nik_limit=100)
    for n in range(3):
        assert (
            await g.check(
                client_ip="203.0.113.9", nik_hash=f"h{n}", proof=None, proof_required=False
            )
            is None
        )
    refused = await g.check(
        client_ip="203.0.113.9", nik_hash="h9", proof=None, proof_required=False
    )
    assert refused is not None
    assert (refused.status, refused.code, refused.retry_after_s) == (
        429,
        "too_many_from_network",
        30,
    )
    # Someone else on another address is not affected, and the next minute starts afresh.
    assert (
        await g.check(client_ip="198.51.100.7", nik_hash="x", proof=None, proof_required=False)
        is None
    )
    clock.now += 30
    assert (
        await g.check(client_ip="203.0.113.9", nik_hash="y", proof=None, proof_required=False)
        is None
    )


async def test_trusted_local_load_generators_are_not_limited_by_address() -> None:
    g = guard(FakeCounters(), FakeClock(), ip_limit=1, nik_limit=100)
    for n in range(5):
        assert (
            await g.check(client_ip="127.0.0.1", nik_hash=f"h{n}", proof=None, proof_required=False)
            is None
        )


async def test_hammering_one_nik_is_refused_whatever_the_address() -> None:
    g = guard(FakeCounters(), FakeClock(), ip_limit=100, nik_limit=2)
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert (
            await g.check(client_ip=ip, nik_hash="same", proof=None, proof_required=False) is None
        )
    refused = await g.check(
        client_ip="203.0.113.3", nik_hash="same", proof=None, proof_required=False
    )
    assert refused is not None and (refused.status, refused.code) == (429, "too_many_for_nik")
    assert refused.retry_after_s is not None and 1 <= refused.retry_after_s <= 600


async def test_under_pressure_a_solved_challenge_is_needed_and_works_once() -> None:
    g = guard(FakeCounters(), FakeClock(), ip_limit=100, nik_limit=100)
    missing = await g.check(client_ip="203.0.113.1", nik_hash="a", proof=None, proof_required=True)
    assert missing is not None and (missing.status, missing.code) == (428, "challenge_required")
    proof = solve(g.challenge())
    assert (
        await g.check(client_ip="203.0.113.1", nik_hash="a", proof=proof, proof_required=True)
        is None
    )
    replayed = await g.check(
        client_ip="203.0.113.1", nik_hash="b", proof=proof, proof_required=True
    )
    assert replayed is not None and replayed.status == 428
    garbage = await g.check(
        client_ip="203.0.113.1", nik_hash="c", proof="bm9wZQ==", proof_required=True
    )
    assert garbage is not None and garbage.status == 428


async def test_a_forged_solution_is_refused() -> None:
    g = guard(FakeCounters(), FakeClock())
    challenge = g.challenge()
    challenge["signature"] = "0" * 64
    forged = await g.check(
        client_ip="203.0.113.1", nik_hash="a", proof=solve(challenge), proof_required=True
    )
    assert forged is not None and forged.status == 428


async def test_redis_trouble_never_blocks_a_sign_up() -> None:
    g = guard(BrokenCounters(), FakeClock(), ip_limit=1, nik_limit=1)
    for _ in range(3):
        assert (
            await g.check(client_ip="203.0.113.1", nik_hash="a", proof=None, proof_required=False)
            is None
        )
    proof = solve(g.challenge())
    assert (
        await g.check(client_ip="203.0.113.1", nik_hash="a", proof=proof, proof_required=True)
        is None
    )

"""The sign-up edge's one Redis script against a real Redis: what a registrant would notice."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from gelombang.coalesce import PipelinedRedis
from services.registration.fast_path import RedisSignUpEdge
from services.registration.service import EdgeAnswer, StoredAnswer
from tests.integration.conftest import window_limit


def fresh() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def edge(redis_client: aioredis.Redis) -> RedisSignUpEdge:
    return RedisSignUpEdge(PipelinedRedis(redis_client), idempotency_ttl_s=600)


def attempt() -> tuple[str, str, str, StoredAnswer]:
    """A sign-up not seen before: its NIK, registration id, idempotency key and stored answer."""
    rid = str(uuid.uuid4())
    return fresh(), rid, fresh(), StoredAnswer("f" * 64, rid)


async def test_a_new_sign_up_reserves_the_nik_and_stores_its_answer(
    edge: RedisSignUpEdge, redis_client: aioredis.Redis
) -> None:
    nik, rid, key, answer = attempt()
    assert await edge.admit(nik, rid, key, answer, ()) == EdgeAnswer(remembered=True)
    assert await redis_client.get(f"nik:{nik}") == rid.encode()
    # The retry under the same key finds the first answer, whatever its body.
    again = await edge.admit(nik, rid, key, StoredAnswer("0" * 64, rid), ())
    assert again == EdgeAnswer(stored=answer)
    # Another registration of the same NIK finds it held.
    other = str(uuid.uuid4())
    assert await edge.admit(nik, other, None, None, ()) == EdgeAnswer(holder=rid)
    # Without a key nothing is stored, and the holder itself passes.
    assert await edge.admit(nik, rid, None, None, ()) == EdgeAnswer(remembered=False)


async def test_a_replay_after_redis_forgot_the_nik_reserves_it_again(
    edge: RedisSignUpEdge, redis_client: aioredis.Redis
) -> None:
    nik, rid, key, answer = attempt()
    await edge.admit(nik, rid, key, answer, ())
    await redis_client.delete(f"nik:{nik}")
    assert await edge.admit(nik, rid, key, answer, ()) == EdgeAnswer(stored=answer)
    assert await redis_client.get(f"nik:{nik}") == rid.encode()


async def test_limits_count_until_reached_and_a_refusal_reserves_nothing(
    edge: RedisSignUpEdge, redis_client: aioredis.Redis
) -> None:
    per_ip, per_nik = window_limit("ip_limit", fresh(), 5), window_limit("nik_limit", fresh(), 2)
    nik = fresh()
    for _ in range(2):
        admitted = await edge.admit(nik, str(uuid.uuid4()), None, None, (per_ip, per_nik))
        assert admitted.limit_reached is None
    refused_nik, _, key, answer = attempt()
    refused = await edge.admit(refused_nik, answer.registration_id, key, answer, (per_ip, per_nik))
    # The NIK limit (second) is reached at 2 counted; the refused attempt is not counted.
    assert refused.limit_reached == (1, 2, 0)
    assert await redis_client.get(f"abuse:{per_nik.key}") == b"2"
    assert await redis_client.get(f"abuse:{per_ip.key}") == b"2"
    assert await redis_client.ttl(f"abuse:{per_nik.key}") > 0
    assert await redis_client.get(f"nik:{refused_nik}") is None
    # Nothing was stored under the key: without the limits the same attempt goes ahead.
    assert await edge.admit(refused_nik, answer.registration_id, key, answer, ()) == EdgeAnswer(
        remembered=True
    )
    assert per_nik.refusal(2, 0).status == 429


async def test_the_edge_survives_a_redis_that_forgot_its_scripts(
    edge: RedisSignUpEdge, redis_client: aioredis.Redis
) -> None:
    await redis_client.script_flush()
    nik, rid = fresh(), str(uuid.uuid4())
    assert await edge.admit(nik, rid, None, None, ()) == EdgeAnswer()
    assert await redis_client.get(f"nik:{nik}") == rid.encode()

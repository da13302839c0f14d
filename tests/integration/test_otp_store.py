"""The OTP store's scripts on the real Redis: a used code can be given back, and nothing else.

``restore`` runs only after a right code whose confirmation Kafka did not take; it must neither
revive a code that was replaced or expired nor hand a guesser more attempts or more time.
"""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from gelombang.contact import OTP_MAX_ATTEMPTS, OTP_TTL, ContactSecrets, OtpStore

pytestmark = pytest.mark.integration

SECRETS = ContactSecrets(b"o" * 32)


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def store(redis_client: aioredis.Redis) -> OtpStore:
    return OtpStore(redis_client)


async def issued(store: OtpStore) -> tuple[str, str, str]:
    """A code just sent to a new registration: its id, the right digest and a wrong one."""
    rid = new_id()
    right, wrong = SECRETS.otp_digest(rid, "123456"), SECRETS.otp_digest(rid, "000000")
    await store.issue(rid, right)
    return rid, right, wrong


async def test_a_used_code_given_back_works_once_more(store: OtpStore) -> None:
    rid, right, _ = await issued(store)
    assert await store.check(rid, right) == "ok"
    assert await store.check(rid, right) == "expired"  # used: gone, to everyone
    assert await store.restore(rid, right)
    assert await store.check(rid, right) == "ok"
    assert await store.check(rid, right) == "expired"


async def test_giving_back_keeps_the_attempts_and_the_expiry(
    store: OtpStore, redis_client: aioredis.Redis
) -> None:
    rid, right, wrong = await issued(store)
    for _ in range(OTP_MAX_ATTEMPTS - 1):
        assert await store.check(rid, wrong) == "wrong"
    await redis_client.expire(f"otp:{rid}", 30)  # most of its ten minutes have gone by
    assert await store.check(rid, right) == "ok"
    assert await store.restore(rid, right)
    assert 0 < await redis_client.ttl(f"otp:{rid}") <= 30
    assert int(await redis_client.hget(f"otp:{rid}", "attempts") or 0) == OTP_MAX_ATTEMPTS - 1
    assert await store.check(rid, wrong) == "locked"
    assert await store.check(rid, right) == "locked"


async def test_only_the_used_code_itself_can_be_given_back(store: OtpStore) -> None:
    rid, right, wrong = await issued(store)
    assert not await store.restore(rid, right)  # not used yet: nothing to give back
    assert await store.check(rid, wrong) == "wrong"
    assert not await store.restore(rid, wrong)
    assert await store.check(rid, right) == "ok"
    assert not await store.restore(rid, wrong)  # another digest never revives the code
    assert await store.check(rid, right) == "expired"


async def test_a_code_sent_since_or_an_expired_one_is_left_alone(
    store: OtpStore, redis_client: aioredis.Redis
) -> None:
    rid = new_id()
    first, second = SECRETS.otp_digest(rid, "111111"), SECRETS.otp_digest(rid, "222222")
    await store.issue(rid, first)
    assert await store.check(rid, first) == "ok"
    await store.issue(rid, second)  # the person asked for a new code meanwhile
    assert not await store.restore(rid, first)
    assert await store.check(rid, first) == "wrong"
    assert await store.check(rid, second) == "ok"

    gone = new_id()
    code = SECRETS.otp_digest(gone, "333333")
    await store.issue(gone, code)
    assert await store.check(gone, code) == "ok"
    await redis_client.delete(f"otp:{gone}")  # its ten minutes ran out
    assert not await store.restore(gone, code)
    assert not await redis_client.exists(f"otp:{gone}")
    assert await store.check(gone, code) == "expired"


async def test_a_used_code_still_expires_on_time(
    store: OtpStore, redis_client: aioredis.Redis
) -> None:
    rid, right, _ = await issued(store)
    assert await store.check(rid, right) == "ok"
    assert 0 < await redis_client.ttl(f"otp:{rid}") <= int(OTP_TTL.total_seconds())

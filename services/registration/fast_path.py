"""The sign-up edge's Redis: the scripts and adapters of the API's fast path (reservations,
window limits, idempotency answers, once-guards, counters, one-time codes), and the decider's
side of the same ``nik:<hash>`` keys (``RedisNikHints``). Never the truth: the log and the read
model (``repository``) are."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from gelombang.admission import LIMIT_KEY_PREFIX, WindowLimit
from gelombang.coalesce import Command, PipelinedRedis, command, reply
from gelombang.contact import OtpCheck, OtpStore
from gelombang.events import NikReleased
from services.registration.decisions import Decisions
from services.registration.service import (
    DependencyUnavailable,
    EdgeAnswer,
    Holding,
    StoredAnswer,
)

# An edge reservation only has to last until the decider has confirmed it (it then rewrites the
# key without expiry: see ``RedisNikHints``): seconds, or hours behind a backlog. Bounded, so that
# one whose sign-up never reached Kafka cannot refuse that person forever even if nobody
# takes it over; the decider's claim is the lasting truth.
NIK_RESERVATION_TTL_S = 3 * 24 * 3600

# Compare-and-delete and compare-and-set, each in one step: only ever replace the holder we saw.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_TAKE_OVER = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end return 0"
)
_UNCONFIRM = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
# How long a rejected holder's hint stays unconfirmed while its NikReleased is on its way
# through the log (normally well under a second); should that take longer, the key lapses and
# the log decides the next attempt as always.
RELEASING_HINT_TTL_MS = 600_000
# The holder and its remaining lifetime (-1: no expiry, the decider's confirmed hint).
_INSPECT = "return {redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1])}"


def _nik_key(nik_hash: str) -> str:
    return f"nik:{nik_hash}"


def _idempotency_key(key: str) -> str:
    # Hashed: the key is client-chosen and may be long or carry anything.
    return "idem:" + hashlib.sha256(key.encode()).hexdigest()


def _limits_lua(*, key: int, arg: int, reached: str) -> str:
    """The window limits' rule in Lua, one for both scripts: limit ``i`` (0 to ``n`` - 1) has
    its counters at KEYS[key + 2i] (this window) and KEYS[key + 1 + 2i] (the previous one), and
    the previous window's weight, the limit and the counter's TTL at ARGV[arg + 3i] onwards.
    Stop at the first limit reached with ``reached``, counting none; else count every one."""
    return f"""
for i = 0, n - 1 do
  local current = tonumber(redis.call('GET', KEYS[{key} + 2 * i]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[{key + 1} + 2 * i]) or '0')
  if current + 1 + previous * tonumber(ARGV[{arg} + 3 * i]) > tonumber(ARGV[{arg + 1} + 3 * i]) then
    return {reached}
  end
end
for i = 0, n - 1 do
  redis.call('INCR', KEYS[{key} + 2 * i])
  redis.call('EXPIRE', KEYS[{key} + 2 * i], ARGV[{arg + 2} + 3 * i])
end
"""


# The sign-up edge in one step (``SignUpEdge``). KEYS: the NIK's reservation, two counters
# per limit (this window, the previous one), then the Idempotency-Key's answer if a key was
# sent. ARGV: registration id, reservation TTL, the answer to store, its TTL, the number of
# limits, then per limit: the previous window's weight, the limit, the counter's TTL.
_EDGE = (
    "\nlocal n = tonumber(ARGV[5])"
    + _limits_lua(key=2, arg=6, reached="{'limit', i, current, previous}")
    + """local answer_key = KEYS[2 + 2 * n]
if answer_key then
  local stored = redis.call('GET', answer_key)
  if stored then
    -- A replay: if Redis forgot the NIK meanwhile, it is this registration's again.
    if string.find(stored, ARGV[1], 1, true) then
      redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
    end
    return {'stored', stored}
  end
end
local holder = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'GET', 'EX', ARGV[2])
if holder and holder ~= ARGV[1] then return {'held', holder} end
if answer_key then
  redis.call('SET', answer_key, ARGV[3], 'EX', ARGV[4])
  return {'reserved', 1}
end
return {'reserved', 0}
"""
)
_EDGE_SHA = hashlib.sha1(_EDGE.encode(), usedforsecurity=False).hexdigest()


def _encode_answer(answer: StoredAnswer) -> str:
    return json.dumps(
        {"fingerprint": answer.fingerprint, "registration_id": answer.registration_id}
    )


def _decode_answer(raw: bytes | str) -> StoredAnswer:
    data = json.loads(raw)
    return StoredAnswer(data["fingerprint"], data["registration_id"])


class RedisSignUpEdge:
    """``SignUpEdge`` as one Redis script (EVALSHA, loaded on first use and after a restart).

    One command per sign-up instead of one per lookup, and one round trip instead of two (the
    answer under the Idempotency-Key is written with the reservation, not after the publish):
    the redis-py command objects, the socket writes and the reply parsing they cost were a
    fifth of an API process's CPU per sign-up (issue 15's profile).
    """

    def __init__(
        self,
        redis: PipelinedRedis,
        idempotency_ttl_s: int,
        reservation_ttl_s: int = NIK_RESERVATION_TTL_S,
    ) -> None:
        self._redis = redis
        self._idempotency_ttl_s = idempotency_ttl_s
        self._reservation_ttl_s = reservation_ttl_s

    async def admit(
        self,
        nik_hash: str,
        registration_id: str,
        idempotency_key: str | None,
        answer: StoredAnswer | None,
        limits: Sequence[WindowLimit],
    ) -> EdgeAnswer:
        keys = [_nik_key(nik_hash)]
        args: list[str | int] = [
            registration_id,
            self._reservation_ttl_s,
            "" if answer is None else _encode_answer(answer),
            self._idempotency_ttl_s,
            len(limits),
        ]
        for limit in limits:
            keys += [f"{LIMIT_KEY_PREFIX}:{limit.key}", f"{LIMIT_KEY_PREFIX}:{limit.previous_key}"]
            args += [f"{limit.carried:.6f}", limit.limit, limit.ttl_s]
        if idempotency_key is not None:
            keys.append(_idempotency_key(idempotency_key))
        try:
            (result,) = await self._redis.run(
                command("EVALSHA", _EDGE_SHA, len(keys), *keys, *args)
            )
            if isinstance(result, NoScriptError):  # a restarted or flushed Redis
                (result,) = await self._redis.run(command("EVAL", _EDGE, len(keys), *keys, *args))
            found = reply(result)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        kind = found[0]
        if kind == b"limit":
            return EdgeAnswer(limit_reached=(int(found[1]), int(found[2]), int(found[3])))
        if kind == b"stored":
            return EdgeAnswer(stored=_decode_answer(found[1]))
        if kind == b"held":
            return EdgeAnswer(holder=found[1].decode())
        return EdgeAnswer(remembered=bool(found[1]))


# Window limits alone (``WindowCounter.take``), by the same rule as the edge's
# (``_limits_lua``). KEYS: two counters per
# limit (this window, the previous one). ARGV per limit: the previous window's weight, the
# limit, the counter's TTL.
_WINDOWS = (
    "\nlocal n = #KEYS / 2"
    + _limits_lua(key=1, arg=1, reached="{i, current, previous}")
    + "return 0\n"
)
_WINDOWS_SHA = hashlib.sha1(_WINDOWS.encode(), usedforsecurity=False).hexdigest()


class RedisWindowCounter:
    """``WindowCounter`` as one Redis script (the status-link request's limits)."""

    def __init__(self, redis: PipelinedRedis) -> None:
        self._redis = redis

    async def take(self, limits: Sequence[WindowLimit]) -> tuple[int, int, int] | None:
        if not limits:
            return None
        keys: list[str] = []
        args: list[str | int] = []
        for limit in limits:
            keys += [f"{LIMIT_KEY_PREFIX}:{limit.key}", f"{LIMIT_KEY_PREFIX}:{limit.previous_key}"]
            args += [f"{limit.carried:.6f}", limit.limit, limit.ttl_s]
        try:
            (result,) = await self._redis.run(
                command("EVALSHA", _WINDOWS_SHA, len(keys), *keys, *args)
            )
            if isinstance(result, NoScriptError):  # a restarted or flushed Redis
                (result,) = await self._redis.run(
                    command("EVAL", _WINDOWS, len(keys), *keys, *args)
                )
            found = reply(result)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        if not isinstance(found, list):
            return None
        return int(found[0]), int(found[1]), int(found[2])


class RedisNikReservations:
    """``nik:<hash>`` → registration id, as the rare path looks at it: who holds a NIK, and
    taking a stale reservation over (``RedisSignUpEdge`` takes reservations). Never the truth.

    Commands go through the shared pipeliner: at peak, concurrent sign-ups share round trips.
    """

    def __init__(self, redis: PipelinedRedis, ttl_s: int = NIK_RESERVATION_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def _run(self, cmd: Command) -> Any:
        try:
            (answer,) = await self._redis.run(cmd)
            return reply(answer)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def inspect(self, nik_hash: str) -> Holding | None:
        holder, pttl = await self._run(command("EVAL", _INSPECT, 1, _nik_key(nik_hash)))
        if holder is None:
            return None
        held_ms = self._ttl_s * 1000 - int(pttl)
        return Holding(
            registration_id=holder.decode() if isinstance(holder, bytes) else str(holder),
            confirmed=int(pttl) == -1,
            age_s=max(0.0, held_ms / 1000) if int(pttl) >= 0 else 0.0,
        )

    async def take_over(self, nik_hash: str, holder: str, registration_id: str) -> bool:
        done = await self._run(
            command("EVAL", _TAKE_OVER, 1, _nik_key(nik_hash), holder, registration_id, self._ttl_s)
        )
        return bool(done)


class RedisNikHints:
    """The decider's side of ``nik:<hash>``: each decided NIK's holder, written back without
    expiry, so the edge's 409 stays warm (a repeat never needs to reach the log), and a released
    NIK's key removed, so the person's next attempt passes the edge."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def write(self, decided: Decisions, releasing: Sequence[NikReleased] = ()) -> None:
        """``releasing``: rejections just stored whose NikReleased is queued. Until the decider
        reads it, the hint must stop saying "confirmed", or the person told to register again
        would get a 409 there; unconfirmed, the edge asks the read model ("retry shortly")."""
        pipe = self._redis.pipeline(transaction=False)
        for nik_hash, holder in decided.claims.items():
            if holder is not None:
                pipe.set(_nik_key(nik_hash), str(holder))
        for release in decided.released:
            if decided.claims.get(release.nik_hash) is None:
                pipe.eval(_RELEASE, 1, _nik_key(release.nik_hash), str(release.registration_id))
        for release in releasing:
            key = _nik_key(release.nik_hash)
            pipe.eval(_UNCONFIRM, 1, key, str(release.registration_id), RELEASING_HINT_TTL_MS)
        if len(pipe):
            await pipe.execute()


class RedisIdempotencyStore:
    def __init__(self, redis: PipelinedRedis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def put(self, key: str, answer: StoredAnswer) -> None:
        try:
            (done,) = await self._redis.run(
                command("SET", _idempotency_key(key), _encode_answer(answer), "EX", self._ttl_s)
            )
            reply(done)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc


class RedisOnceGuard:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def first_time(self, key: str, ttl_s: int) -> bool:
        try:
            return bool(await self._redis.set(key, b"1", nx=True, ex=ttl_s))
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def forget(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc


class RedisCounter:
    """``ReadableCounter``: INCR and EXPIRE NX in one round trip (the count's lifetime runs
    from its first count, not from the latest)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def count(self, key: str, ttl_s: int) -> int:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_s, nx=True)
                total, _ = await pipe.execute()
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return int(total)

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def current(self, key: str) -> int:
        try:
            total = await self._redis.get(key)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return int(total or 0)


class RedisOtpChecker:
    """Adapts the shared OTP store to the service's failure vocabulary."""

    def __init__(self, store: OtpStore) -> None:
        self._store = store

    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        try:
            return await self._store.check(registration_id, digest)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def restore(self, registration_id: str, digest: str) -> bool:
        try:
            return await self._store.restore(registration_id, digest)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

"""All storage access of the registration service: Postgres SQL and the Redis fast paths."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gelombang.coalesce import Coalescer, PipelinedRedis, command, reply
from gelombang.contact import OtpCheck, OtpStore
from gelombang.events import RegistrationSubmitted
from gelombang.probes import POSTGRES_UNAVAILABLE
from services.registration.service import DependencyUnavailable, StoredAnswer

# A reservation only has to last until the projector has stored the claim in Postgres (seconds,
# or hours behind a backlog). Bounded, so that one whose sign-up never reached Kafka and could
# not be released (the process was killed in between, Redis failed at that moment) cannot
# refuse that person forever; the Postgres claim stays the lasting truth.
NIK_RESERVATION_TTL_S = 3 * 24 * 3600


class RedisNikReservations:
    """``nik:<hash>`` → registration id. A cache of Postgres' claims, never the truth.

    Commands go through the shared pipeliner: at peak, concurrent sign-ups share round trips.
    """

    def __init__(self, redis: PipelinedRedis, ttl_s: int = NIK_RESERVATION_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def reserve(self, nik_hash: str, registration_id: str) -> str | None:
        try:
            # SET NX GET (Redis 7): reserves if free, else answers the holder; one command.
            (holder,) = await self._redis.run(
                command(
                    "SET",
                    f"nik:{nik_hash}",
                    registration_id,
                    "NX",
                    "GET",
                    "EX",
                    self._ttl_s,
                    get=True,
                )
            )
            holder = reply(holder)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return holder.decode() if isinstance(holder, bytes) else holder

    async def overwrite(self, nik_hash: str, registration_id: str) -> None:
        try:
            (done,) = await self._redis.run(
                command("SET", f"nik:{nik_hash}", registration_id, "EX", self._ttl_s)
            )
            reply(done)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def release(self, nik_hash: str, registration_id: str) -> None:
        # Only delete our own reservation: compare-and-delete in one step.
        script = (
            "if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) end return 0"
        )
        try:
            (done,) = await self._redis.run(
                command("EVAL", script, 1, f"nik:{nik_hash}", registration_id)
            )
            reply(done)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc


class RedisIdempotencyStore:
    def __init__(self, redis: PipelinedRedis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    @staticmethod
    def _key(idempotency_key: str) -> str:
        # Hashed: the key is client-chosen and may be long or carry anything.
        return "idem:" + hashlib.sha256(idempotency_key.encode()).hexdigest()

    async def get(self, key: str) -> StoredAnswer | None:
        try:
            (raw,) = await self._redis.run(command("GET", self._key(key)))
            raw = reply(raw)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        if raw is None:
            return None
        data = json.loads(raw)
        return StoredAnswer(data["fingerprint"], data["registration_id"])

    async def put(self, key: str, answer: StoredAnswer) -> None:
        value = json.dumps(
            {"fingerprint": answer.fingerprint, "registration_id": answer.registration_id}
        )
        try:
            (done,) = await self._redis.run(
                command("SET", self._key(key), value, "EX", self._ttl_s)
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


class RedisOtpChecker:
    """Adapts the shared OTP store to the service's failure vocabulary."""

    def __init__(self, store: OtpStore) -> None:
        self._store = store

    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        try:
            return await self._store.check(registration_id, digest)
        except (TimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc


class PostgresClaimLedger:
    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        # Concurrent sign-ups' lookups share one query (gelombang.coalesce).
        self._lookups: Coalescer[str, str | None] = Coalescer(self._holders)

    async def _holders(self, nik_hashes: list[str]) -> list[str | None]:
        rows = await self._pool.fetch(
            "SELECT nik_hash, registration_id FROM nik_claims WHERE nik_hash = ANY($1::text[])",
            nik_hashes,
        )
        found = {row["nik_hash"]: str(row["registration_id"]) for row in rows}
        return [found.get(nik_hash) for nik_hash in nik_hashes]

    async def holder_of(self, nik_hash: str) -> str | None:
        try:
            # asyncio.timeout, not wait_for: no extra task per sign-up on the intake path.
            async with asyncio.timeout(self._timeout_s):
                return await self._lookups(nik_hash)
        except POSTGRES_UNAVAILABLE as exc:
            raise DependencyUnavailable("postgres") from exc


@dataclass(frozen=True)
class HistoryRow:
    status: str
    reason: str | None
    occurred_at: datetime
    wave: int | None = None


@dataclass(frozen=True)
class StatusRow:
    registration_id: UUID
    status: str
    reason: str | None
    nik_last4: str
    province_code: str
    regency_code: str
    submitted_at: datetime
    history: list[HistoryRow]
    wave: int | None = None


async def fetch_status(pool: asyncpg.Pool, registration_id: UUID) -> StatusRow | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT registration_id, status, reason, nik_last4, province_code, regency_code,
                      submitted_at, wave
                 FROM registrations WHERE registration_id = $1""",
            registration_id,
        )
        if row is None:
            return None
        history = await conn.fetch(
            """SELECT status, reason, occurred_at, wave FROM registration_history
                WHERE registration_id = $1 ORDER BY occurred_at, status""",
            registration_id,
        )
    return StatusRow(
        registration_id=row["registration_id"],
        status=row["status"],
        reason=row["reason"],
        nik_last4=row["nik_last4"],
        province_code=row["province_code"],
        regency_code=row["regency_code"],
        submitted_at=row["submitted_at"],
        history=[
            HistoryRow(h["status"], h["reason"], h["occurred_at"], h["wave"]) for h in history
        ],
        wave=row["wave"],
    )


# History event ids are derived from (registration, status) so that replaying the topic, or a
# client's retry that published the same registration twice, adds nothing.
_APPLY_SUBMITTED = [
    """
    INSERT INTO registrations (registration_id, nik_hash, nik_last4, pii, province_code,
                               regency_code, employment_status, receives_social_aid, channel,
                               status, submitted_at)
    SELECT r, h, l, p, pr, rg, e, a, c, 'submitted', t
      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                  $7::text[], $8::bool[], $9::text[], $10::timestamptz[])
           WITH ORDINALITY AS i(r, h, l, p, pr, rg, e, a, c, t, n)
     ORDER BY n
    ON CONFLICT (registration_id) DO NOTHING
    """,
    """
    INSERT INTO nik_claims (nik_hash, registration_id, claimed_at)
    SELECT h, r, t
      FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS i(r, h, t, n)
     ORDER BY n
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO registration_history (event_id, registration_id, status, occurred_at)
    SELECT md5(r::text || ':submitted')::uuid, r, 'submitted', t
      FROM unnest($1::uuid[], $2::timestamptz[]) AS i(r, t)
    ON CONFLICT (event_id) DO NOTHING
    """,
    """
    WITH rejected AS (
        UPDATE registrations g
           SET status = 'rejected', reason = 'duplicate', updated_at = now()
         WHERE g.registration_id = ANY($1::uuid[])
           AND g.status = 'submitted'
           AND NOT EXISTS (SELECT 1 FROM nik_claims c WHERE c.registration_id = g.registration_id)
        RETURNING g.registration_id
    )
    INSERT INTO registration_history (event_id, registration_id, status, reason, occurred_at)
    SELECT md5(registration_id::text || ':rejected')::uuid, registration_id, 'rejected',
           'duplicate', now()
      FROM rejected
    ON CONFLICT (event_id) DO NOTHING
    """,
]


async def apply_submitted(pool: asyncpg.Pool, events: Sequence[RegistrationSubmitted]) -> int:
    """Store a batch of submissions in one transaction; returns how many were new."""
    if not events:
        return 0
    ids = [e.registration_id for e in events]
    at = [e.occurred_at for e in events]
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            _APPLY_SUBMITTED[0],
            ids,
            [e.nik_hash for e in events],
            [e.nik_last4 for e in events],
            [e.pii for e in events],
            [e.province_code for e in events],
            [e.regency_code for e in events],
            [e.employment_status for e in events],
            [e.receives_social_aid for e in events],
            [e.channel for e in events],
            at,
        )
        await conn.execute(_APPLY_SUBMITTED[1], ids, [e.nik_hash for e in events], at)
        await conn.execute(_APPLY_SUBMITTED[2], ids, at)
        await conn.execute(_APPLY_SUBMITTED[3], ids)
        await conn.execute(_RECOMPUTE_STATUS, ids)
    return int(status.rsplit(" ", 1)[-1])


# Later steps outrank earlier ones; a rejection is final. Equal ranks: the later event wins.
_RECOMPUTE_STATUS = """
    UPDATE registrations r SET status = h.status, reason = h.reason, wave = h.wave,
                               updated_at = now()
      FROM (SELECT DISTINCT ON (registration_id) registration_id, status, reason, wave
              FROM registration_history
             WHERE registration_id = ANY($1::uuid[])
             ORDER BY registration_id,
                      CASE status WHEN 'submitted' THEN 0 WHEN 'contact_pending' THEN 1
                           WHEN 'contact_confirmed' THEN 2 WHEN 'nik_verified' THEN 2
                           WHEN 'verified' THEN 3 WHEN 'waitlisted' THEN 4
                           WHEN 'selected' THEN 5 WHEN 'revoked' THEN 6
                           WHEN 'rejected' THEN 10 ELSE 0 END DESC,
                      occurred_at DESC) h
     WHERE r.registration_id = h.registration_id
       AND (r.status, r.reason, r.wave) IS DISTINCT FROM (h.status, h.reason, h.wave)
"""


@dataclass(frozen=True)
class StatusChange:
    event_id: UUID
    registration_id: UUID
    status: str
    reason: str | None
    occurred_at: datetime
    wave: int | None = None


async def apply_status_changes(pool: asyncpg.Pool, changes: Sequence[StatusChange]) -> None:
    """Store status steps (idempotent by event id) and recompute the affected statuses."""
    if not changes:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO registration_history (event_id, registration_id, status, reason,
                                              occurred_at, wave)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                 $5::timestamptz[], $6::int[])
            ON CONFLICT (event_id) DO NOTHING
            """,
            [c.event_id for c in changes],
            [c.registration_id for c in changes],
            [c.status for c in changes],
            [c.reason for c in changes],
            [c.occurred_at for c in changes],
            [c.wave for c in changes],
        )
        await conn.execute(_RECOMPUTE_STATUS, list({c.registration_id for c in changes}))


async def funnel_counts(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    """(status, province code, registrations) for the funnel gauge; served by the
    (province_code, status) index, so it can stay an index-only scan at millions of rows."""
    rows = await pool.fetch(
        "SELECT status, province_code, count(*) AS n FROM registrations"
        " GROUP BY status, province_code"
    )
    return [(r["status"], r["province_code"], int(r["n"])) for r in rows]

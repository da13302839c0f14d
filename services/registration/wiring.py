"""The sign-up's collaborators, built in one place for every process that takes sign-ups (the
public registration API and the posko lane), so that dedupe, idempotency and durability are the
same objects wired the same way, not a copy."""

from __future__ import annotations

import asyncpg

from gelombang.coalesce import PipelinedRedis
from gelombang.pii import PiiCipher
from services.registration.repository import (
    PostgresStandings,
    RedisIdempotencyStore,
    RedisNikReservations,
    RedisSignUpEdge,
)
from services.registration.service import Collaborators, Publisher


def sign_up_collaborators(
    *,
    cipher: PiiCipher,
    redis: PipelinedRedis,
    pool: asyncpg.Pool,
    publisher: Publisher,
    idempotency_ttl_s: int,
    standing_lookup_timeout_s: float,
) -> Collaborators:
    return Collaborators(
        cipher=cipher,
        edge=RedisSignUpEdge(redis, idempotency_ttl_s),
        reservations=RedisNikReservations(redis),
        standings=PostgresStandings(pool, standing_lookup_timeout_s),
        idempotency=RedisIdempotencyStore(redis, idempotency_ttl_s),
        publisher=publisher,
    )

"""The sign-up's collaborators, built in one place for every process that takes sign-ups (the
public registration API and the posko lane), so that dedupe, idempotency and durability are the
same objects wired the same way, not a copy; and the public API's lost-link request's."""

from __future__ import annotations

import asyncpg

from gelombang.coalesce import PipelinedRedis
from gelombang.pii import PiiCipher
from services.registration.repository import (
    PostgresStandings,
    RedisIdempotencyStore,
    RedisNikReservations,
    RedisSignUpEdge,
    RedisWindowCounter,
)
from services.registration.service import (
    Collaborators,
    Publisher,
    StatusLinkCollaborators,
    StatusLinkLimits,
)
from services.registration.settings import RegistrationSettings


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


def status_link_collaborators(
    *,
    settings: RegistrationSettings,
    cipher: PiiCipher,
    redis: PipelinedRedis,
    publisher: Publisher,
) -> StatusLinkCollaborators:
    """The lost-link request's collaborators (issue 20): its limits and where it goes."""
    return StatusLinkCollaborators(
        cipher=cipher,
        limits=StatusLinkLimits(
            nik_limit=settings.status_link_nik_limit,
            nik_window_s=settings.status_link_nik_window_s,
            ip_limit=settings.status_link_ip_limit,
            ip_window_s=settings.status_link_ip_window_s,
            ip_exempt=settings.signup_ip_exempt_cidrs.split(","),
        ),
        counter=RedisWindowCounter(redis),
        publisher=publisher,
    )

"""The sign-up's collaborators, built in one place for every process that takes sign-ups (the
public registration API and the posko lane), so that dedupe, idempotency and durability are the
same objects wired the same way, not a copy; and the public API's lost-link request's."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis

from gelombang.coalesce import PipelinedRedis
from gelombang.contact import LINK_TTL
from gelombang.pii import PiiCipher
from services.registration.repository import (
    PostgresStandings,
    RedisCounter,
    RedisIdempotencyStore,
    RedisNikReservations,
    RedisOnceGuard,
    RedisSignUpEdge,
    RedisWindowCounter,
)
from services.registration.service import (
    Collaborators,
    ContactChangeCollaborators,
    ContactStandings,
    Publisher,
    SendLimit,
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


# A case waits for its contact at most this long (then it expires): the counts of resends and
# changes need to live no longer, and no shorter.
CONTACT_WINDOW_S = int(LINK_TTL.total_seconds())


def resend_limit(*, settings: RegistrationSettings, redis: aioredis.Redis) -> SendLimit:
    """The resend's count (issue 20), in the Redis its cooldown uses."""
    return SendLimit(RedisCounter(redis), settings.otp_resend_limit, CONTACT_WINDOW_S)


def contact_change_collaborators(
    *,
    settings: RegistrationSettings,
    cipher: PiiCipher,
    redis: aioredis.Redis,
    standings: ContactStandings,
    publisher: Publisher,
) -> ContactChangeCollaborators:
    """A change of contact's collaborators (issue 20): its limits and where it goes."""
    return ContactChangeCollaborators(
        cipher=cipher,
        standings=standings,
        once=RedisOnceGuard(redis),
        counter=RedisCounter(redis),
        publisher=publisher,
        limit=settings.contact_change_limit,
        window_s=CONTACT_WINDOW_S,
        cooldown_s=settings.contact_change_cooldown_s,
    )

"""The sign-up's collaborators, built in one place for every process that takes sign-ups (the
public registration API and the posko lane), so that dedupe, idempotency and durability are the
same objects wired the same way, not a copy; and the public API's own pieces (its guard, the
contact confirmation, the lost-link request, the change of contact).

    async with AsyncExitStack() as stack:
        clients = await open_sign_up_clients(stack, settings, pool_min_size=0)
        deps = sign_up_collaborators(settings, clients)
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis

from gelombang.admission import RedisFirstTimes, SignUpGuard, WindowLimits
from gelombang.breaker import Breaker
from gelombang.coalesce import PipelinedRedis
from gelombang.contact import LINK_TTL, ContactSecrets, OtpStore
from gelombang.lifespan import open_pool, open_publisher, open_redis
from gelombang.pii import PiiCipher
from gelombang.rdkafka import RdKafkaPublisher
from services.registration.fast_path import (
    RedisCounter,
    RedisIdempotencyStore,
    RedisNikReservations,
    RedisOnceGuard,
    RedisOtpChecker,
    RedisSignUpEdge,
    RedisWindowCounter,
)
from services.registration.repository import PostgresStandings
from services.registration.service import (
    STATUS_LINK_KEY_PREFIX,
    Collaborators,
    ContactChangeCollaborators,
    ContactCollaborators,
    ContactStandings,
    Publisher,
    SendLimit,
    StatusLinkCollaborators,
)
from services.registration.settings import RegistrationSettings

__all__ = [
    "CONTACT_WINDOW_S",
    "SignUpClients",
    "contact_change_collaborators",
    "contact_collaborators",
    "open_sign_up_clients",
    "resend_limit",
    "sign_up_collaborators",
    "sign_up_guard",
    "status_link_collaborators",
]


@dataclass(frozen=True)
class SignUpClients:
    """What a process that takes sign-ups opens; closed with the stack it was opened on."""

    publisher: RdKafkaPublisher
    redis: aioredis.Redis
    # The same Redis, with the hot path's commands sharing round trips (gelombang.coalesce).
    pipelined: PipelinedRedis
    pool: asyncpg.Pool


async def open_sign_up_clients(
    stack: AsyncExitStack, settings: RegistrationSettings, *, pool_min_size: int
) -> SignUpClients:
    """Kafka, Redis and Postgres for ``register``, closed in reverse order when ``stack`` ends
    (also when opening one of them fails). ``pool_min_size`` 0 starts without Postgres."""
    publisher = await open_publisher(stack, settings, timeout_s=settings.produce_timeout_s)
    redis = open_redis(stack, settings.redis_url, timeout_s=settings.redis_timeout_s)
    pool = await open_pool(
        stack, settings.database_url, min_size=pool_min_size, max_size=settings.db_pool_max
    )
    pipelined = PipelinedRedis(redis, Breaker(settings.redis_breaker_open_s))
    return SignUpClients(publisher, redis, pipelined, pool)


def sign_up_collaborators(settings: RegistrationSettings, clients: SignUpClients) -> Collaborators:
    """``register``'s collaborators: the PII cipher, the Redis edge, reservations and
    idempotency store, the claim lookups in Postgres and the Kafka publisher."""
    ttl_s = settings.idempotency_ttl_s
    return Collaborators(
        cipher=PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes),
        edge=RedisSignUpEdge(clients.pipelined, ttl_s).admit,
        reservations=RedisNikReservations(clients.pipelined),
        standings=PostgresStandings(clients.pool, settings.standing_lookup_timeout_s),
        idempotency=RedisIdempotencyStore(clients.pipelined, ttl_s),
        publisher=clients.publisher,
    )


def sign_up_guard(
    settings: RegistrationSettings, cipher: PiiCipher, clients: SignUpClients
) -> SignUpGuard:
    """The public lane's guard: proof of work under pressure, limits per address and per NIK.
    The posko lane has none (officers are known by their keys)."""
    return SignUpGuard(
        seen=RedisFirstTimes(clients.pipelined),
        service=settings.service_name,
        pow_hmac_key=cipher.keyed_digest("gelombang/altcha/v1"),
        pow_max_number=settings.pow_max_number,
        pow_ttl_s=settings.pow_ttl_s,
        windows=WindowLimits(
            ip=(settings.signup_ip_limit, settings.signup_ip_window_s),
            nik=(settings.signup_nik_limit, settings.signup_nik_window_s),
            ip_exempt=settings.signup_ip_exempt_cidrs.split(","),
        ),
    )


def contact_collaborators(
    settings: RegistrationSettings, clients: SignUpClients
) -> ContactCollaborators:
    """The contact confirmation's (email link, SMS code, resend)."""
    return ContactCollaborators(
        secrets=ContactSecrets(settings.nik_hmac_key_bytes),
        once=RedisOnceGuard(clients.redis),
        otps=RedisOtpChecker(OtpStore(clients.redis)),
        publisher=clients.publisher,
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
        limits=WindowLimits(
            ip=(settings.status_link_ip_limit, settings.status_link_ip_window_s),
            nik=(settings.status_link_nik_limit, settings.status_link_nik_window_s),
            ip_exempt=settings.signup_ip_exempt_cidrs.split(","),
            key_prefix=STATUS_LINK_KEY_PREFIX,
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

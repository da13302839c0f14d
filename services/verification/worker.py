"""Verification worker: ``python -m services.verification.worker --port 9111``.

Run M of them; they share the Kafka partitions (consumer group ``verification``) and the due
work in Postgres (``FOR UPDATE SKIP LOCKED``). Four loops per process:

- consumer: opens a case per accepted registration (the decider's verdict, never a raw
  attempt), applies contact confirmations and resend requests,
  then commits offsets (the case rows are stored first);
- NIK checks against the civil registry (``nik_checks``): a pipeline that keeps up to the
  concurrency cap of calls in flight and stores answers in batches, behind a circuit breaker;
  an unavailable registry reschedules the check with jittered backoff, never rejects;
- contact messages (email link over SMTP, or an SMS one-time code);
- outbox publisher (events to Kafka after their state is stored) and contact-expiry sweeper.

Lost-link requests (issue 20) are judged by the consumer, in its transaction, against the NIK's
live case; a match becomes a message due in ``verification_status_links``, sent by its own
loop with the notifications' lease and retry rules.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import asyncpg
import redis.asyncio as aioredis

from gelombang.contact import ContactSecrets, OtpStore, link_expiry
from gelombang.events import (
    REGISTRATIONS_ACCEPTED,
    REGISTRATIONS_CONTACT_CONFIRMED,
    SELECTION_DECIDED,
    STATUS_LINK_REQUESTED,
    VERIFICATION_REQUESTS,
    ContactChangeRequested,
    ContactCodeResendRequested,
    ContactConfirmed,
    Event,
    RegistrationAccepted,
    SelectionDecided,
    StatusLinkRequested,
)
from gelombang.kafka import (
    Delivered,
    EventPublisher,
)
from gelombang.logs import get_logger
from gelombang.metrics import (
    OUTBOX_PENDING,
    STATUS_LINK_REQUESTS,
    VERIFICATION_CHECKS,
    VERIFICATION_OUTCOMES,
    VERIFICATION_RETRIES,
)
from gelombang.pii import PiiCipher, PiiError
from gelombang.process import WorkerShell, consumer_ready, run_worker
from services.verification import repository
from services.verification.gateways import (
    CivilRegistryClient,
    Mailer,
    SmsClient,
    Unavailable,
    Undeliverable,
    http_session,
)
from services.verification.nik_checks import NikCheckConfig, NikCheckPipeline
from services.verification.service import (
    ContactRetry,
    ContactSent,
    DueNikCheck,
    NikChecked,
    NikRetry,
    Outcome,
    confirm_contacts,
    decision_texts,
    email_text,
    expire_contacts,
    judge_contact_changes,
    judge_status_link_requests,
    open_cases,
    progressed,
    record_nik_checks,
    retry_delay_s,
    sms_text,
    status_link,
    status_link_texts,
)
from services.verification.settings import VerificationSettings

log = get_logger(__name__)

# A message claimed from one of the tables of due messages (repository.DueMessages).
_Due = TypeVar("_Due")

TOPICS = (
    REGISTRATIONS_ACCEPTED,
    REGISTRATIONS_CONTACT_CONFIRMED,
    VERIFICATION_REQUESTS,
    SELECTION_DECIDED,
    STATUS_LINK_REQUESTED,
)


class NikChecksInPostgres:
    """``NikCheckStore``: checks claimed under a lease; a batch of answers stored, and the cases
    it settles settled, in one transaction."""

    def __init__(self, pool: asyncpg.Pool, lease_s: float) -> None:
        self._pool = pool
        self._lease_s = lease_s

    async def claim(self, limit: int) -> list[DueNikCheck]:
        return await repository.claim_nik_checks(self._pool, limit, self._lease_s)

    async def record(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> list[Outcome]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await record_nik_checks(repository.PostgresCases(conn), checked, retries)


@dataclass
class Verifier:
    settings: VerificationSettings
    pool: asyncpg.Pool
    cipher: PiiCipher
    contact: ContactSecrets
    otps: OtpStore
    redis: aioredis.Redis
    registry: CivilRegistryClient
    sms: SmsClient
    mailer: Mailer
    publisher: EventPublisher
    rng: random.Random
    wake_outbox: asyncio.Event

    # -- consumer ---------------------------------------------------------------------------
    async def handle(self, batch: list[Delivered]) -> None:
        accepted = [d.event for d in batch if isinstance(d.event, RegistrationAccepted)]
        confirmed = [d.event for d in batch if isinstance(d.event, ContactConfirmed)]
        resend = [d.event for d in batch if isinstance(d.event, ContactCodeResendRequested)]
        changes = [d.event for d in batch if isinstance(d.event, ContactChangeRequested)]
        decided = [d.event for d in batch if isinstance(d.event, SelectionDecided)]
        lost = [d.event for d in batch if isinstance(d.event, StatusLinkRequested)]
        async with self.pool.acquire() as conn, conn.transaction():
            cases = repository.PostgresCases(conn)
            await open_cases(cases, accepted, link_expiry())
            if changes:
                await repository.lock_cases(
                    conn,
                    [e.registration_id for e in confirmed] + [e.registration_id for e in changes],
                )
            settled = await confirm_contacts(
                cases,
                [
                    (
                        e.registration_id,
                        progressed(e.registration_id, "contact_confirmed", e.method),
                        e.contact_version,
                    )
                    for e in confirmed
                ],
            )
            changed = await judge_contact_changes(
                changes,
                repository.PostgresContactChanges(conn),
                self.cipher,
                self.settings.contact_change_limit,
            )
            await repository.request_resend(
                conn, [e.registration_id for e in resend], self.settings.sms_daily_limit
            )
            await repository.queue_notifications(conn, decided)
            judged = await judge_status_link_requests(
                lost,
                repository.PostgresStatusLinks(conn),
                self.cipher,
                self.settings.status_link_daily_limit,
            )
        for outcome in judged:
            STATUS_LINK_REQUESTS.labels(outcome).inc()
        await self._contact_changes_applied(changed)
        for event in settled:
            VERIFICATION_OUTCOMES.labels(
                "verified" if event.event_type == "RegistrationVerified" else "rejected",
                getattr(event, "reason", ""),
            ).inc()
        for _ in confirmed:
            VERIFICATION_CHECKS.labels("contact", "confirmed").inc()
        if confirmed or any(outcome == "changed" for _, outcome in changed):
            self.wake_outbox.set()

    async def _contact_changes_applied(
        self, changed: Sequence[tuple[ContactChangeRequested, str]]
    ) -> None:
        for request, outcome in changed:
            VERIFICATION_CHECKS.labels("contact", f"change_{outcome}").inc()
            registration_id = str(request.registration_id)
            if outcome != "changed":
                log.info("contact_change_ignored", registration_id=registration_id, outcome=outcome)
                continue
            try:
                # The old number's code stops working now, not when the new one is issued.
                await self.otps.revoke(registration_id)
            except (aioredis.RedisError, OSError) as exc:
                # The new code replaces it within a moment anyway (OtpStore.issue).
                log.warning("otp_revoke_failed", error=type(exc).__name__)

    # -- NIK checks -------------------------------------------------------------------------
    def nik_checks(self) -> NikCheckPipeline:
        settings = self.settings
        return NikCheckPipeline(
            NikChecksInPostgres(self.pool, settings.lease_s),
            self.registry,
            self.cipher,
            NikCheckConfig(
                concurrency=settings.registry_concurrency,
                claim_min=max(1, settings.registry_concurrency // 2),
                prefetch=max(1, settings.registry_concurrency // 2),
                write_batch=settings.nik_write_batch,
                write_linger_s=settings.nik_write_linger_s,
                max_unwritten=4 * settings.nik_write_batch,
                idle_s=settings.idle_poll_s,
                retry_base_s=settings.retry_base_s,
                retry_max_s=settings.retry_max_s,
            ),
            self.rng,
            self._nik_checks_recorded,
        )

    def _nik_checks_recorded(self, settled: Sequence[Event]) -> None:
        for event in settled:
            self._count_outcome(event)
        self.wake_outbox.set()

    # -- contact messages -------------------------------------------------------------------
    async def contact_round(self) -> int:
        due = await repository.claim_contacts(
            self.pool, self.settings.scheduler_batch, self.settings.lease_s
        )
        done = await asyncio.gather(*(self._send_contact(d) for d in due), return_exceptions=True)
        sent = [d for d in done if isinstance(d, ContactSent)]
        retries = [d for d in done if isinstance(d, ContactRetry)]
        for failure in done:
            if isinstance(failure, BaseException):
                # Not expected; the rest of the round is stored, this one comes back after its
                # lease.
                log.error("contact_send_failed", error=type(failure).__name__)
        # One transaction for the round's messages (it was one per message).
        await repository.record_contacts(self.pool, sent, retries)
        for message in sent:
            VERIFICATION_CHECKS.labels("contact", f"{message.method}_sent").inc()
        if sent:
            self.wake_outbox.set()
        return len(due)

    async def _send_contact(self, due: repository.DueContact) -> ContactSent | ContactRetry:
        registration_id = str(due.registration_id)
        personal = self.cipher.open_json(due.pii, registration_id)
        try:
            if due.method == "email":
                token = self.contact.link_token(registration_id, due.expires_at, due.version)
                link = f"{self.settings.public_base_url}/api/v1/contact/verify?token={token}"
                subject, body = email_text(
                    personal["full_name"], link, self._status_link(registration_id), due.expires_at
                )
                # A changed contact's messages get Message-IDs of their own.
                sends = f"{due.sends}" if due.version == 0 else f"v{due.version}.{due.sends}"
                await self.mailer.send(
                    personal["email"], subject, body, f"{registration_id}.{sends}"
                )
            else:
                await self._send_otp(registration_id, personal["phone"], due.expires_at)
        except (Unavailable, Undeliverable) as exc:
            reason = exc.reason if isinstance(exc, Unavailable) else "undeliverable"
            delay = retry_delay_s(
                due.sends + 1, self.settings.retry_base_s, self.settings.retry_max_s, self.rng
            )
            VERIFICATION_RETRIES.labels("contact", reason).inc()
            return ContactRetry(due.registration_id, delay, reason, due.version)
        step = progressed(
            due.registration_id,
            "contact_pending",
            due.method,  # type: ignore[arg-type]
            due.version,
        )
        return ContactSent(due.registration_id, due.method, step, due.version)

    async def _send_due(
        self,
        claim: Callable[[asyncpg.Pool, int, float], Awaitable[Sequence[_Due]]],
        send: Callable[[_Due], Awaitable[None]],
    ) -> int:
        """One round of a table of due messages: claim a batch and send it all at once."""
        due = await claim(self.pool, self.settings.scheduler_batch, self.settings.lease_s)
        await asyncio.gather(*(send(d) for d in due))
        return len(due)

    # -- wave decisions ---------------------------------------------------------------------
    async def notify_round(self) -> int:
        return await self._send_due(repository.claim_notifications, self._notify)

    async def _notify(self, due: repository.DueNotification) -> None:
        if due.pii is None:
            # Known to selection but not here: nothing to send it with (never expected).
            await repository.NOTIFICATIONS.record(self.pool, due.event_id, "no_channel")
            return
        registration_id = str(due.registration_id)
        personal = self.cipher.open_json(due.pii, registration_id)
        subject, body, sms = decision_texts(
            personal["full_name"], due.wave, due.outcome, self._status_link(registration_id)
        )
        # The channel the person confirmed; walk-ins registered by an officer may have neither.
        use_email = personal.get("email") and due.contact_method in ("email", "officer")
        try:
            if use_email:
                await self.mailer.send(
                    personal["email"], subject, body, f"{registration_id}.wave{due.wave}"
                )
            elif personal.get("phone"):
                await self.sms.send(personal["phone"], sms, client_ref=f"{due.event_id}")
            else:
                await repository.NOTIFICATIONS.record(self.pool, due.event_id, "no_channel")
                return
        except (Unavailable, Undeliverable) as exc:
            reason = exc.reason if isinstance(exc, Unavailable) else "undeliverable"
            delay = retry_delay_s(
                due.attempts + 1, self.settings.retry_base_s, self.settings.retry_max_s, self.rng
            )
            VERIFICATION_RETRIES.labels("decision", reason).inc()
            await repository.NOTIFICATIONS.record(self.pool, due.event_id, "pending", delay, reason)
            return
        await repository.NOTIFICATIONS.record(self.pool, due.event_id, "sent")

    # -- lost status links ------------------------------------------------------------------
    async def status_link_round(self) -> int:
        return await self._send_due(repository.claim_status_links, self._send_status_link)

    async def _send_status_link(self, due: repository.DueStatusLink) -> None:
        registration_id = str(due.registration_id)
        try:
            # The case the request matched; should it no longer open, there is nothing to send.
            personal = None if due.pii is None else self.cipher.open_json(due.pii, registration_id)
        except (PiiError, ValueError):
            personal = None
        address = personal.get("email" if due.method == "email" else "phone") if personal else None
        if personal is None or not isinstance(address, str) or not address:
            await repository.STATUS_LINKS.record(self.pool, due.event_id, "failed", error="no_case")
            return
        subject, body, sms = status_link_texts(
            str(personal.get("full_name", "")), self._status_link(registration_id)
        )
        try:
            if due.method == "email":
                message_id = f"{registration_id}.link.{due.event_id}"
                await self.mailer.send(address, subject, body, message_id)
            else:
                await self.sms.send(address, sms, client_ref=f"link:{due.event_id}")
        except Undeliverable:
            VERIFICATION_RETRIES.labels("status_link", "undeliverable").inc()
            await repository.STATUS_LINKS.record(
                self.pool, due.event_id, "failed", error="undeliverable"
            )
            return
        except Unavailable as exc:
            VERIFICATION_RETRIES.labels("status_link", exc.reason).inc()
            if due.attempts + 1 >= self.settings.status_link_max_attempts:
                # A request is for now: after a provider outage of this length the person is
                # better served asking again than by a message long after they gave up.
                await repository.STATUS_LINKS.record(
                    self.pool, due.event_id, "failed", error=exc.reason
                )
                return
            delay = retry_delay_s(
                due.attempts + 1, self.settings.retry_base_s, self.settings.retry_max_s, self.rng
            )
            await repository.STATUS_LINKS.record(
                self.pool, due.event_id, "pending", delay, exc.reason
            )
            return
        await repository.STATUS_LINKS.record(self.pool, due.event_id, "sent")
        VERIFICATION_CHECKS.labels("status_link", f"{due.method}_sent").inc()

    async def _send_otp(self, registration_id: str, phone: str, confirm_by: datetime) -> None:
        # Per-phone daily cap across registrations (one phone may be typed by many people).
        quota_key = f"sms-quota:{self.contact.phone_key(phone)}:{time.strftime('%Y%m%d')}"
        try:
            used = int(await self.redis.incr(quota_key))
            if used == 1:
                await self.redis.expire(quota_key, 86_400)
            code = ContactSecrets.new_otp()
            digest = self.contact.otp_digest(registration_id, code)
            await self.otps.issue(registration_id, digest)
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable("redis") from exc
        if used > self.settings.sms_daily_limit:
            raise Unavailable("phone_daily_limit", retry_after_s=3600)
        # One reference per distinct message: a retry of the same text is deduplicated by the
        # gateway, a new code is a new message.
        text = sms_text(code, self._status_link(registration_id), confirm_by)
        await self.sms.send(phone, text, client_ref=f"{registration_id}:{digest[:16]}")

    def _status_link(self, registration_id: str) -> str:
        # The same derived token the API handed out at sign-up: nothing stored to look up.
        token = self.cipher.status_token(registration_id)
        return status_link(self.settings.public_base_url, registration_id, token)

    # -- outbox and expiry ------------------------------------------------------------------
    async def outbox_round(self) -> int:
        return await repository.OUTBOX.relay(self.pool, self.publisher, 500)

    async def gauges_round(self) -> int:
        """Refresh the backlog gauge that the OutboxNotDraining alert watches; 0 = sleep."""
        OUTBOX_PENDING.set(await repository.OUTBOX.backlog(self.pool))
        return 0

    async def expiry_round(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            settled = await expire_contacts(
                repository.PostgresCases(conn), self.settings.scheduler_batch
            )
        for event in settled:
            self._count_outcome(event)
        return len(settled)

    def _count_outcome(self, event: object) -> None:
        event_type = getattr(event, "event_type", None)
        if event_type == "RegistrationVerified":
            VERIFICATION_OUTCOMES.labels("verified", "").inc()
        elif event_type == "RegistrationRejected":
            VERIFICATION_OUTCOMES.labels("rejected", getattr(event, "reason", "")).inc()


async def run(settings: VerificationSettings, host: str, port: int) -> None:
    async with WorkerShell("verification") as shell:
        pool = await shell.pool(settings.database_url, max_size=settings.db_pool_max)
        redis = aioredis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        shell.on_close(redis.aclose)
        publisher = await shell.publisher(settings, client_id=settings.service_name)
        registry_http = http_session(
            settings.registry_url, settings.registry_timeout_s, settings.registry_concurrency * 2
        )
        shell.on_close(registry_http.close)
        sms_http = http_session(settings.sms_url, settings.sms_timeout_s, settings.sms_connections)
        shell.on_close(sms_http.close)
        mailer = Mailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            settings.smtp_timeout_s,
            settings.smtp_helo_name or await asyncio.to_thread(socket.getfqdn),
            settings.smtp_connections,
        )
        shell.on_close(mailer.aclose)
        verifier = Verifier(
            settings=settings,
            pool=pool,
            cipher=PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes),
            contact=ContactSecrets(settings.nik_hmac_key_bytes),
            otps=OtpStore(redis),
            redis=redis,
            registry=CivilRegistryClient(
                registry_http,
                settings.registry_api_key,
                settings.registry_concurrency,
                settings.breaker_failure_threshold,
                settings.breaker_open_s,
            ),
            sms=SmsClient(sms_http, settings.sms_api_key),
            mailer=mailer,
            publisher=publisher,
            rng=random.Random(),
            wake_outbox=asyncio.Event(),
        )
        loop = await shell.consume_topics(settings, TOPICS, verifier.handle, publisher, "consumer")
        idle = settings.idle_poll_s
        shell.task("nik", verifier.nik_checks().run(shell.stop))
        shell.every("contact", verifier.contact_round, idle)
        shell.every("outbox", verifier.outbox_round, idle, verifier.wake_outbox)
        shell.every("expiry", verifier.expiry_round, 30.0)
        shell.every("gauges", verifier.gauges_round, 15.0)
        shell.every("notify", verifier.notify_round, idle)
        shell.every("status_link", verifier.status_link_round, idle)
        await shell.serve(consumer_ready(loop, pool), host, port)


def main() -> None:
    run_worker(run, VerificationSettings, description="Gelombang verification worker", port=9111)


if __name__ == "__main__":
    main()

"""All SQL of the verification service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gelombang.events import (
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_REJECTED,
    REGISTRATIONS_VERIFIED,
    ContactChangeRequested,
    Event,
    RegistrationAccepted,
    SelectionDecided,
)
from gelombang.metrics import ONE_NIK_VIOLATIONS
from gelombang.outbox import Outbox
from gelombang.postgres import report_second_registrations
from services.verification.service import (
    Case,
    ChangeableCase,
    ContactChange,
    ContactChangeOutcome,
    ContactRetry,
    ContactSent,
    DueNikCheck,
    LiveCase,
    NikChecked,
    NikRetry,
    StatusLinkOutcome,
    StatusLinkTarget,
    contact_method_for,
    decide,
    progressed,
)

_TOPIC_OF = {
    "RegistrationProgressed": REGISTRATIONS_PROGRESS,
    "RegistrationVerified": REGISTRATIONS_VERIFIED,
    "RegistrationRejected": REGISTRATIONS_REJECTED,
}

# The series exists at 0 before the first violation, so the alert's increase() can see that one.
ONE_NIK_VIOLATIONS.labels("verification")

# asyncpg ships no type information; connections and pool proxies share this interface.
Connection = Any


OUTBOX = Outbox("verification_outbox", _TOPIC_OF)


async def add_to_outbox(conn: Connection, events: Sequence[Event]) -> None:
    await OUTBOX.add(conn, events)


async def ingest_accepted(
    conn: Connection, events: Sequence[RegistrationAccepted], contact_expires_at: datetime
) -> int:
    """Open a case per newly accepted registration; replays are ignored.

    The decider sends each NIK here once while it is live; a second live case of one NIK
    would be a bug upstream, and the unique index refuses it: counted and logged, never a
    crash loop (the batch goes on without it).

    Assisted registrations start with their contact confirmed: the officer's attestation
    (ID card seen in person) replaces the email or SMS check.
    """
    if not events:
        return 0
    rows = await conn.fetch(
        """
        INSERT INTO verification_cases (registration_id, nik_hash, pii, province_code,
            regency_code, employment_status, receives_social_aid, channel, contact_method,
            contact_state, contact_expires_at)
        SELECT r, h, p, pr, rg, e, a, c, m,
               CASE WHEN m = 'officer' THEN 'confirmed' ELSE 'unsent' END, $11
          FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                      $7::bool[], $8::text[], $9::text[], $10::text[])
               AS i(r, h, p, pr, rg, e, a, c, m, x)
        ON CONFLICT DO NOTHING
        RETURNING registration_id, contact_method
        """,
        [e.registration_id for e in events],
        [e.nik_hash for e in events],
        [e.pii for e in events],
        [e.province_code for e in events],
        [e.regency_code for e in events],
        [e.employment_status for e in events],
        [e.receives_social_aid for e in events],
        [e.channel for e in events],
        [contact_method_for(e.has_email, e.has_phone, e.channel) for e in events],
        [None for _ in events],
        contact_expires_at,
    )
    await report_second_registrations(
        conn,
        "verification_cases",
        [e.registration_id for e in events],
        {r["registration_id"] for r in rows},
        "verification",
    )
    attested = [r["registration_id"] for r in rows if r["contact_method"] == "officer"]
    await add_to_outbox(
        conn,
        [
            progressed(registration_id, "contact_confirmed", "officer")
            for registration_id in attested
        ],
    )
    return len(rows)


async def settle(conn: Connection, registration_id: uuid.UUID) -> Event | None:
    """Decide the case's outcome if it has one now; store it and queue its event."""
    row = await conn.fetchrow(
        """SELECT registration_id, nik_hash, province_code, regency_code, employment_status,
                  receives_social_aid, channel, contact_method, contact_state, nik_state, outcome
             FROM verification_cases WHERE registration_id = $1 FOR UPDATE""",
        registration_id,
    )
    if row is None:
        return None
    event = decide(Case(**dict(row)))
    if event is None:
        return None
    outcome = "verified" if event.event_type == "RegistrationVerified" else "rejected"
    await conn.execute(
        """UPDATE verification_cases SET outcome = $2, outcome_reason = $3, updated_at = now()
            WHERE registration_id = $1""",
        registration_id,
        outcome,
        getattr(event, "reason", None),
    )
    await add_to_outbox(conn, [event])
    return event


async def claim_nik_checks(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[DueNikCheck]:
    # The lease moves next_at forward: if this worker dies, the check is due again afterwards.
    rows = await pool.fetch(
        """
        UPDATE verification_cases c
           SET nik_next_at = now() + make_interval(secs => $2)
         WHERE c.registration_id IN (
               SELECT registration_id FROM verification_cases
                WHERE nik_state = 'pending' AND outcome IS NULL AND nik_next_at <= now()
                ORDER BY nik_next_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
        RETURNING c.registration_id, c.pii, c.nik_attempts
        """,
        limit,
        lease_s,
    )
    return [DueNikCheck(r["registration_id"], r["pii"], r["nik_attempts"]) for r in rows]


async def record_nik_checks(
    conn: Connection, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
) -> list[Event]:
    """Store a batch of finished NIK checks (in the caller's transaction); returns the outcomes
    settled.

    A handful of set-based statements whatever the batch's size (it was one transaction of
    five or six statements per check). Only a check still pending changes anything, so a
    result stored twice (a lease that ran out, a batch written again after a lost answer) is
    stored once. The rows are locked in registration-id order first, as the consumer's
    confirmations lock theirs, so two batches that share cases cannot deadlock on each other.
    """
    if not checked and not retries:
        return []
    await conn.execute(
        """SELECT 1 FROM verification_cases WHERE registration_id = ANY($1::uuid[])
            ORDER BY registration_id FOR UPDATE""",
        sorted({c.registration_id for c in checked} | {r.registration_id for r in retries}),
    )
    if retries:
        await conn.execute(
            """UPDATE verification_cases c
                  SET nik_attempts = c.nik_attempts + u.tried::int, nik_last_error = u.error,
                      nik_next_at = now() + make_interval(secs => u.delay),
                      updated_at = now()
                 FROM unnest($1::uuid[], $2::float8[], $3::text[], $4::bool[])
                      AS u(id, delay, error, tried)
                WHERE c.registration_id = u.id AND c.nik_state = 'pending'""",
            [r.registration_id for r in retries],
            [r.delay_s for r in retries],
            [r.error for r in retries],
            [r.tried for r in retries],
        )
    if not checked:
        return []
    # RETURNING gives each case as it is now, locked: what settle() would read again.
    rows = await conn.fetch(
        """UPDATE verification_cases c
              SET nik_state = u.state, nik_attempts = c.nik_attempts + 1,
                  nik_last_error = NULL, updated_at = now()
             FROM unnest($1::uuid[], $2::text[]) AS u(id, state)
            WHERE c.registration_id = u.id AND c.nik_state = 'pending'
        RETURNING c.registration_id, c.nik_hash, c.province_code, c.regency_code,
                  c.employment_status, c.receives_social_aid, c.channel, c.contact_method,
                  c.contact_state, c.nik_state, c.outcome""",
        [c.registration_id for c in checked],
        [c.nik_state for c in checked],
    )
    cases = [Case(**dict(r)) for r in rows]
    # Each case's "NIK verified" step before its outcome, as the status page shows them: made
    # first, because the read model orders a person's history by the events' occurred_at, and
    # an outcome made earlier would be listed before the step it follows.
    steps: list[Event] = [
        progressed(case.registration_id, "nik_verified")
        for case in cases
        if case.nik_state == "verified"
    ]
    decided = [(case.registration_id, decide(case)) for case in cases]
    outcomes = [(registration_id, e) for registration_id, e in decided if e is not None]
    settled = [e for _, e in outcomes]
    if outcomes:
        await conn.execute(
            """UPDATE verification_cases c
                  SET outcome = u.outcome, outcome_reason = u.reason, updated_at = now()
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, outcome, reason)
                WHERE c.registration_id = u.id AND c.outcome IS NULL""",
            [registration_id for registration_id, _ in outcomes],
            [
                "verified" if e.event_type == "RegistrationVerified" else "rejected"
                for e in settled
            ],
            [getattr(e, "reason", None) for e in settled],
        )
    await add_to_outbox(conn, steps + settled)
    return settled


class PostgresNikChecks:
    """``NikCheckStore`` over the pool: claims under a lease, batched results."""

    def __init__(self, pool: asyncpg.Pool, lease_s: float) -> None:
        self._pool = pool
        self._lease_s = lease_s

    async def claim(self, limit: int) -> list[DueNikCheck]:
        return await claim_nik_checks(self._pool, limit, self._lease_s)

    async def record(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> list[Event]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await record_nik_checks(conn, checked, retries)


@dataclass(frozen=True)
class DueContact:
    registration_id: uuid.UUID
    pii: str
    method: str
    sends: int
    expires_at: datetime
    version: int = 0


async def claim_contacts(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[DueContact]:
    rows = await pool.fetch(
        """
        UPDATE verification_cases c
           SET contact_next_at = now() + make_interval(secs => $2)
         WHERE c.registration_id IN (
               SELECT registration_id FROM verification_cases
                WHERE contact_state = 'unsent' AND outcome IS NULL AND contact_next_at <= now()
                ORDER BY contact_next_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
        RETURNING c.registration_id, c.pii, c.contact_method, c.contact_sends,
                  c.contact_expires_at, c.contact_version
        """,
        limit,
        lease_s,
    )
    return [
        DueContact(
            r["registration_id"],
            r["pii"],
            r["contact_method"],
            r["contact_sends"],
            r["contact_expires_at"],
            r["contact_version"],
        )
        for r in rows
    ]


async def record_contacts(
    pool: asyncpg.Pool, sent: Sequence[ContactSent], retries: Sequence[ContactRetry]
) -> None:
    """Store a round of contact messages in one transaction (it was one per message).

    Only a contact still unsent, and still the one the message was for, changes: a round
    stored twice, a message whose case was confirmed by the consumer meanwhile, or one whose
    contact a change replaced on its way (the new contact's message is due), changes nothing.
    Rows are locked in registration-id order first, as every other multi-case write here
    does."""
    if not sent and not retries:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """SELECT 1 FROM verification_cases WHERE registration_id = ANY($1::uuid[])
                ORDER BY registration_id FOR UPDATE""",
            sorted({m.registration_id for m in sent} | {r.registration_id for r in retries}),
        )
        if retries:
            await conn.execute(
                """UPDATE verification_cases c
                      SET contact_last_error = u.error,
                          contact_next_at = now() + make_interval(secs => u.delay),
                          updated_at = now()
                     FROM unnest($1::uuid[], $2::float8[], $3::text[], $4::int[])
                          AS u(id, delay, error, version)
                    WHERE c.registration_id = u.id AND c.contact_state = 'unsent'
                      AND c.contact_version = u.version""",
                [r.registration_id for r in retries],
                [r.delay_s for r in retries],
                [r.error for r in retries],
                [r.version for r in retries],
            )
        if not sent:
            return
        rows = await conn.fetch(
            """UPDATE verification_cases c
                  SET contact_state = 'sent', contact_sends = c.contact_sends + 1,
                      contact_last_error = NULL, updated_at = now()
                 FROM unnest($1::uuid[], $2::int[]) AS u(id, version)
                WHERE c.registration_id = u.id AND c.contact_state = 'unsent'
                  AND c.contact_version = u.version
            RETURNING c.registration_id, c.outcome""",
            [m.registration_id for m in sent],
            [m.version for m in sent],
        )
        # The NIK check may have settled the case while the message was on its way (both run
        # at once). The message went out, but a "contact pending" step after "rejected" would
        # tell the person their registration moved on when it did not.
        open_cases = {r["registration_id"] for r in rows if r["outcome"] is None}
        await add_to_outbox(conn, [m.step for m in sent if m.registration_id in open_cases])


async def confirm_contacts(
    conn: Connection, confirmations: Sequence[tuple[uuid.UUID, Event, int | None]]
) -> list[Event]:
    """Mark contacts confirmed (once; a second click changes nothing) and settle the cases.

    Each confirmation names the contact version it is for (None: whichever is current): a link
    to a contact since replaced confirms nothing.

    In registration-id order, the order in which a batch of NIK results locks its cases: two
    transactions that lock in one order cannot deadlock on each other. (A stable sort: two
    confirmations of one registration keep theirs.)"""
    settled: list[Event] = []
    for registration_id, progress, version in sorted(confirmations, key=lambda c: c[0]):
        updated = await conn.execute(
            """UPDATE verification_cases SET contact_state = 'confirmed', updated_at = now()
                WHERE registration_id = $1 AND contact_state IN ('unsent', 'sent')
                  AND outcome IS NULL
                  AND ($2::int IS NULL OR contact_version = $2::int)""",
            registration_id,
            version,
        )
        if updated.endswith(" 0"):
            continue
        await add_to_outbox(conn, [progress])
        event = await settle(conn, registration_id)
        if event is not None:
            settled.append(event)
    return settled


async def request_resend(
    conn: Connection, registration_ids: Sequence[uuid.UUID], daily_limit: int
) -> int:
    """Send the contact message again: a new SMS code, or the email with the same link (a new
    Message-ID, since it counts the sends). Within the case's limit of sends; the API allows one
    request per cooldown."""
    status = await conn.execute(
        """UPDATE verification_cases SET contact_state = 'unsent', contact_next_at = now(),
                  updated_at = now()
            WHERE registration_id = ANY($1::uuid[]) AND contact_state = 'sent'
              AND contact_method IN ('sms', 'email') AND outcome IS NULL
              AND contact_sends < $2""",
        list(registration_ids),
        daily_limit,
    )
    return int(status.rsplit(" ", 1)[-1])


async def lock_cases(conn: Connection, registration_ids: Sequence[uuid.UUID]) -> None:
    """Lock cases in registration-id order ahead of several writes to them in one
    transaction (confirmations, then changes), so that together they lock in one order."""
    if registration_ids:
        await conn.execute(
            """SELECT 1 FROM verification_cases WHERE registration_id = ANY($1::uuid[])
                ORDER BY registration_id FOR UPDATE""",
            sorted(set(registration_ids)),
        )


class PostgresContactChanges:
    """``ContactChangeStore`` inside the consumer's transaction (stored before the offsets
    move)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def case(self, registration_id: uuid.UUID) -> ChangeableCase | None:
        row = await self._conn.fetchrow(
            """SELECT registration_id, pii, channel, contact_method, contact_state,
                      contact_version, outcome
                 FROM verification_cases WHERE registration_id = $1 FOR UPDATE""",
            registration_id,
        )
        return None if row is None else ChangeableCase(**dict(row))

    async def record(
        self,
        request: ContactChangeRequested,
        outcome: ContactChangeOutcome,
        change: ContactChange | None,
    ) -> bool:
        stored = await self._conn.fetchval(
            """INSERT INTO verification_contact_changes (event_id, registration_id, outcome)
               VALUES ($1, $2, $3)
               ON CONFLICT (event_id) DO NOTHING
               RETURNING true""",
            request.event_id,
            request.registration_id,
            outcome,
        )
        if not stored or change is None:
            return bool(stored)
        # The new contact starts afresh: its message is due now and has its own sends.
        await self._conn.execute(
            """UPDATE verification_cases
                  SET pii = $2, contact_method = $3, contact_version = $4,
                      contact_state = 'unsent', contact_sends = 0, contact_next_at = now(),
                      contact_last_error = NULL, updated_at = now()
                WHERE registration_id = $1""",
            change.registration_id,
            change.pii,
            change.method,
            change.version,
        )
        await add_to_outbox(self._conn, [change.step])
        return True


async def expire_contacts(pool: asyncpg.Pool, limit: int) -> list[Event]:
    settled: list[Event] = []
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """UPDATE verification_cases c SET contact_state = 'expired', updated_at = now()
                WHERE c.registration_id IN (
                      SELECT registration_id FROM verification_cases
                       WHERE contact_state IN ('unsent', 'sent') AND outcome IS NULL
                         AND contact_expires_at < now()
                       LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING c.registration_id""",
            limit,
        )
        for row in rows:
            event = await settle(conn, row["registration_id"])
            if event is not None:
                settled.append(event)
    return settled


# -- wave decisions ------------------------------------------------------------------------------


async def queue_notifications(conn: Connection, decisions: Sequence[SelectionDecided]) -> None:
    if not decisions:
        return
    await conn.execute(
        """INSERT INTO verification_notifications (event_id, registration_id, wave, outcome)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[])
           ON CONFLICT (event_id) DO NOTHING""",
        [d.event_id for d in decisions],
        [d.registration_id for d in decisions],
        [d.wave for d in decisions],
        [d.outcome for d in decisions],
    )


@dataclass(frozen=True)
class DueNotification:
    event_id: uuid.UUID
    registration_id: uuid.UUID
    wave: int
    outcome: str
    attempts: int
    pii: str | None
    contact_method: str | None


async def claim_notifications(
    pool: asyncpg.Pool, limit: int, lease_s: float
) -> list[DueNotification]:
    # The lease moves next_at forward: if this worker dies, the message is due again afterwards.
    rows = await pool.fetch(
        """
        WITH due AS (
            UPDATE verification_notifications n
               SET next_at = now() + make_interval(secs => $2)
             WHERE n.event_id IN (SELECT event_id FROM verification_notifications
                                   WHERE state = 'pending' AND next_at <= now()
                                   ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING n.event_id, n.registration_id, n.wave, n.outcome, n.attempts)
        SELECT due.*, c.pii, c.contact_method
          FROM due LEFT JOIN verification_cases c USING (registration_id)
        """,
        limit,
        lease_s,
    )
    return [DueNotification(**dict(r)) for r in rows]


async def record_notification(
    pool: asyncpg.Pool,
    event_id: uuid.UUID,
    state: str,
    delay_s: float = 0,
    error: str | None = None,
) -> None:
    """sent / no_channel are final; pending with a delay is a retry."""
    await pool.execute(
        """UPDATE verification_notifications
              SET state = $2, attempts = attempts + 1, last_error = $4,
                  next_at = now() + make_interval(secs => $3),
                  sent_at = CASE WHEN $2 = 'sent' THEN now() END
            WHERE event_id = $1""",
        event_id,
        state,
        delay_s,
        error,
    )


# -- lost status links (issue 20) -------------------------------------------------------------

_STATE_OF: dict[StatusLinkOutcome, str] = {
    "matched": "pending",
    "no_match": "no_match",
    "limited": "limited",
}


class PostgresStatusLinks:
    """``StatusLinkStore`` inside the consumer's transaction (stored before the offsets move)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def live_cases(self, nik_hashes: Sequence[str]) -> dict[str, LiveCase]:
        # The predicate is the one-live-case-per-NIK index's: an index scan at any size.
        rows = await self._conn.fetch(
            """SELECT nik_hash, registration_id, pii FROM verification_cases
                WHERE nik_hash = ANY($1::text[]) AND outcome IS DISTINCT FROM 'rejected'""",
            list(nik_hashes),
        )
        return {r["nik_hash"]: LiveCase(r["registration_id"], r["pii"]) for r in rows}

    async def messages_today(self, registration_id: uuid.UUID) -> int:
        count: int = await self._conn.fetchval(
            """SELECT count(*) FROM verification_status_links
                WHERE registration_id = $1 AND state IN ('pending', 'sent', 'failed')
                  AND created_at > now() - interval '1 day'""",
            registration_id,
        )
        return count

    async def record(
        self, event_id: uuid.UUID, outcome: StatusLinkOutcome, target: StatusLinkTarget | None
    ) -> bool:
        stored = await self._conn.fetchval(
            """INSERT INTO verification_status_links (event_id, registration_id, method, state)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (event_id) DO NOTHING
               RETURNING true""",
            event_id,
            None if target is None else target.registration_id,
            None if target is None else target.method,
            _STATE_OF[outcome],
        )
        return bool(stored)


@dataclass(frozen=True)
class DueStatusLink:
    event_id: uuid.UUID
    registration_id: uuid.UUID
    method: str
    attempts: int
    pii: str | None


async def claim_status_links(
    pool: asyncpg.Pool, limit: int, lease_s: float
) -> list[DueStatusLink]:
    # The lease moves next_at forward: if this worker dies, the message is due again afterwards.
    rows = await pool.fetch(
        """
        WITH due AS (
            UPDATE verification_status_links s
               SET next_at = now() + make_interval(secs => $2)
             WHERE s.event_id IN (SELECT event_id FROM verification_status_links
                                   WHERE state = 'pending' AND next_at <= now()
                                   ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING s.event_id, s.registration_id, s.method, s.attempts)
        SELECT due.*, c.pii
          FROM due LEFT JOIN verification_cases c USING (registration_id)
        """,
        limit,
        lease_s,
    )
    return [DueStatusLink(**dict(r)) for r in rows]


async def record_status_link(
    pool: asyncpg.Pool,
    event_id: uuid.UUID,
    state: str,
    delay_s: float = 0,
    error: str | None = None,
) -> None:
    """sent / failed are final; pending with a delay is a retry."""
    await pool.execute(
        """UPDATE verification_status_links
              SET state = $2, attempts = attempts + 1, last_error = $4,
                  next_at = now() + make_interval(secs => $3),
                  sent_at = CASE WHEN $2 = 'sent' THEN now() END
            WHERE event_id = $1 AND state = 'pending'""",
        event_id,
        state,
        delay_s,
        error,
    )

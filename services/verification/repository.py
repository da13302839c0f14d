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
    ContactMethod,
    Event,
    RegistrationRejected,
    SelectionDecided,
)
from gelombang.metrics import ONE_NIK_VIOLATIONS
from gelombang.outbox import Outbox
from gelombang.postgres import columns, report_second_registrations
from services.verification.service import (
    Case,
    ChangeableCase,
    ContactChangeJudgement,
    ContactRetry,
    ContactSent,
    DueNikCheck,
    LiveCase,
    NewCases,
    NikChecked,
    NikRetry,
    Outcome,
    StatusLinkOutcome,
    StatusLinkTarget,
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


class PostgresCases:
    """``CaseStore`` inside the caller's transaction: the cases' rows and their outbox. What a
    case's state means (its outcome, the steps told) is ``service``'s."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def open(self, new: NewCases) -> list[tuple[uuid.UUID, ContactMethod]]:
        """The decider sends each NIK here once while it is live; a second live case of one NIK
        would be a bug upstream, and the unique index refuses it: counted and logged, never a
        crash loop (the batch goes on without it)."""
        events = new.accepted
        if not events:
            return []
        rows = await self._conn.fetch(
            """
            INSERT INTO verification_cases (registration_id, nik_hash, pii, province_code,
                regency_code, employment_status, receives_social_aid, channel, contact_method,
                contact_state, contact_expires_at)
            SELECT r, h, p, pr, rg, e, a, c, m,
                   CASE WHEN m = 'officer' THEN 'confirmed' ELSE 'unsent' END, $11
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[])
                   AS i(r, h, p, pr, rg, e, a, c, m, x)
            ON CONFLICT DO NOTHING
            RETURNING registration_id, contact_method
            """,
            *columns(
                events,
                "registration_id",
                "nik_hash",
                "pii",
                "province_code",
                "regency_code",
                "employment_status",
                "receives_social_aid",
                "channel",
            ),
            list(new.methods),
            [None for _ in events],
            new.contact_expires_at,
        )
        await report_second_registrations(
            self._conn,
            "verification_cases",
            [e.registration_id for e in events],
            {r["registration_id"] for r in rows},
            "verification",
        )
        return [(r["registration_id"], r["contact_method"]) for r in rows]

    async def locked(self, registration_id: uuid.UUID) -> Case | None:
        row = await self._conn.fetchrow(
            """SELECT registration_id, nik_hash, province_code, regency_code, employment_status,
                      receives_social_aid, channel, contact_method, contact_state, nik_state,
                      outcome
                 FROM verification_cases WHERE registration_id = $1 FOR UPDATE""",
            registration_id,
        )
        return None if row is None else Case(**dict(row))

    async def record_nik_checks(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> list[Case]:
        """A handful of set-based statements whatever the batch's size (it was one transaction
        of five or six statements per check). Only a check still pending changes anything, so a
        result stored twice (a lease that ran out, a batch written again after a lost answer)
        is stored once. The rows are locked in registration-id order first, as the consumer's
        confirmations lock theirs, so two batches that share cases cannot deadlock on each
        other."""
        if not checked and not retries:
            return []
        await lock_cases(
            self._conn,
            [c.registration_id for c in checked] + [r.registration_id for r in retries],
        )
        if retries:
            await self._conn.execute(
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
        # RETURNING gives each case as it is now, locked: what ``locked`` would read again.
        rows = await self._conn.fetch(
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
        return [Case(**dict(r)) for r in rows]

    async def confirm_contact(self, registration_id: uuid.UUID, version: int | None) -> bool:
        updated = await self._conn.execute(
            """UPDATE verification_cases SET contact_state = 'confirmed', updated_at = now()
                WHERE registration_id = $1 AND contact_state IN ('unsent', 'sent')
                  AND outcome IS NULL
                  AND ($2::int IS NULL OR contact_version = $2::int)""",
            registration_id,
            version,
        )
        return not updated.endswith(" 0")

    async def expire_contacts(self, limit: int) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            """UPDATE verification_cases c SET contact_state = 'expired', updated_at = now()
                WHERE c.registration_id IN (
                      SELECT registration_id FROM verification_cases
                       WHERE contact_state IN ('unsent', 'sent') AND outcome IS NULL
                         AND contact_expires_at < now()
                       LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING c.registration_id""",
            limit,
        )
        return [row["registration_id"] for row in rows]

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        await self._conn.execute(
            """UPDATE verification_cases c
                  SET outcome = u.outcome, outcome_reason = u.reason, updated_at = now()
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, outcome, reason)
                WHERE c.registration_id = u.id AND c.outcome IS NULL""",
            [e.registration_id for e in outcomes],
            ["rejected" if isinstance(e, RegistrationRejected) else "verified" for e in outcomes],
            [e.reason if isinstance(e, RegistrationRejected) else None for e in outcomes],
        )

    async def queue(self, events: Sequence[Event]) -> None:
        await add_to_outbox(self._conn, events)


def _claim_due(step: str, waiting: str, columns: str) -> str:
    """The claim of up to $1 open cases whose ``step`` (nik, contact) waits in state ``waiting``
    and is due, under a lease of $2 seconds: the lease moves next_at forward, so if this worker
    dies the work is due again afterwards. Names from this module's constants, never from input.
    """
    return f"""
        UPDATE verification_cases c
           SET {step}_next_at = now() + make_interval(secs => $2)
         WHERE c.registration_id IN (
               SELECT registration_id FROM verification_cases
                WHERE {step}_state = '{waiting}' AND outcome IS NULL AND {step}_next_at <= now()
                ORDER BY {step}_next_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
        RETURNING c.registration_id, {columns}
        """  # noqa: S608


_CLAIM_NIK_CHECKS = _claim_due("nik", "pending", "c.pii, c.nik_attempts")


async def claim_nik_checks(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[DueNikCheck]:
    rows = await pool.fetch(_CLAIM_NIK_CHECKS, limit, lease_s)
    return [DueNikCheck(r["registration_id"], r["pii"], r["nik_attempts"]) for r in rows]


@dataclass(frozen=True)
class DueContact:
    registration_id: uuid.UUID
    pii: str
    method: str
    sends: int
    expires_at: datetime
    version: int = 0


_CLAIM_CONTACTS = _claim_due(
    "contact",
    "unsent",
    "c.pii, c.contact_method, c.contact_sends, c.contact_expires_at, c.contact_version",
)


async def claim_contacts(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[DueContact]:
    rows = await pool.fetch(_CLAIM_CONTACTS, limit, lease_s)
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
        await lock_cases(
            conn, [m.registration_id for m in sent] + [r.registration_id for r in retries]
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
                      contact_version, outcome, contact_expires_at
                 FROM verification_cases WHERE registration_id = $1 FOR UPDATE""",
            registration_id,
        )
        return None if row is None else ChangeableCase(**dict(row))

    async def record(self, judgement: ContactChangeJudgement) -> bool:
        stored = await self._conn.fetchval(
            """INSERT INTO verification_contact_changes (event_id, registration_id, outcome)
               VALUES ($1, $2, $3)
               ON CONFLICT (event_id) DO NOTHING
               RETURNING true""",
            judgement.request.event_id,
            judgement.request.registration_id,
            judgement.outcome,
        )
        change = judgement.change
        if not stored or change is None:
            return bool(stored)
        # The new contact starts afresh: its message is due now, has its own sends, and the
        # deadline the change leaves it (the expiry sweep and the new link both read it).
        await self._conn.execute(
            """UPDATE verification_cases
                  SET pii = $2, contact_method = $3, contact_version = $4,
                      contact_expires_at = $5,
                      contact_state = 'unsent', contact_sends = 0, contact_next_at = now(),
                      contact_last_error = NULL, updated_at = now()
                WHERE registration_id = $1""",
            change.registration_id,
            change.pii,
            change.method,
            change.version,
            change.expires_at,
        )
        await add_to_outbox(self._conn, [change.step])
        return True


class DueMessages:
    """A table of messages due (wave decisions, lost status links), both of one shape: claimed
    under a lease (if this worker dies, a message is due again afterwards), then recorded as
    final (sent, failed, no_channel) or as pending again after a delay (a retry). Only a
    message still pending is recorded: a late answer from a worker whose lease ran out does not
    undo what another worker recorded meanwhile."""

    def __init__(self, table: str, columns: str, case_columns: str) -> None:
        # Names from this module's constants, never from input.
        self._claim = f"""
            WITH due AS (
                UPDATE {table} m
                   SET next_at = now() + make_interval(secs => $2)
                 WHERE m.event_id IN (SELECT event_id FROM {table}
                                       WHERE state = 'pending' AND next_at <= now()
                                       ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING m.event_id, m.registration_id, {columns}, m.attempts)
            SELECT due.*, {case_columns}
              FROM due LEFT JOIN verification_cases c USING (registration_id)
            """  # noqa: S608
        self._record = f"""
            UPDATE {table}
               SET state = $2, attempts = attempts + 1, last_error = $4,
                   next_at = now() + make_interval(secs => $3),
                   sent_at = CASE WHEN $2 = 'sent' THEN now() END
             WHERE event_id = $1 AND state = 'pending'
            """  # noqa: S608

    async def claim(self, pool: asyncpg.Pool, limit: int, lease_s: float) -> list[dict[str, Any]]:
        return [dict(r) for r in await pool.fetch(self._claim, limit, lease_s)]

    async def record(
        self,
        pool: asyncpg.Pool,
        event_id: uuid.UUID,
        state: str,
        delay_s: float = 0,
        error: str | None = None,
    ) -> None:
        await pool.execute(self._record, event_id, state, delay_s, error)


NOTIFICATIONS = DueMessages(
    "verification_notifications", "m.wave, m.outcome", "c.pii, c.contact_method"
)
STATUS_LINKS = DueMessages("verification_status_links", "m.method", "c.pii")


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
    return [DueNotification(**row) for row in await NOTIFICATIONS.claim(pool, limit, lease_s)]


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
    return [DueStatusLink(**row) for row in await STATUS_LINKS.claim(pool, limit, lease_s)]

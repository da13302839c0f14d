"""All SQL of the registration service: the read model. The projector's writes (verdicts,
claims, status steps, their outbox) and the reads of it (a registration's status, a reservation
holder's standing, the funnel). The sign-up edge's Redis is ``fast_path``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from gelombang.events import (
    REGISTRATIONS_ACCEPTED,
    REGISTRATIONS_SUBMITTED,
    RELEASING_REASONS,
    NikReleased,
    RegistrationAccepted,
    RegistrationSubmitted,
    derived_event_id,
)
from gelombang.outbox import Outbox
from gelombang.postgres import columns
from gelombang.probes import POSTGRES_UNAVAILABLE
from services.registration.decisions import Decisions, decide, nik_hashes
from services.registration.service import DependencyUnavailable, Standing


class PostgresStandings:
    """Where a reservation's holder stands in the read model: the edge's rare path only (a
    reservation conflict the decider has not confirmed yet)."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    async def standing_of(self, registration_id: str) -> Standing | None:
        try:
            parsed = UUID(registration_id)
        except ValueError:
            return None  # not an id we wrote: nothing in the log holds it
        try:
            async with asyncio.timeout(self._timeout_s):
                row = await self._pool.fetchrow(
                    "SELECT decision, status, reason FROM registrations WHERE registration_id = $1",
                    parsed,
                )
        except POSTGRES_UNAVAILABLE as exc:
            raise DependencyUnavailable("postgres") from exc
        if row is None:
            return None
        if row["decision"] == "duplicate":
            return "duplicate"
        if row["status"] == "rejected" and row["reason"] in RELEASING_REASONS:
            return "released"
        return "live"


@dataclass(frozen=True)
class HistoryRow:
    status: str
    reason: str | None
    occurred_at: datetime
    wave: int | None = None
    # A contact_changed step's new contact, sealed (issue 20).
    contact_pii: str | None = None


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
    # For the status page's contact step: which contact is being confirmed and how to hint at
    # it (the sealed personal data) and whether an officer vouched for it (the channel).
    pii: str = ""
    channel: str = "api"


async def fetch_status(pool: asyncpg.Pool, registration_id: UUID) -> StatusRow | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT registration_id, status, reason, nik_last4, province_code, regency_code,
                      submitted_at, wave, pii, channel
                 FROM registrations WHERE registration_id = $1""",
            registration_id,
        )
        if row is None:
            return None
        history = await conn.fetch(
            """SELECT status, reason, occurred_at, wave, contact_pii FROM registration_history
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
            HistoryRow(h["status"], h["reason"], h["occurred_at"], h["wave"], h["contact_pii"])
            for h in history
        ],
        wave=row["wave"],
        pii=row["pii"],
        channel=row["channel"],
    )


OUTBOX = Outbox(
    "registration_outbox",
    {"RegistrationAccepted": REGISTRATIONS_ACCEPTED, "NikReleased": REGISTRATIONS_SUBMITTED},
)

# History event ids are derived from (registration, status) so that replaying the topic, or a
# client's retry that published the same registration twice, adds nothing. A duplicate's
# rejection carries its attempt's own time (plus 1 µs, so the history reads in order): a
# rebuild from the log then writes the same rows.
_STORE_DECIDED = [
    """
    INSERT INTO registrations (registration_id, nik_hash, nik_last4, pii, province_code,
                               regency_code, employment_status, receives_social_aid, channel,
                               status, reason, decision, submitted_at)
    SELECT r, h, l, p, pr, rg, e, a, c,
           CASE WHEN d = 'duplicate' THEN 'rejected' ELSE 'submitted' END,
           CASE WHEN d = 'duplicate' THEN 'duplicate' END, d, t
      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                  $7::text[], $8::bool[], $9::text[], $10::timestamptz[], $11::text[])
           AS i(r, h, l, p, pr, rg, e, a, c, t, d)
    ON CONFLICT (registration_id) DO NOTHING
    """,
    """
    INSERT INTO registration_history (event_id, registration_id, status, reason, occurred_at)
    SELECT md5(r::text || ':submitted')::uuid, r, 'submitted', NULL, t
      FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS i(r, t, d)
    UNION ALL
    SELECT md5(r::text || ':rejected')::uuid, r, 'rejected', 'duplicate',
           t + interval '1 microsecond'
      FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS i(r, t, d)
     WHERE d = 'duplicate'
    ON CONFLICT (event_id) DO NOTHING
    """,
]


async def decide_submissions(
    pool: asyncpg.Pool, records: Sequence[RegistrationSubmitted | NikReleased]
) -> Decisions:
    """Decide a batch of attempts and releases (in log order) and store the verdicts, the
    claims, the read-model rows and the accepted events' outbox rows in one transaction."""
    if not records:
        return Decisions()
    hashes = nik_hashes(records)
    ids = [r.registration_id for r in records if isinstance(r, RegistrationSubmitted)]
    async with pool.acquire() as conn, conn.transaction():
        # Locked so that two owners of one partition (a rebalance's overlap) decide in turn.
        claim_rows = await conn.fetch(
            "SELECT nik_hash, registration_id FROM nik_claims WHERE nik_hash = ANY($1::text[])"
            " FOR UPDATE",
            hashes,
        )
        verdict_rows = await conn.fetch(
            "SELECT registration_id, decision FROM registrations"
            " WHERE registration_id = ANY($1::uuid[])",
            ids,
        )
        decided = decide(
            records,
            {row["nik_hash"]: row["registration_id"] for row in claim_rows},
            {row["registration_id"]: row["decision"] for row in verdict_rows},
        )
        new = [(e, "accepted") for e in decided.accepted] + [
            (e, "duplicate") for e in decided.duplicates
        ]
        if new:
            new_ids = [e.registration_id for e, _ in new]
            at = [e.occurred_at for e, _ in new]
            verdicts = [v for _, v in new]
            await conn.execute(
                _STORE_DECIDED[0],
                new_ids,
                [e.nik_hash for e, _ in new],
                [e.nik_last4 for e, _ in new],
                [e.pii for e, _ in new],
                [e.province_code for e, _ in new],
                [e.regency_code for e, _ in new],
                [e.employment_status for e, _ in new],
                [e.receives_social_aid for e, _ in new],
                [e.channel for e, _ in new],
                at,
                verdicts,
            )
            await conn.execute(_STORE_DECIDED[1], new_ids, at, verdicts)
        changed = decided.changed_claims
        if changed:
            await conn.execute(
                "DELETE FROM nik_claims WHERE nik_hash = ANY($1::text[])", list(changed)
            )
            taken = [(h, r) for h, r in changed.items() if r is not None]
            await conn.execute(
                """INSERT INTO nik_claims (nik_hash, registration_id, claimed_at)
                   SELECT h, r, now() FROM unnest($1::text[], $2::uuid[]) AS i(h, r)""",
                [h for h, _ in taken],
                [r for _, r in taken],
            )
        await OUTBOX.add(conn, [RegistrationAccepted.of(e) for e in decided.accepted])
        if new:
            await conn.execute(_RECOMPUTE_STATUS, [e.registration_id for e, _ in new])
    return decided


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
    contact_pii: str | None = None


async def apply_status_changes(
    pool: asyncpg.Pool, changes: Sequence[StatusChange]
) -> list[NikReleased]:
    """Store status steps (idempotent by event id) and recompute the affected statuses.

    A rejection that invites the person to register again also queues the release of their
    NIK (returned), in the same transaction: stored once, however often the step is replayed.
    """
    if not changes:
        return []
    async with pool.acquire() as conn, conn.transaction():
        stored = await conn.fetch(
            """
            INSERT INTO registration_history (event_id, registration_id, status, reason,
                                              occurred_at, wave, contact_pii)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                 $5::timestamptz[], $6::int[], $7::text[])
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """,
            *columns(
                changes,
                "event_id",
                "registration_id",
                "status",
                "reason",
                "occurred_at",
                "wave",
                "contact_pii",
            ),
        )
        fresh = {row["event_id"] for row in stored}
        releasing = [
            c
            for c in changes
            if c.event_id in fresh and c.status == "rejected" and c.reason in RELEASING_REASONS
        ]
        releases: list[NikReleased] = []
        if releasing:
            rows = await conn.fetch(
                """SELECT registration_id, nik_hash FROM registrations
                    WHERE registration_id = ANY($1::uuid[]) AND decision = 'accepted'""",
                [c.registration_id for c in releasing],
            )
            nik_of = {row["registration_id"]: row["nik_hash"] for row in rows}
            releases = [
                NikReleased(
                    event_id=derived_event_id("released", c.event_id),
                    registration_id=c.registration_id,
                    nik_hash=nik_of[c.registration_id],
                    reason=c.reason or "",
                )
                for c in releasing
                if c.registration_id in nik_of
            ]
            await OUTBOX.add(conn, releases)
        await conn.execute(_RECOMPUTE_STATUS, list({c.registration_id for c in changes}))
    return releases


async def funnel_counts(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    """(status, province code, registrations) for the funnel gauge; served by the
    (province_code, status) index, so it can stay an index-only scan at millions of rows."""
    rows = await pool.fetch(
        "SELECT status, province_code, count(*) AS n FROM registrations"
        " GROUP BY status, province_code"
    )
    return [(r["status"], r["province_code"], int(r["n"])) for r in rows]

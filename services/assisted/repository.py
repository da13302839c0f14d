"""All storage access of the assisted service (Postgres): posts, officers, audit, submissions,
batches. The sign-up itself goes through the registration service's stores, and what the read
model says about a registration through its public queries (services.registration.queries),
never its tables."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gelombang.pii import PiiCipher
from services.assisted.schemas import AssistedRegistrationRequest
from services.assisted.service import FieldProblem, Officer, PendingRow, RowSettled, Submission
from services.registration.queries import registrations_of_nik

# -- Posts and officers ---------------------------------------------------------------------


@dataclass(frozen=True)
class PoskoRow:
    id: uuid.UUID
    name: str
    province_code: str
    regency_code: str


@dataclass(frozen=True)
class OfficerRow:
    id: uuid.UUID
    posko_id: uuid.UUID
    name: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None


async def create_posko(
    pool: asyncpg.Pool, name: str, province_code: str, regency_code: str
) -> PoskoRow:
    posko_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO posko (id, name, province_code, regency_code) VALUES ($1, $2, $3, $4)",
        posko_id,
        name,
        province_code,
        regency_code,
    )
    return PoskoRow(posko_id, name, province_code, regency_code)


async def list_posko(pool: asyncpg.Pool) -> list[PoskoRow]:
    rows = await pool.fetch(
        "SELECT id, name, province_code, regency_code FROM posko ORDER BY created_at"
    )
    return [PoskoRow(r["id"], r["name"], r["province_code"], r["regency_code"]) for r in rows]


async def posko_exists(pool: asyncpg.Pool, posko_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM posko WHERE id = $1)", posko_id))


def _officer(row: asyncpg.Record) -> OfficerRow:
    return OfficerRow(
        row["id"], row["posko_id"], row["name"], row["active"], row["created_at"], row["revoked_at"]
    )


async def issue_officer(
    pool: asyncpg.Pool, posko_id: uuid.UUID, name: str, api_key_hash: str
) -> OfficerRow:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """INSERT INTO officers (id, posko_id, name, api_key_hash)
                VALUES ($1, $2, $3, $4)
             RETURNING id, posko_id, name, active, created_at, revoked_at""",
            uuid.uuid4(),
            posko_id,
            name,
            api_key_hash,
        )
        assert row is not None
        await _audit(conn, row["id"], posko_id, "admin.issue_key", None)
    return _officer(row)


async def revoke_officer(pool: asyncpg.Pool, officer_id: uuid.UUID) -> OfficerRow | None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE officers SET active = false, revoked_at = coalesce(revoked_at, now())
                 WHERE id = $1 RETURNING id, posko_id, name, active, created_at, revoked_at""",
            officer_id,
        )
        if row is not None:
            await _audit(conn, row["id"], row["posko_id"], "admin.revoke_key", None)
    return _officer(row) if row is not None else None


async def list_officers(pool: asyncpg.Pool, posko_id: uuid.UUID | None) -> list[OfficerRow]:
    rows = await pool.fetch(
        """SELECT id, posko_id, name, active, created_at, revoked_at FROM officers
             WHERE $1::uuid IS NULL OR posko_id = $1 ORDER BY created_at""",
        posko_id,
    )
    return [_officer(r) for r in rows]


async def officer_by_key_hash(pool: asyncpg.Pool, api_key_hash: str) -> Officer | None:
    row = await pool.fetchrow(
        "SELECT id, posko_id, name FROM officers WHERE api_key_hash = $1 AND active",
        api_key_hash,
    )
    return Officer(row["id"], row["posko_id"], row["name"]) if row is not None else None


# -- Audit ----------------------------------------------------------------------------------


async def _audit(
    conn: asyncpg.Connection,
    officer_id: uuid.UUID | None,
    posko_id: uuid.UUID | None,
    action: str,
    registration_id: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (officer_id, posko_id, action, registration_id)
           VALUES ($1, $2, $3, $4)""",
        officer_id,
        posko_id,
        action,
        uuid.UUID(registration_id) if registration_id else None,
    )


class PostgresAuditLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self, officer: Officer, action: str, registration_id: str | None = None
    ) -> None:
        async with self._pool.acquire() as conn:
            await _audit(conn, officer.id, officer.posko_id, action, registration_id)


@dataclass(frozen=True)
class AuditRow:
    officer_id: uuid.UUID | None
    posko_id: uuid.UUID | None
    action: str
    registration_id: uuid.UUID | None
    at: datetime


async def audit_for_officer(pool: asyncpg.Pool, officer_id: uuid.UUID) -> list[AuditRow]:
    rows = await pool.fetch(
        """SELECT officer_id, posko_id, action, registration_id, at FROM audit_log
            WHERE officer_id = $1 ORDER BY id""",
        officer_id,
    )
    return [
        AuditRow(r["officer_id"], r["posko_id"], r["action"], r["registration_id"], r["at"])
        for r in rows
    ]


# -- Submissions ----------------------------------------------------------------------------


class PostgresSubmissionLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self, registration_id: str, officer: Officer, batch_id: uuid.UUID | None
    ) -> None:
        await self._pool.execute(
            """INSERT INTO assisted_submissions (registration_id, posko_id, officer_id, batch_id)
               VALUES ($1, $2, $3, $4) ON CONFLICT (registration_id) DO NOTHING""",
            uuid.UUID(registration_id),
            officer.posko_id,
            officer.id,
            batch_id,
        )

    async def already_submitted(
        self, posko_id: uuid.UUID, registration_ids: Sequence[str]
    ) -> set[str]:
        if not registration_ids:
            return set()
        rows = await self._pool.fetch(
            """SELECT registration_id FROM assisted_submissions
                WHERE posko_id = $1 AND registration_id = ANY($2::uuid[])""",
            posko_id,
            [uuid.UUID(r) for r in registration_ids],
        )
        return {str(r["registration_id"]) for r in rows}

    async def submitted_nik(self, posko_id: uuid.UUID, nik_hash: str) -> str | None:
        holders = await registrations_of_nik(self._pool, nik_hash)
        ours = await self.already_submitted(posko_id, [str(h) for h in holders])
        return min(ours, default=None)


async def list_submissions(
    pool: asyncpg.Pool, posko_id: uuid.UUID, before: datetime | None, limit: int
) -> list[Submission]:
    rows = await pool.fetch(
        """SELECT registration_id, officer_id, batch_id, submitted_at
             FROM assisted_submissions
            WHERE posko_id = $1 AND ($2::timestamptz IS NULL OR submitted_at < $2)
            ORDER BY submitted_at DESC
            LIMIT $3""",
        posko_id,
        before,
        limit,
    )
    return [
        Submission(r["registration_id"], r["officer_id"], r["batch_id"], r["submitted_at"])
        for r in rows
    ]


# -- Batches --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewBatchRow:
    row_number: int
    outcome: str  # pending | invalid
    problems: tuple[FieldProblem, ...]
    idempotency_key: str | None
    request: AssistedRegistrationRequest | None


def _row_binding(batch_id: uuid.UUID, row_number: int) -> str:
    return f"assisted-batch:{batch_id}:{row_number}"


async def create_batch(
    pool: asyncpg.Pool,
    cipher: PiiCipher,
    batch_id: uuid.UUID,
    officer: Officer,
    content_sha256: str,
    rows: Sequence[NewBatchRow],
) -> None:
    """The batch and every row in one transaction; valid rows carry their sealed payload."""
    payloads = [
        cipher.seal(row.request.model_dump_json().encode(), _row_binding(batch_id, row.row_number))
        if row.request is not None
        else None
        for row in rows
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO assisted_batches (id, posko_id, officer_id, content_sha256, total_rows,
                                             state)
               VALUES ($1, $2, $3, $4, $5, 'processing')""",
            batch_id,
            officer.posko_id,
            officer.id,
            content_sha256,
            len(rows),
        )
        await conn.execute(
            """INSERT INTO assisted_batch_rows (batch_id, row_number, outcome, errors,
                                                idempotency_key, payload)
               SELECT $1, n, o, e::jsonb, k, p
                 FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
                      AS i(n, o, e, k, p)""",
            batch_id,
            [r.row_number for r in rows],
            [r.outcome for r in rows],
            [_problems_json(r.problems) for r in rows],
            [r.idempotency_key for r in rows],
            payloads,
        )
        await _audit(conn, officer.id, officer.posko_id, "batch.upload", None)


def _problems_json(problems: Sequence[FieldProblem]) -> str:
    return json.dumps([{"field": p.field, "code": p.code} for p in problems])


class PostgresBatchStore:
    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    async def pending_rows(self, batch_id: uuid.UUID) -> list[PendingRow]:
        rows = await self._pool.fetch(
            """SELECT row_number, idempotency_key, payload FROM assisted_batch_rows
                WHERE batch_id = $1 AND outcome = 'pending' ORDER BY row_number""",
            batch_id,
        )
        out: list[PendingRow] = []
        for r in rows:
            raw = self._cipher.open(r["payload"], _row_binding(batch_id, r["row_number"]))
            request = AssistedRegistrationRequest.model_validate_json(raw)
            out.append(PendingRow(r["row_number"], r["idempotency_key"], request))
        return out

    async def settle(self, batch_id: uuid.UUID, settled: RowSettled) -> None:
        # The sealed payload goes once the row is settled: nothing personal stays behind.
        await self._pool.execute(
            """UPDATE assisted_batch_rows
                  SET outcome = $3, errors = $4::jsonb, registration_id = $5, payload = NULL
                WHERE batch_id = $1 AND row_number = $2""",
            batch_id,
            settled.row_number,
            settled.outcome,
            _problems_json(settled.problems),
            uuid.UUID(settled.registration_id) if settled.registration_id else None,
        )

    async def finish(self, batch_id: uuid.UUID) -> None:
        await self._pool.execute(
            """UPDATE assisted_batches SET state = 'done', finished_at = now()
                WHERE id = $1 AND state <> 'done'""",
            batch_id,
        )


@dataclass(frozen=True)
class BatchRow:
    id: uuid.UUID
    posko_id: uuid.UUID
    officer_id: uuid.UUID
    state: str
    created_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]


async def fetch_batch(pool: asyncpg.Pool, batch_id: uuid.UUID) -> BatchRow | None:
    row = await pool.fetchrow(
        """SELECT id, posko_id, officer_id, state, created_at, finished_at, total_rows
             FROM assisted_batches WHERE id = $1""",
        batch_id,
    )
    if row is None:
        return None
    counts = {
        r["outcome"]: int(r["n"])
        for r in await pool.fetch(
            """SELECT outcome, count(*) AS n FROM assisted_batch_rows WHERE batch_id = $1
                GROUP BY outcome""",
            batch_id,
        )
    }
    counts["total"] = int(row["total_rows"])
    return BatchRow(
        row["id"],
        row["posko_id"],
        row["officer_id"],
        row["state"],
        row["created_at"],
        row["finished_at"],
        counts,
    )


@dataclass(frozen=True)
class RowProblems:
    row_number: int
    outcome: str
    problems: list[FieldProblem]


async def batch_problems(pool: asyncpg.Pool, batch_id: uuid.UUID) -> list[RowProblems]:
    rows = await pool.fetch(
        """SELECT row_number, outcome, errors FROM assisted_batch_rows
            WHERE batch_id = $1 AND outcome IN ('invalid', 'rejected', 'failed')
            ORDER BY row_number""",
        batch_id,
    )
    return [
        RowProblems(
            r["row_number"],
            r["outcome"],
            [FieldProblem(e["field"], e["code"]) for e in json.loads(r["errors"])],
        )
        for r in rows
    ]


async def unfinished_batches(pool: asyncpg.Pool) -> list[tuple[uuid.UUID, Officer]]:
    """Batches a previous run of this service did not finish (it stopped or crashed)."""
    rows = await pool.fetch(
        """SELECT b.id, o.id AS officer_id, o.posko_id, o.name
             FROM assisted_batches b JOIN officers o ON o.id = b.officer_id
            WHERE b.state = 'processing' ORDER BY b.created_at"""
    )
    return [(r["id"], Officer(r["officer_id"], r["posko_id"], r["name"])) for r in rows]

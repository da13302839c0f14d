"""Batched writes against the real Postgres. NIK answers: outcomes settled as one at a time
did, their events in the outbox in order, retries rescheduled, a batch stored twice changing
nothing the second time. Contact messages: a round stored in one transaction, no "contact
pending" step for a case settled meanwhile.

Each test runs in a transaction that is rolled back, and its cases are not due for an hour: the
running workers never see them, and nothing reaches the outbox relay.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gelombang.events import decode_event
from services.verification.repository import PostgresCases, record_contacts
from services.verification.service import (
    ContactRetry,
    ContactSent,
    NikChecked,
    NikRetry,
    progressed,
    record_nik_checks,
    step_event_id,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[Any]:
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


class OneConnection:
    """A pool of the test's connection, so that a function that acquires one stays inside the
    test's transaction (its own transaction becomes a savepoint)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def acquire(self) -> Any:
        conn = self._conn

        class Acquired:
            async def __aenter__(self) -> Any:
                return conn

            async def __aexit__(self, *_: object) -> None:
                return None

        return Acquired()


async def new_case(conn: Any, contact_state: str) -> uuid.UUID:
    registration_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO verification_cases (registration_id, nik_hash, pii, province_code,
               regency_code, employment_status, receives_social_aid, channel, contact_method,
               contact_state, contact_next_at, contact_expires_at, nik_next_at)
           VALUES ($1, $2, 'sealed', '35', '3578', 'laid_off', false, 'api', 'email', $3,
                   now() + interval '1 hour', now() + interval '2 days',
                   now() + interval '1 hour')""",
        registration_id,
        secrets.token_hex(32),
        contact_state,
    )
    return registration_id


async def case(conn: Any, registration_id: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(
        """SELECT nik_state, nik_attempts, nik_last_error, outcome, outcome_reason,
                  nik_next_at > now() + interval '50 seconds' AS later
             FROM verification_cases WHERE registration_id = $1""",
        registration_id,
    )
    return dict(row)


async def outbox(conn: Any, *registration_ids: uuid.UUID) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        """SELECT event_type, payload FROM verification_outbox
            WHERE message_key = ANY($1::bytea[]) ORDER BY id""",
        [str(r).encode() for r in registration_ids],
    )
    events = [decode_event(r["event_type"], r["payload"]) for r in rows]
    return [(str(getattr(e, "registration_id", "")), e.event_type) for e in events]


async def test_one_batch_settles_reschedules_and_queues_events_in_order(conn: Any) -> None:
    both = await new_case(conn, "confirmed")  # NIK verified now: the case is verified
    waiting = await new_case(conn, "sent")  # NIK verified, contact still open: only a step
    mismatch = await new_case(conn, "sent")  # rejected at once
    failed = await new_case(conn, "sent")  # the registry gave no answer
    held = await new_case(conn, "sent")  # not called: the registry had asked us to wait
    await conn.execute(
        "UPDATE verification_cases SET nik_attempts = 2 WHERE registration_id = ANY($1)",
        [failed, held],
    )

    settled = await record_nik_checks(
        PostgresCases(conn),
        [
            NikChecked(both, "verified"),
            NikChecked(waiting, "verified"),
            NikChecked(mismatch, "mismatch"),
        ],
        [NikRetry(failed, 60.0, "http_500"), NikRetry(held, 60.0, "held_off", tried=False)],
    )

    assert sorted((str(e.registration_id), e.event_type) for e in settled) == sorted(
        [(str(both), "RegistrationVerified"), (str(mismatch), "RegistrationRejected")]
    )
    assert {e.event_id for e in settled} == {
        step_event_id(both, "verified"),
        step_event_id(mismatch, "rejected"),
    }
    assert await case(conn, both) == {
        "nik_state": "verified",
        "nik_attempts": 1,
        "nik_last_error": None,
        "outcome": "verified",
        "outcome_reason": None,
        "later": True,
    }
    assert (await case(conn, waiting))["outcome"] is None
    assert (await case(conn, mismatch))["outcome_reason"] == "nik_data_mismatch"
    assert await case(conn, failed) == {
        "nik_state": "pending",
        "nik_attempts": 3,
        "nik_last_error": "http_500",
        "outcome": None,
        "outcome_reason": None,
        "later": True,
    }
    assert (await case(conn, held))["nik_attempts"] == 2  # not an attempt
    assert (await case(conn, held))["nik_last_error"] == "held_off"

    # The step before the outcome, per case; nothing for the retries.
    queued = await outbox(conn, both, waiting, mismatch, failed, held)
    assert [t for r, t in queued if r == str(both)] == [
        "RegistrationProgressed",
        "RegistrationVerified",
    ]
    assert [t for r, t in queued if r == str(waiting)] == ["RegistrationProgressed"]
    assert [t for r, t in queued if r == str(mismatch)] == ["RegistrationRejected"]
    assert len(queued) == 4
    # The read model lists a person's history by the events' occurred_at: the step must not be
    # stamped after the outcome it leads to (the status page showed "nik_verified" last).
    stamped = await conn.fetch(
        "SELECT event_type, payload FROM verification_outbox WHERE message_key = $1 ORDER BY id",
        str(both).encode(),
    )
    step, outcome = (decode_event(r["event_type"], r["payload"]) for r in stamped)
    assert step.occurred_at <= outcome.occurred_at


async def test_a_batch_stored_again_changes_nothing(conn: Any) -> None:
    first = await new_case(conn, "confirmed")
    second = await new_case(conn, "sent")
    batch = [NikChecked(first, "verified"), NikChecked(second, "not_found")]
    assert len(await record_nik_checks(PostgresCases(conn), batch, [])) == 2
    before = [await case(conn, first), await case(conn, second)]

    # Again, and a late retry of the same cases (a lease that ran out meanwhile).
    again = await record_nik_checks(PostgresCases(conn), batch, [NikRetry(first, 1.0, "http_500")])

    assert again == []
    assert [await case(conn, first), await case(conn, second)] == before
    assert len(await outbox(conn, first, second)) == 3  # step + verified, rejected: once each


async def test_a_round_of_contact_messages_is_stored_in_one_go(conn: Any) -> None:
    emailed = await new_case(conn, "unsent")
    settled = await new_case(conn, "unsent")  # rejected by its NIK check while the mail went
    failed = await new_case(conn, "unsent")
    await conn.execute(
        "UPDATE verification_cases SET outcome = 'rejected' WHERE registration_id = $1", settled
    )

    def sent(registration_id: uuid.UUID) -> ContactSent:
        return ContactSent(
            registration_id, "email", progressed(registration_id, "contact_pending", "email")
        )

    await record_contacts(
        OneConnection(conn),
        [sent(emailed), sent(settled)],
        [ContactRetry(failed, 60.0, "SMTPServerDisconnected")],
    )
    # Again: the same round stored twice changes nothing.
    await record_contacts(OneConnection(conn), [sent(emailed)], [])

    rows = {
        r["registration_id"]: dict(r)
        for r in await conn.fetch(
            """SELECT registration_id, contact_state, contact_sends, contact_last_error,
                      contact_next_at > now() + interval '50 seconds' AS later
                 FROM verification_cases WHERE registration_id = ANY($1)""",
            [emailed, settled, failed],
        )
    }
    assert rows[emailed]["contact_state"] == "sent" and rows[emailed]["contact_sends"] == 1
    assert rows[settled]["contact_state"] == "sent"
    assert rows[failed]["contact_state"] == "unsent"
    assert rows[failed]["contact_last_error"] == "SMTPServerDisconnected"
    assert rows[failed]["later"] is True
    assert await outbox(conn, emailed, settled, failed) == [
        (str(emailed), "RegistrationProgressed")
    ]

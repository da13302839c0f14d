"""One NIK, one registration, decided from the log (issue 14), against the real stack.

The edge's Redis reservation is only a hint: these tests take it away (Redis emptied, the
projector behind, a killed process's leftover, a publish that timed out) and check what a person
and ops would notice: the second attempt is refused by the decider, gets no message, no case and
no seat; a rejection that says "register again" lets the person in again.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from gelombang.pii import PiiCipher
from gelombang.settings import REPO_ROOT
from loadtests.processes import registration_api, stopped
from services.registration.fast_path import NIK_RESERVATION_TTL_S
from testkit.simulators.mail_sink import find_messages
from tests.citizens import registry_person, valid_payload
from tests.integration.conftest import eventually, status_of

pytestmark = pytest.mark.integration

MAILDIR = REPO_ROOT / ".run" / "mail"


async def sign_up(
    api: httpx.AsyncClient, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post("/api/v1/registrations", json=body, headers=headers)


# A live registration waits for its contact check; the NIK check often passes first.
LIVE = ("contact_pending", "nik_verified")


async def settled_as(
    api: httpx.AsyncClient,
    accepted: dict[str, str],
    status: str | tuple[str, ...],
    timeout_s: float = 90,
) -> dict[str, Any]:
    wanted = (status,) if isinstance(status, str) else status

    async def probe() -> dict[str, Any] | None:
        found = await status_of(api, accepted)
        return found if found is not None and found["status"] in wanted else None

    return await eventually(probe, timeout_s=timeout_s)


async def rows(pool: asyncpg.Pool, table: str, registration_id: str) -> int:
    # The table name comes from this file, never from input.
    count: int = await pool.fetchval(
        f"SELECT count(*) FROM {table} WHERE registration_id = $1",  # noqa: S608
        uuid.UUID(registration_id),
    )
    return count


async def test_a_repeat_that_got_past_the_edge_is_refused_by_the_log_and_never_worked_on(
    api: httpx.AsyncClient, pool: asyncpg.Pool, redis_client: aioredis.Redis, cipher: PiiCipher
) -> None:
    first_body = registry_person(email=True)
    first = await sign_up(api, first_body, key=f"it-{uuid.uuid4()}")
    assert first.status_code == 202, first.text
    # A live registration: its NIK check passes and it waits for the email link.
    await settled_as(api, first.json(), LIVE)

    async def first_mail() -> bool | None:
        return True if find_messages(MAILDIR, first_body["email"]) else None

    await eventually(first_mail, timeout_s=90)
    nik_key = f"nik:{cipher.nik_hash(first_body['nik'])}"

    # The edge's friendly answer while Redis holds the decider's hint (no expiry).
    assert await redis_client.ttl(nik_key) == -1
    other_email = {**first_body, "email": f"again.{uuid.uuid4().hex[:10]}@example.id"}
    refused = await sign_up(api, other_email, key=f"it-{uuid.uuid4()}")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "nik_already_registered"

    # The read model behind and Redis empty: the edge cannot know, and takes the attempt.
    with stopped("projector", at_most_s=60):
        await redis_client.flushdb()
        repeat = await sign_up(api, other_email, key=f"it-{uuid.uuid4()}")
        assert repeat.status_code == 202, repeat.text

    duplicate = await settled_as(api, repeat.json(), "rejected")
    [rejection] = [h for h in duplicate["history"] if h["status"] == "rejected"]
    assert rejection["reason"] == "duplicate"
    assert "first" in rejection["message"]  # points to the first registration's status link
    # The first registration is untouched, and the hint is warm again.
    assert (await status_of(api, first.json()) or {}).get("status") in LIVE
    async def hint() -> bytes | str | None:
        value: bytes | str | None = await redis_client.get(nik_key)
        return value

    assert await eventually(hint) == first.json()["registration_id"].encode()

    # Nothing downstream acted on it: no case, no message, no place in the pool. Verification
    # reads the accepted topic after the decider, so give it time to have done something.
    later = await sign_up(api, registry_person(email=True))
    await settled_as(api, later.json(), LIVE)
    repeat_id = repeat.json()["registration_id"]
    assert await rows(pool, "verification_cases", repeat_id) == 0
    assert await rows(pool, "selection_pool", repeat_id) == 0
    assert find_messages(MAILDIR, other_email["email"]) == []
    final = await status_of(api, repeat.json())
    assert final is not None and [h["status"] for h in final["history"]] == [
        "submitted",
        "rejected",
    ]


async def test_a_rejection_that_says_register_again_lets_the_person_in_again(
    api: httpx.AsyncClient,
) -> None:
    # A test citizen the registry does not know: rejected as "NIK not found, register again".
    body = valid_payload()
    first = await sign_up(api, body)
    assert first.status_code == 202
    rejected = await settled_as(api, first.json(), "rejected")
    assert rejected["history"][-1]["reason"] in {"nik_not_found", "nik_data_mismatch"}

    async def accepted_again() -> httpx.Response | None:
        again = await sign_up(api, {**body, "full_name": "Budi Uji Santosa"})
        if again.status_code == 503:  # the decider is still giving the NIK back
            assert again.json()["errors"][0]["code"] == "nik_check_pending"
            assert again.headers["Retry-After"]
            return None
        return again

    again = await eventually(accepted_again, every_s=0.5)
    assert again.status_code == 202, again.text
    second = await eventually(lambda: status_of(api, again.json()))
    # Accepted by the log this time: it is worked on (and rejected again on its own merits).
    assert "duplicate" not in {h["reason"] for h in second["history"]}
    await settled_as(api, again.json(), "rejected")
    final = await status_of(api, again.json())
    assert final is not None
    assert {h["reason"] for h in final["history"]} - {None} <= {
        "nik_not_found",
        "nik_data_mismatch",
    }


async def test_a_reservation_left_by_a_killed_process_is_taken_over_once_it_is_stale(
    api: httpx.AsyncClient, redis_client: aioredis.Redis, cipher: PiiCipher
) -> None:
    # A process killed between reserve and publish leaves `nik:<hash>` holding an id that
    # nothing in the log knows. Fresh, it could still be on its way: 409. Stale: taken over.
    body = registry_person(email=True)
    nik_key = f"nik:{cipher.nik_hash(body['nik'])}"
    ghost = str(uuid.uuid4())
    await redis_client.set(nik_key, ghost, ex=NIK_RESERVATION_TTL_S - 2)
    assert (await sign_up(api, body)).status_code == 409
    await redis_client.set(nik_key, ghost, ex=NIK_RESERVATION_TTL_S - 60)
    taken = await sign_up(api, body)
    assert taken.status_code == 202, taken.text
    await settled_as(api, taken.json(), LIVE)


async def test_a_publish_that_timed_out_keeps_the_nik_and_the_retry_is_the_same_registration(
    api: httpx.AsyncClient, pool: asyncpg.Pool, redis_client: aioredis.Redis, cipher: PiiCipher
) -> None:
    # An API process that gives Kafka 1 ms: it answers 503, though aiokafka may still deliver
    # the record it stopped waiting for. The retry with the same key must be the same person.
    body = registry_person(email=True)
    key = f"it-{uuid.uuid4()}"
    impatient_api = registration_api(
        "registration-it-timeout", {"GELOMBANG_PRODUCE_TIMEOUT_S": "0.001"}
    )
    with impatient_api as base:
        async with httpx.AsyncClient(base_url=base, timeout=15) as impatient:
            timed_out = await sign_up(impatient, body, key=key)
    assert timed_out.status_code == 503, timed_out.text
    assert timed_out.headers["Retry-After"]
    nik_hash = cipher.nik_hash(body["nik"])
    held_by = await redis_client.get(f"nik:{nik_hash}")
    assert isinstance(held_by, bytes)  # kept: the record may have landed after all

    retry = await sign_up(api, body, key=key)
    assert retry.status_code == 202, retry.text
    assert retry.json()["registration_id"] == held_by.decode()
    await settled_as(api, retry.json(), LIVE)
    # Another attempt without the key is another registration: refused at the edge.
    assert (await sign_up(api, body)).status_code == 409
    count: int = await pool.fetchval(
        "SELECT count(*) FROM registrations WHERE nik_hash = $1", nik_hash
    )
    assert count == 1


def test_a_rebuild_from_the_log_gives_the_same_decisions_and_statuses() -> None:
    # By now the log holds accepted sign-ups, duplicates past the edge, releases and parked
    # poison records from the tests before this one: the rebuild must decide all of it alike.
    schema = f"replay_it_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-m", "services.registration", "replay", "--schema", schema],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same decisions as live" in done.stdout
    assert "verdicts that differ from the live ones: 0" in done.stdout
    rebuilt = int(done.stdout.split("registrations rebuilt:")[1].split()[0].replace(",", ""))
    assert rebuilt > 0

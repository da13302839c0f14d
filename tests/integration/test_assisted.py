"""Assisted registration (posko officers) against the running assisted service, Kafka, Postgres,
the projector, the verification workers and the civil-registry simulator."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gelombang.pii import PiiCipher
from gelombang.settings import REPO_ROOT
from services.assisted.schemas import AssistedRegistrationRequest
from services.assisted.service import REQUIRED_COLUMNS
from services.assisted.settings import AssistedSettings
from testkit import posko_client
from tests.citizens import walk_in
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

ASSISTED = "http://127.0.0.1:8010"
GATEWAY = "http://127.0.0.1:8080"
PUBLIC_API = "http://127.0.0.1:8000"
REGISTRATIONS = "/api/v1/assisted/registrations"
BATCHES = "/api/v1/assisted/batches"
# The columns a file must have, and two of the optional ones the walk-ins here carry.
COLUMNS = (*REQUIRED_COLUMNS, "gender", "phone")


@dataclass(frozen=True)
class Officer:
    id: str
    posko_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


MakeOfficer = Callable[..., Awaitable[Officer]]


@pytest.fixture
async def assisted() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ASSISTED, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {AssistedSettings().effective_admin_token}"}


@pytest.fixture
def new_officer(assisted: httpx.AsyncClient, admin_headers: dict[str, str]) -> MakeOfficer:
    async def make(posko_id: str | None = None) -> Officer:
        if posko_id is None:
            response = await assisted.post(
                "/api/v1/assisted/admin/posko",
                headers=admin_headers,
                json={
                    "name": "Posko Disnaker Surabaya",
                    "province_code": "35",
                    "regency_code": "3578",
                },
            )
            assert response.status_code == 201, response.text
            posko_id = str(response.json()["id"])
        response = await assisted.post(
            "/api/v1/assisted/admin/officers",
            headers=admin_headers,
            json={"posko_id": posko_id, "name": "Petugas Uji"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Officer(body["officer"]["id"], posko_id, body["api_key"])

    return make


def csv_of(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


async def listed(client: httpx.AsyncClient, officer: Officer) -> dict[str, dict[str, Any]]:
    response = await client.get(REGISTRATIONS, headers=officer.headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return {item["registration_id"]: item for item in response.json()["items"]}


async def finished_batch(client: httpx.AsyncClient, officer: Officer, batch_id: str) -> Any:
    async def probe() -> Any:
        response = await client.get(f"{BATCHES}/{batch_id}", headers=officer.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["state"] == "done" else None

    return await eventually(probe, timeout_s=60, every_s=0.3)


async def test_officer_key_is_required_and_scoped_to_its_posko(
    assisted: httpx.AsyncClient,
    new_officer: MakeOfficer,
    admin_headers: dict[str, str],
    pool: asyncpg.Pool,
) -> None:
    person = walk_in()
    # Through the gateway, as a posko laptop would: no key, a made-up key, a body that is not
    # even valid — all 401, so a caller without a key learns nothing about the rules.
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=15) as gateway:
        for headers in ({}, {"Authorization": "Bearer gpk_made-up"}, {"Authorization": "Basic x"}):
            response = await gateway.post(REGISTRATIONS, json=person, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["errors"][0]["code"] == "officer_unauthorized"
        assert (await gateway.post(REGISTRATIONS, json={"nik": "1"})).status_code == 401
        assert (await gateway.get(REGISTRATIONS)).status_code == 401
        assert (
            await gateway.post(BATCHES, content=b"nik\n1", headers={"Content-Type": "text/csv"})
        ).status_code == 401
        wrong_admin = {"Authorization": "Bearer not-the-admin-token"}
        response = await gateway.post(
            "/api/v1/assisted/admin/officers",
            headers=wrong_admin,
            json={"posko_id": str(uuid.uuid4()), "name": "x"},
        )
        assert response.status_code == 401

    officer = await new_officer()
    colleague = await new_officer(officer.posko_id)
    stranger = await new_officer()

    response = await assisted.post(REGISTRATIONS, json=person, headers=officer.headers)
    assert response.status_code == 202, response.text
    registration_id = response.json()["registration_id"]

    # A colleague at the same posko sees it; an officer of another posko does not.
    assert registration_id in await listed(assisted, colleague)
    assert registration_id not in await listed(assisted, stranger)
    batch = await assisted.post(
        BATCHES,
        content=csv_of([walk_in()]),
        headers={**officer.headers, "Content-Type": "text/csv"},
    )
    assert batch.status_code == 202, batch.text
    batch_id = batch.json()["batch_id"]
    for path in (f"{BATCHES}/{batch_id}", f"{BATCHES}/{batch_id}/errors.csv"):
        assert (await assisted.get(path, headers=stranger.headers)).status_code == 404
        assert (await assisted.get(path, headers=colleague.headers)).status_code == 200

    # The key is stored only as its hash.
    stored = await pool.fetchrow(
        "SELECT api_key_hash FROM officers WHERE id = $1", uuid.UUID(officer.id)
    )
    assert stored is not None
    assert stored["api_key_hash"] == hashlib.sha256(officer.key.encode()).hexdigest()

    # The audit log names the officer and the registration id, and nothing personal.
    audit = await pool.fetch(
        "SELECT * FROM audit_log WHERE officer_id = $1 ORDER BY id", uuid.UUID(officer.id)
    )
    actions = [row["action"] for row in audit]
    assert "admin.issue_key" in actions and "registration.submit" in actions
    assert "batch.upload" in actions
    assert uuid.UUID(registration_id) in {row["registration_id"] for row in audit}
    dumped = repr([dict(row) for row in audit])
    for personal in (person["nik"], person["full_name"], person["nik"][-4:] + person["birth_date"]):
        assert personal not in dumped

    # Revoked: refused at once, by the admin API as by the CLI.
    response = await assisted.post(
        f"/api/v1/assisted/admin/officers/{officer.id}/revoke", headers=admin_headers
    )
    assert response.status_code == 200 and response.json()["active"] is False
    response = await assisted.post(REGISTRATIONS, json=walk_in(), headers=officer.headers)
    assert response.status_code == 401
    assert (await assisted.get(REGISTRATIONS, headers=colleague.headers)).status_code == 200


async def test_same_person_twice_is_one_registration_and_attestation_is_required(
    assisted: httpx.AsyncClient, new_officer: MakeOfficer
) -> None:
    officer = await new_officer()
    person = walk_in()
    first = await assisted.post(REGISTRATIONS, json=person, headers=officer.headers)
    again = await assisted.post(REGISTRATIONS, json=person, headers=officer.headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # The same person with other details from the same posko: a duplicate, said as such.
    changed = await assisted.post(
        REGISTRATIONS, json={**person, "employment_status": "job_seeker"}, headers=officer.headers
    )
    assert changed.status_code == 409
    assert changed.json()["errors"][0]["code"] == "nik_already_registered"

    response = await assisted.post(
        REGISTRATIONS,
        json=walk_in(attested_id_card_seen=False),
        headers={**officer.headers, "Accept-Language": "en"},
    )
    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem["field"] == "attested_id_card_seen"
    assert problem["code"] == "attestation_required"
    assert "ID card" in problem["message"]


async def test_bulk_upload_reports_bad_rows_and_reupload_changes_nothing(
    assisted: httpx.AsyncClient, new_officer: MakeOfficer, pool: asyncpg.Pool, cipher: PiiCipher
) -> None:
    officer = await new_officer()
    good = [walk_in() for _ in range(6)]
    good[0]["phone"] = "+6281234567890"
    bad_nik = walk_in(nik="12345")
    no_attest = walk_in(attested_id_card_seen=False)
    rows = [good[0], bad_nik, good[1], good[2], no_attest, good[3], dict(good[1]), good[4], good[5]]
    data = csv_of(rows)
    # A row with a missing cell (row 11 in the spreadsheet).
    data += b"3578011705900001,Budi\r\n"
    headers = {**officer.headers, "Content-Type": "text/csv", "Accept-Language": "en"}

    response = await assisted.post(BATCHES, content=data, headers=headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["total_rows"] == 10 and accepted["invalid_rows"] == 4
    progress = await finished_batch(assisted, officer, accepted["batch_id"])
    assert progress["counts"]["accepted"] == 6
    assert progress["counts"]["invalid"] == 4
    assert progress["counts"]["pending"] == 0

    report = await assisted.get(accepted["errors_url"].replace(GATEWAY, ASSISTED), headers=headers)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    by_row = {(int(line["row"]), line["code"]) for line in lines}
    assert (3, "nik_format") in by_row
    assert (6, "attestation_required") in by_row
    assert (8, "nik_duplicate_in_file") in by_row
    assert (11, "csv_row_width") in by_row
    assert {int(line["row"]) for line in lines} == {3, 6, 8, 11}
    assert all(line["message"] for line in lines)
    # No personal data in the report: only rows, fields and reasons.
    assert good[1]["nik"] not in report.text and bad_nik["full_name"] not in report.text

    before = await listed(assisted, officer)
    assert len(before) == 6
    assert all(item["channel"] in ("assisted", None) for item in before.values())

    # The same file again, as an officer who was not sure the first upload went through.
    response = await assisted.post(BATCHES, content=data, headers=headers)
    assert response.status_code == 202, response.text
    again = await finished_batch(assisted, officer, response.json()["batch_id"])
    assert again["counts"]["accepted"] == 0
    assert again["counts"]["already_submitted"] == 6
    assert again["counts"]["invalid"] == 4
    after = await listed(assisted, officer)
    # Same registrations, still from the first batch (statuses may have moved on meanwhile).
    assert {k: (v["batch_id"], v["submitted_at"]) for k, v in after.items()} == {
        k: (v["batch_id"], v["submitted_at"]) for k, v in before.items()
    }

    async def projected() -> int | None:
        count = await pool.fetchval(
            "SELECT count(*) FROM registrations WHERE nik_hash = ANY($1::text[])",
            [cipher.nik_hash(p["nik"]) for p in good],
        )
        return int(count) if count == 6 else None

    assert await eventually(projected, timeout_s=20) == 6


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


class AnswerLost(httpx.BaseTransport):
    """Delivers the request, then drops the answer: the server did the work, the laptop never
    heard back."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._real.handle_request(request).close()
        raise httpx.ReadTimeout("answer lost", request=request)


async def test_offline_client_queues_then_syncs_with_the_same_keys(
    tmp_path: Path, new_officer: MakeOfficer, capsys: pytest.CaptureFixture[str]
) -> None:
    officer = await new_officer()
    taken = walk_in(email="sudah@example.id")
    public_body = {k: v for k, v in taken.items() if k != "attested_id_card_seen"}
    async with httpx.AsyncClient(base_url=PUBLIC_API, timeout=15) as public:
        response = await public.post("/api/v1/registrations", json=public_body)
        assert response.status_code == 202, response.text
    # The client is synchronous (a laptop CLI); run it off the test's event loop.
    await asyncio.to_thread(_offline_then_online, tmp_path / "posko.sqlite", officer, taken)

    code = posko_client.main(
        ["--db", str(tmp_path / "posko.sqlite"), "--lang", "en", "status", "--offline"]
    )
    shown = capsys.readouterr().out
    assert code == 0
    assert "pending 0  sent 0  accepted 2  rejected 1" in shown
    assert "nik_already_registered" in shown and "already registered" in shown
    assert taken["nik"] not in shown


def _offline_then_online(db: Path, officer: Officer, taken: dict[str, Any]) -> None:
    queue = posko_client.Queue(db)
    people = [walk_in(), walk_in(), taken]
    entries = [queue.add(AssistedRegistrationRequest.model_validate(p)) for p in people]
    auth = officer.headers

    # Offline: nothing listens; everything stays pending.
    with httpx.Client(base_url=f"http://127.0.0.1:{closed_port()}", headers=auth) as down:
        report = posko_client.sync(queue, down)
    assert report.stopped == "offline" and report.accepted == 0
    assert [e.state for e in queue.entries()] == ["pending"] * 3

    # The connection comes back but the first answer is lost on the way: "sent", not accepted.
    with httpx.Client(base_url=ASSISTED, headers=auth, transport=AnswerLost()) as flaky:
        report = posko_client.sync(queue, flaky)
    assert report.stopped == "offline"
    assert queue.get(entries[0].id).state == "sent"

    with httpx.Client(base_url=ASSISTED, headers=auth) as online:
        report = posko_client.sync(queue, online)
        assert (report.accepted, report.rejected, report.stopped) == (2, 1, None)
        first, second, refused = (queue.get(e.id) for e in entries)
        assert first.state == second.state == "accepted"
        assert first.payload is None  # personal data leaves the laptop once accepted
        assert refused.state == "rejected"
        assert [r.code for r in refused.reasons] == ["nik_already_registered"]

        # Syncing again sends nothing; the resent entry is one registration, not two.
        assert posko_client.sync(queue, online).accepted == 0
        ours = online.get(REGISTRATIONS, params={"limit": 500}).json()["items"]
        assert sorted(i["registration_id"] for i in ours) == sorted(
            str(e.registration_id) for e in (first, second)
        )
    queue.close()


async def test_assisted_registration_is_verified_by_the_nik_check(
    assisted: httpx.AsyncClient, new_officer: MakeOfficer, pool: asyncpg.Pool
) -> None:
    officer = await new_officer()
    # No email and no phone: the officer's attestation is the only contact evidence.
    response = await assisted.post(REGISTRATIONS, json=walk_in(), headers=officer.headers)
    assert response.status_code == 202, response.text
    accepted = response.json()

    async with httpx.AsyncClient(base_url=PUBLIC_API, timeout=15) as public:

        async def verified() -> dict[str, Any] | None:
            status = await public.get(
                f"/api/v1/registrations/{accepted['registration_id']}",
                headers={"X-Status-Token": accepted["status_token"]},
            )
            if status.status_code != 200:
                return None
            body: dict[str, Any] = status.json()
            assert body["status"] != "rejected", body
            return body if body["status"] == "verified" else None

        body = await eventually(verified, timeout_s=90, every_s=0.5)
    assert body["history"][0]["status"] == "submitted"

    # The posko's list shows the same current status.
    item = (await listed(assisted, officer))[accepted["registration_id"]]
    assert item["status"] == "verified"
    assert item["channel"] == "assisted"

    # And joins the pool for the next wave's draw like any other verified person.
    async def in_pool() -> str | None:
        channel: str | None = await pool.fetchval(
            "SELECT channel FROM selection_pool WHERE registration_id = $1",
            uuid.UUID(accepted["registration_id"]),
        )
        return channel

    assert await eventually(in_pool, timeout_s=20) == "assisted"


async def test_admin_cli_issues_and_revokes_officer_keys(
    assisted: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.assisted", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO_ROOT,
        )

    made = await asyncio.to_thread(
        cli, "create-posko", "--name", "Posko Sidoarjo", "--province", "35", "--regency", "3515"
    )
    assert made.returncode == 0, made.stderr
    posko_id = made.stdout.split()[1]
    issued = await asyncio.to_thread(
        cli, "issue-officer-key", "--posko", posko_id, "--name", "Petugas CLI"
    )
    assert issued.returncode == 0, issued.stderr
    officer_id = issued.stdout.split()[1]
    key = issued.stdout.rsplit(" ", 1)[1].strip()
    headers = {"Authorization": f"Bearer {key}"}
    assert (await assisted.get(REGISTRATIONS, headers=headers)).status_code == 200
    stored = await pool.fetchval(
        "SELECT api_key_hash FROM officers WHERE id = $1", uuid.UUID(officer_id)
    )
    assert stored == hashlib.sha256(key.encode()).hexdigest()

    revoked = await asyncio.to_thread(cli, "revoke-officer", officer_id)
    assert revoked.returncode == 0, revoked.stderr
    assert (await assisted.get(REGISTRATIONS, headers=headers)).status_code == 401

    wrong = await asyncio.to_thread(
        cli, "create-posko", "--name", "X", "--province", "35", "--regency", "3275"
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ")

"""The posko lane's rules with fake collaborators: keys, attestation, scoping, CSV batches."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from gelombang.events import RegistrationSubmitted
from gelombang.kafka import PublishFailed
from services.assisted.schemas import AssistedRegistrationRequest
from services.assisted.service import (
    AssistedCollaborators,
    BatchPolicy,
    CsvRejected,
    Officer,
    PendingRow,
    RowSettled,
    batch_row_key,
    bearer_token,
    csv_from_multipart,
    hash_api_key,
    new_api_key,
    parse_csv,
    run_batch,
    submit,
)
from services.registration.service import Accepted, AlreadyRegistered
from tests.citizens import valid_payload
from tests.unit.test_registration_service import World

HEADER = (
    "nik,full_name,birth_date,gender,province_code,regency_code,employment_status,"
    "in_formal_education,receives_social_aid,consent,attested_id_card_seen"
)


def walk_in(**overrides: Any) -> dict[str, Any]:
    body = valid_payload(email=None, phone=None, attested_id_card_seen=True)
    body.update(overrides)
    return body


def csv_line(body: dict[str, Any]) -> str:
    values = [body[c] for c in HEADER.split(",")]
    return ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


@dataclass
class FakeSubmissions:
    recorded: dict[str, tuple[uuid.UUID, uuid.UUID | None]] = field(default_factory=dict)

    async def record(
        self, registration_id: str, officer: Officer, batch_id: uuid.UUID | None
    ) -> None:
        self.recorded.setdefault(registration_id, (officer.posko_id, batch_id))

    async def already_submitted(self, posko_id: uuid.UUID, registration_ids: Any) -> set[str]:
        return {r for r in registration_ids if self.recorded.get(r, (None,))[0] == posko_id}

    async def submitted_nik(self, posko_id: uuid.UUID, nik_hash: str) -> str | None:
        return None


@dataclass
class FakeAudit:
    entries: list[tuple[uuid.UUID, str, str | None]] = field(default_factory=list)

    async def record(
        self, officer: Officer, action: str, registration_id: str | None = None
    ) -> None:
        self.entries.append((officer.id, action, registration_id))


@dataclass
class FakeBatchStore:
    pending: list[PendingRow] = field(default_factory=list)
    settled: dict[int, RowSettled] = field(default_factory=dict)
    finished: bool = False

    async def pending_rows(self, batch_id: uuid.UUID) -> list[PendingRow]:
        return [row for row in self.pending if row.row_number not in self.settled]

    async def settle(self, batch_id: uuid.UUID, settled: RowSettled) -> None:
        self.settled[settled.row_number] = settled

    async def finish(self, batch_id: uuid.UUID) -> None:
        self.finished = True


@dataclass
class Posko:
    world: World = field(default_factory=World)
    submissions: FakeSubmissions = field(default_factory=FakeSubmissions)
    audit: FakeAudit = field(default_factory=FakeAudit)
    officer: Officer = field(default_factory=lambda: Officer(uuid.uuid4(), uuid.uuid4(), "Ani"))

    @property
    def deps(self) -> AssistedCollaborators:
        return AssistedCollaborators(self.world.deps, self.submissions, self.audit)


async def no_sleep(_: float) -> None:
    return None


# -- Keys ------------------------------------------------------------------------------------


def test_officer_keys_are_random_and_only_their_hash_is_kept() -> None:
    token, stored = new_api_key()
    other, _ = new_api_key()
    assert token != other and token.startswith("gpk_") and len(token) > 40
    assert stored == hashlib.sha256(token.encode()).hexdigest() == hash_api_key(token)
    assert token not in stored


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer gpk_abc", "gpk_abc"),
        ("bearer   gpk_abc ", "gpk_abc"),
        (None, None),
        ("", None),
        ("Basic dXNlcjpwdw==", None),
        ("Bearer ", None),
        ("Bearer " + "x" * 201, None),
    ],
)
def test_only_a_bearer_token_is_a_credential(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


# -- The request -----------------------------------------------------------------------------


def test_a_walk_in_needs_no_email_or_phone_but_the_officer_must_attest() -> None:
    request = AssistedRegistrationRequest.model_validate(walk_in())
    assert request.email is None and request.phone is None
    with pytest.raises(ValidationError) as caught:
        AssistedRegistrationRequest.model_validate(walk_in(attested_id_card_seen=False))
    assert [e["type"] for e in caught.value.errors()] == ["attestation_required"]
    with pytest.raises(ValidationError):
        AssistedRegistrationRequest.model_validate(walk_in(email="not-an-email"))


# -- Single submission -----------------------------------------------------------------------


async def test_submission_is_channel_assisted_recorded_for_the_posko_and_audited() -> None:
    posko = Posko()
    request = AssistedRegistrationRequest.model_validate(walk_in())
    outcome = await submit(request, None, posko.officer, posko.deps)
    assert isinstance(outcome, Accepted)
    [(_, _, event)] = posko.world.publisher.published
    assert isinstance(event, RegistrationSubmitted)
    assert event.channel == "assisted" and not event.has_email and not event.has_phone
    assert posko.submissions.recorded == {outcome.registration_id: (posko.officer.posko_id, None)}
    assert posko.audit.entries == [
        (posko.officer.id, "registration.submit", outcome.registration_id)
    ]
    # The audit entry holds ids and an action, nothing from the person.
    assert request.nik not in repr(posko.audit.entries)

    again = await submit(request, None, posko.officer, posko.deps)
    assert isinstance(again, Accepted) and again.replayed
    assert again.registration_id == outcome.registration_id
    # A replay is published again (its first publish may have failed); the log keeps one.
    decided = posko.world.registrations_decided()
    assert [str(a.registration_id) for a in decided.accepted] == [outcome.registration_id]


async def test_a_client_key_is_scoped_to_the_posko() -> None:
    posko = Posko()
    other = Officer(uuid.uuid4(), uuid.uuid4(), "Budi")
    request = AssistedRegistrationRequest.model_validate(walk_in())
    ours = await submit(request, "same-key", posko.officer, posko.deps)
    theirs = await submit(request, "same-key", other, posko.deps)
    assert isinstance(ours, Accepted)
    # Another post using the same key string does not get our answer (nor our status token):
    # the person is already registered, so it is a duplicate.
    assert isinstance(theirs, AlreadyRegistered)
    assert "registration.refused_duplicate" in [a for _, a, _ in posko.audit.entries]


async def test_submission_failing_in_kafka_records_nothing() -> None:
    posko = Posko()
    posko.world.publisher.failing = True
    request = AssistedRegistrationRequest.model_validate(walk_in())
    with pytest.raises(PublishFailed):
        await submit(request, None, posko.officer, posko.deps)
    assert posko.submissions.recorded == {} and posko.audit.entries == []


# -- CSV -------------------------------------------------------------------------------------


def test_csv_rows_are_validated_one_by_one_with_spreadsheet_row_numbers() -> None:
    good, twin = walk_in(), walk_in()
    bad_nik = walk_in(nik="123")
    lines = [HEADER, csv_line(good), csv_line(bad_nik), "", csv_line(twin), csv_line(good)]
    lines.append("3578011705900001,Budi")
    rows = parse_csv("\r\n".join(lines).encode(), max_rows=100)
    summary = {row.row_number: [p.code for p in row.problems] for row in rows}
    assert summary == {
        2: [],
        3: ["nik_format"],
        5: [],
        6: ["nik_duplicate_in_file"],
        7: ["csv_row_width"],
    }
    assert rows[0].request is not None and rows[0].request.nik == good["nik"]


def test_csv_from_an_indonesian_excel_reads_the_same() -> None:
    # Excel in an Indonesian locale: BOM, ";" separator, "ya"/"tidak" for booleans.
    body = walk_in()
    line = csv_line(body).replace(",", ";").replace("false", "tidak").replace("true", "ya")
    data = ("\ufeff" + HEADER.replace(",", ";") + "\n" + line + "\n").encode()
    [row] = parse_csv(data, max_rows=10)
    assert row.request is not None and row.request.attested_id_card_seen is True


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "csv_empty"),
        (HEADER.encode(), "csv_empty"),
        (b"nik,full_name\n1,2", "csv_missing_column"),
        ((HEADER + ",shoe_size\n").encode(), "csv_unknown_column"),
        ((HEADER + ",nik\n").encode(), "csv_duplicate_column"),
        ("nik\n\xe9".encode("latin-1"), "csv_encoding"),
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_refused(data: bytes, code: str) -> None:
    with pytest.raises(CsvRejected) as caught:
        parse_csv(data, max_rows=10)
    assert caught.value.code == code


def test_more_rows_than_allowed_is_refused() -> None:
    lines = [HEADER] + [csv_line(walk_in()) for _ in range(3)]
    with pytest.raises(CsvRejected) as caught:
        parse_csv("\n".join(lines).encode(), max_rows=2)
    assert caught.value.code == "batch_too_large"


# -- Batches ---------------------------------------------------------------------------------


def pending(posko: Posko, *bodies: dict[str, Any]) -> list[PendingRow]:
    rows = []
    for number, body in enumerate(bodies, start=2):
        request = AssistedRegistrationRequest.model_validate(body)
        key = batch_row_key(posko.officer.posko_id, posko.world.cipher.nik_hash(request.nik))
        rows.append(PendingRow(number, key, request))
    return rows


async def test_a_batch_submits_every_row_and_a_reupload_changes_nothing() -> None:
    posko = Posko()
    people = [walk_in() for _ in range(5)]
    store = FakeBatchStore(pending(posko, *people))
    policy = BatchPolicy(concurrency=2, sleep=no_sleep)
    await run_batch(uuid.uuid4(), posko.officer, posko.deps, store, policy)
    assert store.finished
    assert [s.outcome for s in store.settled.values()] == ["accepted"] * 5
    assert len(posko.world.publisher.published) == 5

    again = FakeBatchStore(pending(posko, *people))
    await run_batch(uuid.uuid4(), posko.officer, posko.deps, again, policy)
    assert [s.outcome for s in again.settled.values()] == ["already_submitted"] * 5
    assert {s.registration_id for s in again.settled.values()} == {
        s.registration_id for s in store.settled.values()
    }
    assert len(posko.world.publisher.published) == 5  # nothing sent twice
    assert len(posko.submissions.recorded) == 5


async def test_a_batch_row_registered_elsewhere_is_rejected_with_its_reason() -> None:
    posko = Posko()
    person = walk_in()
    elsewhere = Officer(uuid.uuid4(), uuid.uuid4(), "Budi")
    await submit(AssistedRegistrationRequest.model_validate(person), None, elsewhere, posko.deps)
    store = FakeBatchStore(pending(posko, person))
    await run_batch(uuid.uuid4(), posko.officer, posko.deps, store, BatchPolicy(sleep=no_sleep))
    [settled] = store.settled.values()
    assert settled.outcome == "rejected"
    assert [p.code for p in settled.problems] == ["nik_already_registered"]


async def test_rows_kafka_does_not_take_are_retried_then_failed_not_lost() -> None:
    posko = Posko()
    posko.world.publisher.failing = True
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    store = FakeBatchStore(pending(posko, walk_in()))
    policy = BatchPolicy(attempts=3, backoff_s=0.5, sleep=sleep)
    await run_batch(uuid.uuid4(), posko.officer, posko.deps, store, policy)
    [settled] = store.settled.values()
    assert settled.outcome == "failed"
    assert [p.code for p in settled.problems] == ["service_unavailable"]
    assert len(slept) == 2 and slept[1] > slept[0] * 0.3  # backoff grows (with jitter)
    assert posko.submissions.recorded == {}


def test_a_file_sent_from_a_browser_form_is_read_from_its_multipart_body() -> None:
    body = walk_in()
    data = (HEADER + "\r\n" + csv_line(body) + "\r\n").encode()
    multipart = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="walk-ins.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + data + b"\r\n--b0undary--\r\n"
    )
    extracted = csv_from_multipart("multipart/form-data; boundary=b0undary", multipart)
    [row] = parse_csv(extracted, max_rows=10)
    assert row.request is not None and row.request.nik == body["nik"]
    with pytest.raises(CsvRejected):
        csv_from_multipart("multipart/form-data; boundary=b0undary", b"--b0undary--\r\n")

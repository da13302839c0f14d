"""Assisted sign-up logic: officer keys, scoped submissions, CSV batches. No I/O of its own.

A walk-in registered by an officer goes through the public ``register`` (same Redis
reservations, Postgres claim ledger, idempotency store and Kafka publisher), with channel
``assisted``; this module adds what is particular to the posko lane:

- Idempotency keys are namespaced by posko, so one post can never replay another post's answer
  (and its status token). Without a client key the key is derived from (posko, NIK hash): a
  post that submits the same person twice, alone or in a re-uploaded file, gets the first
  registration back instead of a conflict.
- Every action of an officer is audited (who, when, which registration id; no personal data).
- A CSV batch is validated row by row before anything is sent; valid rows are stored (sealed)
  and submitted in the background, each ending as accepted, already_submitted, rejected (a
  problem of the person, e.g. the NIK registered elsewhere) or failed (ours: retry later).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesParser
from typing import Literal, Protocol

from prometheus_client import Counter
from pydantic import ValidationError

from gelombang.kafka import PublishFailed
from gelombang.logs import get_logger
from gelombang.messages import localize_validation_errors
from services.assisted.schemas import AssistedRegistrationRequest, SubmissionOut
from services.registration.queries import Standing
from services.registration.service import (
    Accepted,
    AlreadyRegistered,
    Collaborators,
    IdempotencyKeyReused,
    Outcome,
    TryAgainShortly,
    register,
    registration_id_for,
)

log = get_logger(__name__)

ASSISTED_SUBMISSIONS = Counter(
    "assisted_submissions_total",
    "Assisted sign-ups by source (single, batch) and outcome",
    ["source", "outcome"],
)
ASSISTED_AUTH_FAILURES = Counter(
    "assisted_auth_failures_total",
    "Requests refused for a missing, unknown or revoked key",
    ["kind"],
)

API_KEY_PREFIX = "gpk_"


def new_api_key() -> tuple[str, str]:
    """A fresh officer key and the hash to store: (token shown once, sha256 hex)."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return token, hash_api_key(token)


def hash_api_key(token: str) -> str:
    # A plain sha256 is enough: the token is 32 random bytes, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


@dataclass(frozen=True)
class Officer:
    id: uuid.UUID
    posko_id: uuid.UUID
    name: str


def namespaced_key(posko_id: uuid.UUID, client_key: str) -> str:
    return f"assisted:{posko_id}:{client_key}"


def derived_key(posko_id: uuid.UUID, nik_hash: str) -> str:
    """The key of a submission without one of its own: the same person from the same post."""
    return namespaced_key(posko_id, f"nik:{nik_hash}")


# -- Collaborators -------------------------------------------------------------------------


class SubmissionLedger(Protocol):
    async def record(
        self, registration_id: str, officer: Officer, batch_id: uuid.UUID | None
    ) -> None:
        """Idempotent: recording the same registration again changes nothing."""

    async def already_submitted(
        self, posko_id: uuid.UUID, registration_ids: Sequence[str]
    ) -> set[str]: ...

    async def submitted_nik(self, posko_id: uuid.UUID, nik_hash: str) -> str | None:
        """The registration this post submitted for the NIK, if the read model has it."""


@dataclass(frozen=True)
class Submission:
    """What this service recorded of a post's accepted sign-up, the moment it was accepted."""

    registration_id: uuid.UUID
    officer_id: uuid.UUID
    batch_id: uuid.UUID | None
    submitted_at: datetime


def with_standings(
    submissions: Sequence[Submission], standings: Mapping[uuid.UUID, Standing]
) -> list[SubmissionOut]:
    """A post's list: its own submissions, in its order, each with the status the person sees
    (registration's read model). One the projector has not stored yet is still the post's
    work, shown as ``submitted`` until it is."""
    listed: list[SubmissionOut] = []
    for s in submissions:
        standing = standings.get(s.registration_id)
        listed.append(
            SubmissionOut(
                registration_id=s.registration_id,
                status=standing.status if standing else "submitted",
                reason=standing.reason if standing else None,
                nik_last4=standing.nik_last4 if standing else None,
                province_code=standing.province_code if standing else None,
                regency_code=standing.regency_code if standing else None,
                channel=standing.channel if standing else None,
                officer_id=s.officer_id,
                batch_id=s.batch_id,
                submitted_at=s.submitted_at,
            )
        )
    return listed


class AuditLog(Protocol):
    async def record(
        self, officer: Officer, action: str, registration_id: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class AssistedCollaborators:
    registration: Collaborators
    submissions: SubmissionLedger
    audit: AuditLog


# -- Single sign-up ------------------------------------------------------------------------


async def submit(
    request: AssistedRegistrationRequest,
    client_key: str | None,
    officer: Officer,
    deps: AssistedCollaborators,
    batch_id: uuid.UUID | None = None,
) -> Outcome:
    """Raises ``PublishFailed`` (Kafka) and whatever the ledger raises when Postgres is down;
    both are safe to retry, because the key makes the retry the same registration."""
    nik_hash = deps.registration.cipher.nik_hash(request.nik)
    key = (
        namespaced_key(officer.posko_id, client_key)
        if client_key is not None
        else derived_key(officer.posko_id, nik_hash)
    )
    outcome = await register(request, key, deps.registration, channel="assisted")
    source = "single" if batch_id is None else "batch"
    if isinstance(outcome, Accepted):
        # Recorded after Kafka took the event and before we answer: a 202 means the post's
        # list will show it. If Postgres fails here the caller answers 503 and the retry
        # (same key) is the same registration.
        await deps.submissions.record(outcome.registration_id, officer, batch_id)
        action = "registration.submit" if not outcome.replayed else "registration.replay"
        await deps.audit.record(officer, action, outcome.registration_id)
        ASSISTED_SUBMISSIONS.labels(source, "replayed" if outcome.replayed else "accepted").inc()
    elif isinstance(outcome, AlreadyRegistered):
        await deps.audit.record(officer, "registration.refused_duplicate")
        ASSISTED_SUBMISSIONS.labels(source, "duplicate").inc()
    elif isinstance(outcome, TryAgainShortly):
        ASSISTED_SUBMISSIONS.labels(source, "deferred").inc()
    else:
        await deps.audit.record(officer, "registration.refused_key_conflict")
        ASSISTED_SUBMISSIONS.labels(source, "key_conflict").inc()
    return outcome


# -- CSV batches ---------------------------------------------------------------------------

RowOutcome = Literal["pending", "accepted", "already_submitted", "invalid", "rejected", "failed"]

REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    name for name, info in AssistedRegistrationRequest.model_fields.items() if info.is_required()
)
ALL_COLUMNS: tuple[str, ...] = tuple(AssistedRegistrationRequest.model_fields)
BOOLEAN_COLUMNS = frozenset(
    {"in_formal_education", "receives_social_aid", "consent", "attested_id_card_seen"}
)
# Spreadsheets and people write booleans many ways; Indonesian ones included.
_TRUE = frozenset({"true", "1", "yes", "y", "ya", "benar"})
_FALSE = frozenset({"false", "0", "no", "n", "tidak", "t", "salah"})


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str


@dataclass(frozen=True)
class ParsedRow:
    #: As a spreadsheet shows it: the header is row 1, the first person row 2.
    row_number: int
    request: AssistedRegistrationRequest | None
    problems: tuple[FieldProblem, ...] = ()


class CsvRejected(Exception):
    """The file as a whole cannot be read (encoding, header, size); ``code`` for the client."""

    def __init__(self, code: str, field: str = "file", detail: str = "") -> None:
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.field = field
        self.detail = detail


def csv_from_multipart(content_type: str, body: bytes) -> bytes:
    """The first file part of a multipart/form-data body (stdlib parser, no extra dependency)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise CsvRejected("csv_unreadable")
    for part in message.iter_parts():
        if part.get_content_disposition() == "form-data" and part.get_filename() is not None:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    raise CsvRejected("csv_unreadable")


def _cell(column: str, raw: str) -> object:
    value = raw.strip()
    if column in BOOLEAN_COLUMNS:
        folded = value.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    return value


def parse_csv(data: bytes, max_rows: int) -> list[ParsedRow]:
    """Validate every record; raises ``CsvRejected`` only for problems of the whole file."""
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise CsvRejected("csv_encoding") from None
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in an Indonesian locale save with ";" (the decimal separator is ",").
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvRejected("csv_empty") from None
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in ALL_COLUMNS]
    if unknown:
        raise CsvRejected("csv_unknown_column", detail=", ".join(unknown[:5]))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CsvRejected("csv_missing_column", detail=", ".join(missing))
    if len(set(columns)) != len(columns):
        raise CsvRejected("csv_duplicate_column")

    rows: list[ParsedRow] = []
    seen_niks: set[str] = set()
    try:
        for index, record in enumerate(reader):
            if not any(cell.strip() for cell in record):
                continue  # blank lines, or the empty rows a spreadsheet leaves at the end
            if len(rows) >= max_rows:
                raise CsvRejected("batch_too_large", detail=str(max_rows))
            row_number = index + 2
            if len(record) != len(columns):
                rows.append(ParsedRow(row_number, None, (FieldProblem("", "csv_row_width"),)))
                continue
            values = {
                column: _cell(column, raw)
                for column, raw in zip(columns, record, strict=True)
                if raw.strip()
            }
            rows.append(_validate_row(row_number, values, seen_niks))
    except csv.Error:
        raise CsvRejected("csv_unreadable") from None
    if not rows:
        raise CsvRejected("csv_empty")
    return rows


def _validate_row(row_number: int, values: dict[str, object], seen_niks: set[str]) -> ParsedRow:
    try:
        request = AssistedRegistrationRequest.model_validate(values)
    except ValidationError as exc:
        problems = tuple(_problems(exc))
        return ParsedRow(row_number, None, problems)
    if request.nik in seen_niks:
        return ParsedRow(row_number, None, (FieldProblem("nik", "nik_duplicate_in_file"),))
    seen_niks.add(request.nik)
    return ParsedRow(row_number, request)


def _problems(exc: ValidationError) -> Iterable[FieldProblem]:
    # Localized later (per request language); here only the field and the stable code count.
    for error in localize_validation_errors(exc.errors(), "id"):
        yield FieldProblem(error.field, error.code)


@dataclass(frozen=True)
class PendingRow:
    row_number: int
    idempotency_key: str
    request: AssistedRegistrationRequest


@dataclass(frozen=True)
class RowSettled:
    row_number: int
    outcome: RowOutcome
    problems: tuple[FieldProblem, ...] = ()
    registration_id: str | None = None


class BatchStore(Protocol):
    async def pending_rows(self, batch_id: uuid.UUID) -> list[PendingRow]: ...

    async def settle(self, batch_id: uuid.UUID, settled: RowSettled) -> None: ...

    async def finish(self, batch_id: uuid.UUID) -> None: ...


def batch_row_key(posko_id: uuid.UUID, nik_hash: str) -> str:
    """Derived from (posko, NIK hash), not from the file: a re-upload of the same people, even
    renamed or reordered, resolves to the same registrations."""
    return derived_key(posko_id, nik_hash)


@dataclass(frozen=True)
class BatchPolicy:
    concurrency: int = 8
    attempts: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


async def run_batch(
    batch_id: uuid.UUID,
    officer: Officer,
    deps: AssistedCollaborators,
    store: BatchStore,
    settings: BatchPolicy,
) -> None:
    """Submit every pending row of a batch, then mark it done. Safe to run again after a crash:
    rows already settled are not pending any more, and keys make resubmission harmless."""
    rows = await store.pending_rows(batch_id)
    cipher = deps.registration.cipher
    ids = {
        row.row_number: registration_id_for(
            cipher, cipher.nik_hash(row.request.nik), row.idempotency_key
        )
        for row in rows
    }
    done_before = await deps.submissions.already_submitted(officer.posko_id, list(ids.values()))
    gate = asyncio.Semaphore(max(1, settings.concurrency))

    async def one(row: PendingRow) -> None:
        async with gate:
            if ids[row.row_number] in done_before:
                settled = RowSettled(
                    row.row_number, "already_submitted", registration_id=ids[row.row_number]
                )
            else:
                settled = await _submit_row(row, officer, batch_id, deps, settings)
            await store.settle(batch_id, settled)
            if settled.outcome in ("already_submitted", "rejected", "failed"):
                ASSISTED_SUBMISSIONS.labels("batch", settled.outcome).inc()

    await asyncio.gather(*(one(row) for row in rows))
    await store.finish(batch_id)
    await deps.audit.record(officer, "batch.finish")


async def _submit_row(
    row: PendingRow,
    officer: Officer,
    batch_id: uuid.UUID,
    deps: AssistedCollaborators,
    policy_: BatchPolicy,
) -> RowSettled:
    for attempt in range(max(1, policy_.attempts)):
        try:
            outcome = await submit(row.request, None, officer, deps, batch_id=batch_id)
        except PublishFailed:
            log.warning("batch_row_publish_failed", attempt=attempt + 1)
        except Exception as exc:  # Postgres or Redis trouble recording it: retry as well
            log.warning("batch_row_failed", attempt=attempt + 1, error=type(exc).__name__)
        else:
            if not isinstance(outcome, TryAgainShortly):
                return await _settled(row, officer, outcome, deps)
            # Another registration of this NIK is still on its way through the log.
            await policy_.sleep(outcome.retry_after_s)
            continue
        if attempt + 1 < policy_.attempts:
            delay = policy_.backoff_s * (2**attempt) * (0.5 + random.random())
            await policy_.sleep(delay)
    return RowSettled(row.row_number, "failed", (FieldProblem("", "service_unavailable"),))


async def _settled(
    row: PendingRow, officer: Officer, outcome: Outcome, deps: AssistedCollaborators
) -> RowSettled:
    if isinstance(outcome, Accepted):
        kind: RowOutcome = "already_submitted" if outcome.replayed else "accepted"
        return RowSettled(row.row_number, kind, registration_id=outcome.registration_id)
    if isinstance(outcome, IdempotencyKeyReused):
        # The key is (this post, this NIK): this post already sent this person, other details.
        return RowSettled(row.row_number, "already_submitted")
    assert isinstance(outcome, AlreadyRegistered)
    nik_hash = deps.registration.cipher.nik_hash(row.request.nik)
    ours = await deps.submissions.submitted_nik(officer.posko_id, nik_hash)
    if ours is not None:
        return RowSettled(row.row_number, "already_submitted", registration_id=ours)
    return RowSettled(row.row_number, "rejected", (FieldProblem("nik", "nik_already_registered"),))


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

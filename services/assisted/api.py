"""HTTP surface of the assisted-registration service (posko officers), under /api/v1/assisted/."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import asyncpg
import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from gelombang.kafka import PublishFailed
from gelombang.logs import get_logger
from gelombang.messages import Lang, message
from gelombang.probes import (
    POSTGRES_UNAVAILABLE,
    Checks,
    database_reachable,
    ops_router,
    redis_reachable,
)
from gelombang.rdkafka import RdKafkaPublisher
from gelombang.serving import LifespanState, lifespan_runtime
from services.assisted import repository
from services.assisted.schemas import (
    AssistedAccepted,
    AssistedRegistrationRequest,
    BatchAccepted,
    BatchCounts,
    BatchProgress,
    OfficerCreate,
    OfficerKeyIssued,
    OfficerOut,
    PoskoCreate,
    PoskoOut,
    SubmissionList,
)
from services.assisted.service import (
    ASSISTED_AUTH_FAILURES,
    AssistedCollaborators,
    BatchPolicy,
    CsvRejected,
    Officer,
    ParsedRow,
    batch_row_key,
    bearer_token,
    content_sha256,
    csv_from_multipart,
    hash_api_key,
    new_api_key,
    parse_csv,
    run_batch,
    submit,
    with_standings,
)
from services.assisted.settings import AssistedSettings
from services.registration.contract import (
    FIELD_ERRORS,
    CallerLanguage,
    ErrorAnswer,
    ErrorResponse,
    FieldErrorOut,
    accepted_answer,
    error,
    valid_idempotency_key,
)
from services.registration.queries import standings
from services.registration.service import (
    Accepted,
    AlreadyRegistered,
    IdempotencyKeyReused,
    TryAgainShortly,
)

log = get_logger(__name__)
router = APIRouter(responses=FIELD_ERRORS)
PREFIX = "/api/v1/assisted"


@dataclass
class BatchRunner:
    """Background submission of uploaded batches; a stopped process resumes them at start."""

    deps: AssistedCollaborators
    store: repository.PostgresBatchStore
    policy: BatchPolicy
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, batch_id: uuid.UUID, officer: Officer) -> None:
        task = asyncio.create_task(self._run(batch_id, officer), name=f"batch-{batch_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, batch_id: uuid.UUID, officer: Officer) -> None:
        try:
            await run_batch(batch_id, officer, self.deps, self.store, self.policy)
        except Exception as exc:  # rows stay pending; the next start resumes them
            log.error("batch_failed", batch_id=str(batch_id), error=type(exc).__name__)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Runtime:
    settings: AssistedSettings
    deps: AssistedCollaborators
    batches: BatchRunner
    publisher: RdKafkaPublisher
    redis: aioredis.Redis
    pool: asyncpg.Pool


# Kafka did not take it, or Postgres (the posko's list) is not answering: 503, retry later.
_SUBMIT_UNAVAILABLE: tuple[type[Exception], ...] = (PublishFailed, *POSTGRES_UNAVAILABLE)


State = LifespanState[Runtime]
RuntimeDep = Annotated[Runtime, Depends(lifespan_runtime)]


def _retry_after(rt: Runtime) -> dict[str, str]:
    return {"Retry-After": str(rt.settings.retry_after_s)}


def _unauthorized(lang: Lang, code: str = "officer_unauthorized") -> JSONResponse:
    return error(401, code, lang, field="Authorization", headers={"WWW-Authenticate": "Bearer"})


async def _officer(rt: Runtime, authorization: str | None) -> Officer | None:
    token = bearer_token(authorization)
    if token is None:
        ASSISTED_AUTH_FAILURES.labels("missing").inc()
        return None
    officer = await repository.officer_by_key_hash(rt.pool, hash_api_key(token))
    if officer is None:
        ASSISTED_AUTH_FAILURES.labels("unknown_or_revoked").inc()
    return officer


@dataclass(frozen=True, kw_only=True)
class KeyHolder:
    """The caller of an officer's or an admin's route, with the key they showed (if any) and
    the language to answer in; FastAPI builds it."""

    rt: RuntimeDep
    authorization: Annotated[str | None, Header()] = None
    lang: CallerLanguage


KeyHolderDep = Annotated[KeyHolder, Depends()]


async def current_officer(caller: KeyHolderDep) -> Officer:
    """A dependency, so that FastAPI runs it before it validates the body or query: a caller
    without a valid key learns nothing (not even which fields are wrong) and gets 401."""
    try:
        officer = await _officer(caller.rt, caller.authorization)
    except POSTGRES_UNAVAILABLE:
        retry = _retry_after(caller.rt)
        raise ErrorAnswer(error(503, "service_unavailable", caller.lang, headers=retry)) from None
    if officer is None:
        raise ErrorAnswer(_unauthorized(caller.lang))
    return officer


async def require_admin(caller: KeyHolderDep) -> None:
    if not _admin_ok(caller.rt, caller.authorization):
        raise ErrorAnswer(_unauthorized(caller.lang, "admin_unauthorized"))


CurrentOfficer = Annotated[Officer, Depends(current_officer)]
AdminOnly = [Depends(require_admin)]


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing, unknown or revoked officer key"},
    422: {"model": ErrorResponse, "description": "Field-level validation errors"},
    503: {"model": ErrorResponse, "description": "Not accepted; retry after Retry-After"},
}

# Admin routes answer 401 without the admin token and 404 for an unknown posko or officer.
ADMIN_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong admin token"},
    404: {"model": ErrorResponse, "description": "No such posko or officer"},
    422: {"model": ErrorResponse, "description": "Field-level validation errors"},
}


@router.post(
    f"{PREFIX}/registrations",
    status_code=202,
    response_model=AssistedAccepted,
    responses={**ERROR_RESPONSES, 409: {"model": ErrorResponse}},
    summary="Register a walk-in whose ID card (KTP) the officer has seen",
)
async def create_assisted_registration(
    officer: CurrentOfficer,
    payload: AssistedRegistrationRequest,
    rt: RuntimeDep,
    lang: CallerLanguage,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """202 means durable in Kafka and listed for this posko. Without an Idempotency-Key the
    key is (this posko, this NIK): submitting the same person again returns the first answer."""
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        return error(422, "idempotency_key_invalid", lang, field="Idempotency-Key")
    try:
        outcome = await submit(payload, idempotency_key, officer, rt.deps)
    except _SUBMIT_UNAVAILABLE:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    if isinstance(outcome, AlreadyRegistered):
        return error(409, "nik_already_registered", lang, field="nik")
    if isinstance(outcome, TryAgainShortly):
        retry = {"Retry-After": str(outcome.retry_after_s)}
        return error(503, "nik_check_pending", lang, field="nik", headers=retry)
    if isinstance(outcome, IdempotencyKeyReused):
        if idempotency_key is None:
            # The derived key (this posko, this NIK) was used before with other details: this
            # post already registered the person, which is a duplicate, not a key problem.
            return error(409, "nik_already_registered", lang, field="nik")
        return error(422, "idempotency_key_conflict", lang, field="Idempotency-Key")
    assert isinstance(outcome, Accepted)
    return accepted_answer(rt.settings.public_base_url, outcome)


@router.get(
    f"{PREFIX}/registrations",
    response_model=SubmissionList,
    responses=ERROR_RESPONSES,
    summary="What this posko submitted, newest first, with current statuses",
)
async def list_assisted_registrations(
    officer: CurrentOfficer,
    rt: RuntimeDep,
    lang: CallerLanguage,
    before: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SubmissionList | JSONResponse:
    try:
        own = await repository.list_submissions(rt.pool, officer.posko_id, before, limit)
        known = await standings(rt.pool, [s.registration_id for s in own])
        await rt.deps.audit.record(officer, "registration.list")
    except POSTGRES_UNAVAILABLE:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    items = with_standings(own, known)
    next_before = own[-1].submitted_at if len(own) == limit else None
    return SubmissionList(posko_id=officer.posko_id, items=items, next_before=next_before)


# -- Batches --------------------------------------------------------------------------------


async def _read_limited(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None once it grows past ``max_bytes`` (without reading the rest into memory)."""
    declared = request.headers.get("content-length")
    # isascii: "²" (a latin-1 byte) is a digit to str.isdigit() but not to int().
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    f"{PREFIX}/batches",
    status_code=202,
    response_model=BatchAccepted,
    responses={**ERROR_RESPONSES, 413: {"model": ErrorResponse}, 415: {"model": ErrorResponse}},
    summary="Upload a CSV (text/csv body or multipart/form-data) of up to 10,000 people",
)
async def upload_batch(
    officer: CurrentOfficer,
    rt: RuntimeDep,
    lang: CallerLanguage,
    request: Request,
    content_type: Annotated[str | None, Header()] = None,
) -> BatchAccepted | JSONResponse:
    """Rows are validated one by one; valid rows are submitted in the background (progress at
    ``status_url``, problems at ``errors_url``). Uploading the same people again, in any file,
    changes nothing: those rows end as ``already_submitted``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in ("text/csv", "text/plain", "application/csv", "multipart/form-data"):
        return error(415, "csv_content_type", lang, field="Content-Type")
    body = await _read_limited(request, rt.settings.batch_max_bytes)
    if body is None:
        return error(413, "batch_too_large", lang, field="file")
    try:
        data = csv_from_multipart(content_type or "", body) if media.startswith("multi") else body
        # Validating 10,000 rows takes a moment of CPU: off the event loop, so single
        # submissions in this process keep answering meanwhile.
        rows = await asyncio.to_thread(parse_csv, data, rt.settings.batch_max_rows)
    except CsvRejected as exc:
        status = 413 if exc.code == "batch_too_large" else 422
        text = message(exc.code, lang, detail=exc.detail)
        body_out = ErrorResponse(
            detail=text, errors=[FieldErrorOut(field=exc.field, code=exc.code, message=text)]
        )
        return JSONResponse(body_out.model_dump(mode="json"), status_code=status)
    batch_id = uuid.uuid4()
    new_rows = [_new_row(rt, officer, row) for row in rows]
    try:
        await repository.create_batch(
            rt.pool, rt.deps.registration.cipher, batch_id, officer, content_sha256(data), new_rows
        )
    except POSTGRES_UNAVAILABLE:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    rt.batches.start(batch_id, officer)
    base = f"{rt.settings.public_base_url}{PREFIX}/batches/{batch_id}"
    return BatchAccepted(
        batch_id=batch_id,
        status_url=base,
        errors_url=f"{base}/errors.csv",
        total_rows=len(rows),
        invalid_rows=sum(1 for r in rows if r.request is None),
    )


def _new_row(rt: Runtime, officer: Officer, row: ParsedRow) -> repository.NewBatchRow:
    if row.request is None:
        return repository.NewBatchRow(row.row_number, "invalid", row.problems, None, None)
    nik_hash = rt.deps.registration.cipher.nik_hash(row.request.nik)
    key = batch_row_key(officer.posko_id, nik_hash)
    return repository.NewBatchRow(row.row_number, "pending", (), key, row.request)


async def _own_batch(
    rt: Runtime, officer: Officer, batch_id: str, lang: Lang
) -> repository.BatchRow | JSONResponse:
    try:
        parsed = uuid.UUID(batch_id)
    except ValueError:
        return error(404, "assisted_not_found", lang)
    batch = await repository.fetch_batch(rt.pool, parsed)
    # Another post's batch answers exactly like a missing one.
    if batch is None or batch.posko_id != officer.posko_id:
        return error(404, "assisted_not_found", lang)
    return batch


@router.get(
    f"{PREFIX}/batches/{{batch_id}}",
    response_model=BatchProgress,
    responses={**ERROR_RESPONSES, 404: {"model": ErrorResponse}},
    summary="Progress and counts of an uploaded batch",
)
async def batch_progress(
    batch_id: str,
    officer: CurrentOfficer,
    rt: RuntimeDep,
    lang: CallerLanguage,
) -> BatchProgress | JSONResponse:
    try:
        batch = await _own_batch(rt, officer, batch_id, lang)
        if isinstance(batch, JSONResponse):
            return batch
        await rt.deps.audit.record(officer, "batch.view")
    except POSTGRES_UNAVAILABLE:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    counts = BatchCounts(**{k: v for k, v in batch.counts.items() if k in BatchCounts.model_fields})
    base = f"{rt.settings.public_base_url}{PREFIX}/batches/{batch.id}"
    return BatchProgress(
        batch_id=batch.id,
        state="done" if batch.state == "done" else "processing",
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        counts=counts,
        errors_url=f"{base}/errors.csv",
    )


@router.get(
    f"{PREFIX}/batches/{{batch_id}}/errors.csv",
    responses={
        200: {"content": {"text/csv": {}}, "description": "row,field,code,message"},
        **ERROR_RESPONSES,
        404: {"model": ErrorResponse},
    },
    summary="Per-row problems of a batch, in the request's language",
)
async def batch_errors(
    batch_id: str,
    officer: CurrentOfficer,
    rt: RuntimeDep,
    lang: CallerLanguage,
) -> Response:
    try:
        batch = await _own_batch(rt, officer, batch_id, lang)
        if isinstance(batch, JSONResponse):
            return batch
        problems = await repository.batch_problems(rt.pool, batch.id)
        await rt.deps.audit.record(officer, "batch.errors_download")
    except POSTGRES_UNAVAILABLE:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", "field", "code", "message"])
    for row in problems:
        for problem in row.problems:
            writer.writerow(
                [row.row_number, problem.field, problem.code, message(problem.code, lang)]
            )
    headers = {
        "Content-Disposition": f'attachment; filename="batch-{batch.id}-errors.csv"',
        "Content-Language": lang,
    }
    # UTF-8 with BOM: Excel, which most posko use, otherwise mangles non-ASCII letters.
    return Response(
        ("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8", headers=headers
    )


# -- Admin ----------------------------------------------------------------------------------


def _admin_ok(rt: Runtime, authorization: str | None) -> bool:
    token = bearer_token(authorization)
    return token is not None and rt.settings.admin_token_matches(token)


@router.post(
    f"{PREFIX}/admin/posko",
    status_code=201,
    dependencies=AdminOnly,
    responses=ADMIN_RESPONSES,
    response_model=PoskoOut,
)
async def admin_create_posko(payload: PoskoCreate, rt: RuntimeDep) -> PoskoOut:
    row = await repository.create_posko(
        rt.pool, payload.name, payload.province_code, payload.regency_code
    )
    return PoskoOut.model_validate(row)


@router.get(
    f"{PREFIX}/admin/posko",
    dependencies=AdminOnly,
    responses=ADMIN_RESPONSES,
    response_model=list[PoskoOut],
)
async def admin_list_posko(rt: RuntimeDep) -> list[PoskoOut]:
    return [PoskoOut.model_validate(r) for r in await repository.list_posko(rt.pool)]


@router.post(
    f"{PREFIX}/admin/officers",
    status_code=201,
    dependencies=AdminOnly,
    responses=ADMIN_RESPONSES,
    response_model=OfficerKeyIssued,
)
async def admin_issue_officer_key(
    payload: OfficerCreate,
    rt: RuntimeDep,
    lang: CallerLanguage,
) -> OfficerKeyIssued | JSONResponse:
    """The key is in this answer only; it cannot be shown again (issue a new one instead)."""
    if not await repository.posko_exists(rt.pool, payload.posko_id):
        return error(404, "assisted_not_found", lang, field="posko_id")
    token, key_hash = new_api_key()
    row = await repository.issue_officer(rt.pool, payload.posko_id, payload.name, key_hash)
    return OfficerKeyIssued(officer=OfficerOut.model_validate(row), api_key=token)


@router.get(
    f"{PREFIX}/admin/officers",
    dependencies=AdminOnly,
    responses=ADMIN_RESPONSES,
    response_model=list[OfficerOut],
)
async def admin_list_officers(
    rt: RuntimeDep, posko_id: Annotated[uuid.UUID | None, Query()] = None
) -> list[OfficerOut]:
    rows = await repository.list_officers(rt.pool, posko_id)
    return [OfficerOut.model_validate(r) for r in rows]


@router.post(
    f"{PREFIX}/admin/officers/{{officer_id}}/revoke",
    dependencies=AdminOnly,
    responses=ADMIN_RESPONSES,
    response_model=OfficerOut,
)
async def admin_revoke_officer(
    officer_id: uuid.UUID,
    rt: RuntimeDep,
    lang: CallerLanguage,
) -> OfficerOut | JSONResponse:
    row = await repository.revoke_officer(rt.pool, officer_id)
    if row is None:
        return error(404, "assisted_not_found", lang)
    return OfficerOut.model_validate(row)


# -- Ops ------------------------------------------------------------------------------------


async def readiness(rt: RuntimeDep) -> Checks:
    """For the ops router's /readyz, where Redis is advisory (reported, not deciding): it
    degrades dedupe, but unlike the public API, Postgres is needed here (the officer keys)."""
    kafka_ok, postgres_ok, redis_ok = await asyncio.gather(
        rt.publisher.reachable(), database_reachable(rt.pool), redis_reachable(rt.redis)
    )
    return {"kafka": kafka_ok, "postgres": postgres_ok, "redis": redis_ok}


ops = ops_router(readiness, advisory={"redis"})

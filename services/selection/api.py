"""Admin HTTP surface of the selection service, under /api/v1/admin/ (bearer admin token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.logs import get_logger
from gelombang.pii import PiiCipher
from gelombang.probes import Checks, database_reachable, ops_router
from gelombang.serving import LifespanState, lifespan_runtime
from services.selection import repository
from services.selection.schemas import (
    INT4_MAX,
    AdminError,
    Announced,
    ImportOut,
    TrainingStarted,
    TrainingStartedOut,
    WaveClose,
    WaveCreate,
    WaveDraw,
    WaveOut,
)
from services.selection.service import WaveError, WaveRequest, Waves, import_list
from services.selection.settings import SelectionSettings

log = get_logger(__name__)
router = APIRouter()

# An official list upload: the labour-office list of a province is a few hundred thousand rows.
MAX_LIST_BYTES = 64 * 1024 * 1024


@dataclass
class Runtime:
    settings: SelectionSettings
    pool: asyncpg.Pool
    waves: Waves
    cipher: PiiCipher


State = LifespanState[Runtime]
RuntimeDep = Annotated[Runtime, Depends(lifespan_runtime)]


def admin(rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> Runtime:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not rt.settings.admin_token_matches(token.strip()):
        raise WaveError("admin_unauthorized", "admin token missing or wrong", 401)
    return rt


Admin = Annotated[Runtime, Depends(admin)]
# A Postgres integer column: anything larger is a 422 here, not a driver error (500) later.
WaveNumber = Annotated[int, Path(gt=0, le=INT4_MAX)]
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": AdminError},
    404: {"model": AdminError},
    409: {"model": AdminError},
    422: {"model": AdminError},
}


async def admin_validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Same AdminError shape as every other admin error, so clients branch on one ``code``.
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
        for error in exc.errors()
    )
    return JSONResponse(
        AdminError(code="validation_failed", detail=problems).model_dump(), status_code=422
    )


async def admin_unreadable_body_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI's bare 400 for a body that is not even text: the same 422 as any bad JSON.
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        invalid = RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "body is not valid JSON"}]
        )
        return await admin_validation_error_handler(request, invalid)
    return await http_exception_handler(request, exc)


async def wave_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WaveError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    # A refusal about one field names it as a validation error does ("body.<field>: ...").
    detail = exc.message if exc.field is None else f"body.{exc.field}: {exc.message}"
    return JSONResponse(
        AdminError(code=exc.code, detail=detail).model_dump(),
        status_code=exc.status,
        headers=headers,
    )


@router.get("/api/v1/admin/waves", response_model=list[WaveOut], responses=_ERRORS)
async def list_waves(rt: Admin) -> list[WaveOut]:
    return [WaveOut.of(w) for w in await rt.waves.list()]


@router.post("/api/v1/admin/waves", status_code=201, response_model=WaveOut, responses=_ERRORS)
async def create_wave(body: WaveCreate, rt: Admin) -> WaveOut:
    wave = await rt.waves.create(
        WaveRequest(body.number, body.opens_at, body.closes_at, body.total_quota, body.quotas)
    )
    log.info("wave_created", wave=wave.number, total=wave.total_quota)
    return WaveOut.of(wave)


@router.get("/api/v1/admin/waves/{number}", response_model=WaveOut, responses=_ERRORS)
async def show_wave(number: WaveNumber, rt: Admin) -> WaveOut:
    return WaveOut.of(await rt.waves.get(number))


@router.post("/api/v1/admin/waves/{number}/close", response_model=WaveOut, responses=_ERRORS)
async def close_wave(number: WaveNumber, body: WaveClose, rt: Admin) -> WaveOut:
    wave = await rt.waves.close(
        number,
        body.seed_commitment,
        body.beacon_source,
        body.beacon_reference,
        body.beacon_due_at,
        datetime.now(UTC),
    )
    log.info(
        "wave_closed",
        wave=number,
        eligible=wave.eligible_count,
        beacon_reference=wave.beacon_reference,
    )
    return WaveOut.of(wave)


@router.post("/api/v1/admin/waves/{number}/draw", response_model=WaveOut, responses=_ERRORS)
async def draw_wave(number: WaveNumber, body: WaveDraw, rt: Admin) -> WaveOut:
    wave = await rt.waves.draw(
        number, body.seed, body.beacon_reference, body.beacon_value, datetime.now(UTC)
    )
    log.info(
        "wave_drawn",
        wave=number,
        selected=wave.selected,
        waitlisted=wave.waitlisted,
        algorithm_version=wave.algorithm_version,
    )
    return WaveOut.of(wave)


@router.post("/api/v1/admin/waves/{number}/announce", response_model=Announced, responses=_ERRORS)
async def announce_wave(number: WaveNumber, rt: Admin) -> Announced:
    wave, queued = await rt.waves.announce(number)
    log.info("wave_announced", wave=number, decisions=queued)
    return Announced(wave=WaveOut.of(wave), decisions_queued=queued)


@router.post(
    "/api/v1/admin/lists/{kind}",
    response_model=ImportOut,
    responses=_ERRORS,
    summary="Import an official list (CSV body): labour_office (nik,status) or social_aid (nik)",
)
async def import_official_list(
    kind: Literal["labour_office", "social_aid"], request: Request, rt: Admin
) -> ImportOut:
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_LIST_BYTES:
            raise WaveError("list_too_large", "at most 64 MB per upload; split the file", 413)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WaveError("csv_encoding", "the file must be UTF-8 CSV", 422) from exc
    report = await import_list(
        kind,
        text.splitlines(),
        rt.cipher.nik_hash,
        lambda k, rows, rep: repository.import_list_rows(rt.pool, k, rows, rep),
    )
    log.info(
        "list_imported", kind=kind, rows=report.rows, added=report.added, errors=len(report.errors)
    )
    return ImportOut.of(kind, report)


@router.post(
    "/api/v1/admin/training-starts",
    response_model=TrainingStartedOut,
    responses=_ERRORS,
    summary="Record that selected people started a training (they then keep their seat)",
)
async def training_started(body: TrainingStarted, rt: Admin) -> TrainingStartedOut:
    return TrainingStartedOut(
        recorded=await repository.record_started(rt.pool, body.registration_ids)
    )


async def readiness(rt: RuntimeDep) -> Checks:
    """For the ops router's /readyz: waves, lists and draws all live in Postgres."""
    return {"postgres": await database_reachable(rt.pool)}


ops = ops_router(readiness)

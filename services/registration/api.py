"""HTTP surface of the registration service."""

from __future__ import annotations

import asyncio
import functools
import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import asyncpg
import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import State

from gelombang.admission import AdmissionController, Refusal, SignUpGuard
from gelombang.contact import (
    LINK_TTL,
    LinkExpired,
    LinkInvalid,
    deadline_after_change,
    status_page_path,
)
from gelombang.kafka import PublishFailed
from gelombang.messages import Lang, message, pick_language
from gelombang.metrics import REQUESTS_SHED
from gelombang.pii import PiiError
from gelombang.probes import POSTGRES_UNAVAILABLE, Checks, ops_router, redis_reachable
from gelombang.rdkafka import RdKafkaPublisher
from services.registration import repository
from services.registration.contract import (
    FIELD_ERRORS,
    CallerLanguage,
    ErrorAnswer,
    accepted_answer,
    error,
    valid_idempotency_key,
)
from services.registration.lane import ALTCHA_MAX_LENGTH, SignUpCall
from services.registration.schemas import (
    ContactChangeRequest,
    ContactProgress,
    ContactStep,
    ErrorResponse,
    OtpResendRequest,
    OtpVerifyRequest,
    RegistrationAccepted,
    RegistrationRequest,
    RegistrationStatus,
    StatusHistoryEntry,
    StatusLinkAnswer,
    StatusLinkRequest,
)
from services.registration.service import (
    Accepted,
    AlreadyRegistered,
    Collaborators,
    ContactCollaborators,
    DependencyUnavailable,
    IdempotencyKeyReused,
    Refused,
    StatusLinkCollaborators,
    TryAgainShortly,
    confirm_email_link,
    confirm_otp,
    register,
    request_contact_change,
    request_new_code,
    request_status_link,
    resends_left,
)
from services.registration.settings import RegistrationSettings
from services.registration.wiring import contact_change_collaborators, resend_limit

router = APIRouter(responses=FIELD_ERRORS)


@dataclass
class Runtime:
    """What the lifespan opened, handed to the routes through ``app.state``."""

    settings: RegistrationSettings
    deps: Collaborators
    contact: ContactCollaborators
    publisher: RdKafkaPublisher
    redis: aioredis.Redis
    pool: asyncpg.Pool
    status_link: StatusLinkCollaborators


# Read from app.state, not from lifespan state like the other APIs: uvicorn copies lifespan
# state into every request, the public sign-ups included, and their path (``sign_up``, from the
# lane or the route) reads app.state directly instead of resolving a dependency.
def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def sign_up_guard(request: Request) -> SignUpGuard:
    guard: SignUpGuard = request.app.state.sign_up_guard
    return guard


RuntimeDep = Annotated[Runtime, Depends(runtime)]
SignUpGuardDep = Annotated[SignUpGuard, Depends(sign_up_guard)]


@router.post(
    "/api/v1/registrations",
    status_code=202,
    response_model=RegistrationAccepted,
    responses={
        409: {"model": ErrorResponse, "description": "This NIK is already registered"},
        422: {"model": ErrorResponse, "description": "Field-level validation errors"},
        428: {"model": ErrorResponse, "description": "Solve /api/v1/challenge, send X-Altcha"},
        429: {"model": ErrorResponse, "description": "Rate limited; retry after Retry-After"},
        503: {"model": ErrorResponse, "description": "Not accepted; retry after Retry-After"},
    },
    summary="Sign up for the program",
)
async def create_registration(
    payload: RegistrationRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
    accept_language: Annotated[str | None, Header()] = None,
    x_altcha: Annotated[str | None, Header(max_length=ALTCHA_MAX_LENGTH)] = None,
) -> Response:
    """202 means the sign-up is durable in Kafka; anything else can be retried safely.

    Valid sign-ups usually reach ``sign_up`` through ``services.registration.lane`` instead;
    this route answers the rest (and describes the endpoint in the OpenAPI document).
    """
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        lang = pick_language(accept_language)
        return error(422, "idempotency_key_invalid", lang, field="Idempotency-Key")
    call = SignUpCall(
        client_ip=request.client.host if request.client else "",
        idempotency_key=idempotency_key,
        accept_language=accept_language,
        proof=x_altcha,
    )
    return await sign_up(request.app.state, payload, call)


async def sign_up(state: State, payload: RegistrationRequest, call: SignUpCall) -> Response:
    """One public sign-up, from a validated body to its answer (the route's and the lane's)."""
    rt: Runtime = state.runtime
    guard: SignUpGuard | None = getattr(state, "sign_up_guard", None)
    limits = None
    if guard is not None:
        if _proof_required(state, rt):
            # Under pressure a refusal must stay cheap (that is when junk arrives): the proof
            # is checked before any lookup is made.
            refusal = await guard.proof_refusal(call.client_ip, call.proof)
            if refusal is not None:
                return _refused(refusal, pick_language(call.accept_language))
        limits = functools.partial(guard.limits, call.client_ip)
    try:
        outcome = await register(payload, call.idempotency_key, rt.deps, limits=limits)
    except PublishFailed:
        retry_after = {"Retry-After": str(rt.settings.retry_after_s)}
        lang = pick_language(call.accept_language)
        return error(503, "service_unavailable", lang, headers=retry_after)
    if isinstance(outcome, Accepted):
        return accepted_answer(rt.settings.public_base_url, outcome)
    lang = pick_language(call.accept_language)
    if isinstance(outcome, Refused):
        if guard is not None:
            guard.shed(outcome.refusal)
        return _refused(outcome.refusal, lang)
    if isinstance(outcome, AlreadyRegistered):
        return error(409, "nik_already_registered", lang, field="nik")
    if isinstance(outcome, TryAgainShortly):
        retry = {"Retry-After": str(outcome.retry_after_s)}
        return error(503, "nik_check_pending", lang, field="nik", headers=retry)
    assert isinstance(outcome, IdempotencyKeyReused)
    return error(422, "idempotency_key_conflict", lang, field="Idempotency-Key")


def _proof_required(state: State, rt: Runtime) -> bool:
    mode = rt.settings.pow_mode
    admission: AdmissionController | None = getattr(state, "admission", None)
    pressure = admission is not None and admission.under_pressure
    return mode == "always" or (mode == "pressure" and pressure)


def _refused(refusal: Refusal, lang: Lang) -> JSONResponse:
    headers = {"Retry-After": str(refusal.retry_after_s)} if refusal.retry_after_s else None
    return error(refusal.status, refusal.code, lang, headers=headers)


@router.get(
    "/api/v1/challenge",
    summary="A proof-of-work challenge (ALTCHA); sign-ups need its solution under heavy load",
)
async def challenge(guard: SignUpGuardDep) -> JSONResponse:
    return JSONResponse(guard.challenge(), headers={"Cache-Control": "no-store"})


@dataclass(frozen=True)
class TokenHolder:
    """The caller of a route that reads or acts on a single registration, with the status
    token they showed (if any) and the language to answer in; FastAPI builds it."""

    rt: RuntimeDep
    lang: CallerLanguage
    x_status_token: Annotated[str | None, Header()] = None

    def authorised(self, registration_id: uuid.UUID) -> str:
        """``registration_id`` as text if the caller showed its status token; else the 404 of
        an unknown id (``ErrorAnswer``). One rule for every such route: a missing token is
        refused like a wrong one, so that the answer tells a guesser nothing."""
        registration = str(registration_id)
        token = self.x_status_token
        if not token or not self.rt.deps.cipher.check_status_token(registration, token):
            raise ErrorAnswer(error(404, "not_found", self.lang))
        return registration


TokenHolderDep = Annotated[TokenHolder, Depends()]


@router.get(
    "/api/v1/registrations/{registration_id}",
    response_model=RegistrationStatus,
    responses={404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    summary="Current status and history of a registration (needs its status token)",
)
async def get_registration(
    registration_id: str, caller: TokenHolderDep
) -> RegistrationStatus | JSONResponse:
    rt, lang = caller.rt, caller.lang
    # Unknown id, malformed id, missing token and wrong token all answer the same 404, so the
    # endpoint tells a guesser nothing.
    try:
        parsed = uuid.UUID(registration_id)
    except ValueError:
        return error(404, "not_found", lang)
    caller.authorised(parsed)
    try:
        row = await repository.fetch_status(rt.pool, parsed)
    except POSTGRES_UNAVAILABLE:
        headers = {"Retry-After": str(rt.settings.retry_after_s)}
        return error(503, "service_unavailable", lang, headers=headers)
    if row is None:
        return error(404, "not_found", lang)
    contact = _contact_of(row, rt)
    if (
        contact is not None
        and contact.state in ("pending", "sent")
        and contact.method in ("email", "sms")
        and row.status != "rejected"
    ):
        # The resends left, from the count the resend route keeps (issue 20): one Redis read,
        # only while the contact waits. Redis down leaves it out; a refusal still tells.
        limit = resend_limit(settings=rt.settings, redis=rt.redis)
        left = await resends_left(str(parsed), limit)
        if left is not None:
            contact = contact.model_copy(
                update={"resends_left": left, "resend_limit": limit.limit}
            )
    return RegistrationStatus(
        registration_id=row.registration_id,
        status=row.status,
        nik_last4=row.nik_last4,
        province_code=row.province_code,
        regency_code=row.regency_code,
        submitted_at=row.submitted_at,
        wave=row.wave,
        contact=contact,
        history=[
            StatusHistoryEntry(
                status=h.status,
                reason=h.reason,
                message=status_message(h.status, h.reason, h.wave, lang),
                at=h.occurred_at,
                wave=h.wave,
            )
            for h in row.history
        ],
    )


def _contact_of(row: repository.StatusRow, rt: Runtime) -> ContactProgress | None:
    bound_to = str(row.registration_id)
    try:
        personal = rt.deps.cipher.open_json(row.pii, bound_to)
        # The contact being confirmed: the sign-up's, as its changes replaced it (issue 20).
        for step in row.history:
            if step.contact_pii:
                changed = rt.deps.cipher.open_json(step.contact_pii, bound_to)
                personal.update({k: changed[k] for k in ("email", "phone") if changed.get(k)})
    except (PiiError, ValueError):
        return None  # a record we cannot open still has a status to show
    return contact_progress(
        [(h.status, h.reason) for h in row.history],
        row.channel,
        personal.get("email"),
        personal.get("phone"),
        row.submitted_at,
        changed_at=[h.occurred_at for h in row.history if h.status == "contact_changed"],
    )


def contact_progress(
    history: Sequence[tuple[str, str | None]],
    channel: str,
    email: str | None,
    phone: str | None,
    submitted_at: datetime,
    changed_at: Sequence[datetime] = (),
) -> ContactProgress | None:
    """The contact step as the verification case sees it, read from the status history.

    The same choice of channel as verification's (email first, an officer vouches for walk-ins);
    contact_pending means the message went out, contact_confirmed that the person answered.
    ``email`` and ``phone`` are the current contact, changes applied; after a change
    (contact_changed) the contact is pending again until the new contact's message is out.
    ``changed_at``: the times of the contact_changed steps, each of which moved the deadline
    as verification moved the case's (``deadline_after_change``, from the step's own time).
    """
    steps = {status for status, _ in history}
    reasons = {reason for _, reason in history if reason}
    if channel == "assisted":
        return ContactProgress(method="officer", state="confirmed", hint="")
    kinds: list[Literal["email", "phone"]] = []
    if email:
        kinds.append("email")
    if phone:
        kinds.append("phone")
    if email:
        method: Literal["email", "sms"] = "email"
        name, _, domain = email.partition("@")
        hint = f"{name[:1]}***@{domain}"
    elif phone:
        method = "sms"
        hint = f"****{phone[-4:]}"
    else:
        return None
    changes = 0
    sent = False
    for status, _ in history:
        if status == "contact_changed":
            changes, sent = changes + 1, False
        elif status == "contact_pending":
            sent = True
    state: ContactStep
    if "contact_confirmed" in steps or "verified" in steps:
        state = "confirmed"
    elif reasons & {"contact_expired", "contact_undeliverable"}:
        state = "failed"
    elif sent:
        state = "sent"
    else:
        state = "pending"
    confirm_by = None
    if state in ("pending", "sent"):
        confirm_by = submitted_at + LINK_TTL
        for at in changed_at:
            confirm_by = deadline_after_change(confirm_by, at)
    return ContactProgress(
        method=method, state=state, hint=hint, confirm_by=confirm_by, kinds=kinds, changes=changes
    )


def status_message(status: str, reason: str | None, wave: int | None, lang: Lang) -> str | None:
    """Plain words for the steps a person must understand: rejections and wave decisions."""
    if reason:
        return message(reason, lang)
    if status in ("selected", "waitlisted", "revoked"):
        return message(f"decision_{status}", lang, wave=wave)
    return None


# -- Contact confirmation ------------------------------------------------------------------

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Gelombang</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;
line-height:1.5;color:#111}}h1{{font-size:1.4rem}}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>"""


def _answer(
    request: Request, status: int, code: str, lang: Lang, headers: dict[str, str] | None = None
) -> Response:
    """People open the email link in a browser (HTML); clients asking for JSON get JSON."""
    text = message(code, lang)
    if "text/html" in request.headers.get("accept", ""):
        title = "Gelombang" if status >= 400 else ("Terkonfirmasi" if lang == "id" else "Confirmed")
        page = _PAGE.format(lang=lang, title=html.escape(title), text=html.escape(text))
        return HTMLResponse(page, status_code=status, headers=headers)
    if status >= 400:
        field = "code" if code.startswith("otp_") and not code.startswith("otp_resend_") else None
        return error(status, code, lang, field=field, headers=headers)
    return JSONResponse({"status": code, "detail": text}, status_code=status, headers=headers)


@router.get(
    "/api/v1/contact/verify",
    summary="Confirm an email address by its single-use link",
    responses={400: {"model": ErrorResponse}, 410: {"model": ErrorResponse}},
)
async def verify_email_link(
    request: Request,
    rt: RuntimeDep,
    lang: CallerLanguage,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    try:
        outcome = await confirm_email_link(
            token, datetime.now(UTC), rt.contact, _ReadModelContactStandings(rt)
        )
    except PublishFailed:
        return _answer(request, 503, "service_unavailable", lang, _retry_after(rt))
    status = {
        "confirmed": 200,
        "already_confirmed": 200,
        "link_invalid": 400,
        "link_expired": 410,
        "link_replaced": 410,
    }
    code = (
        "contact_confirmed"
        if outcome == "confirmed"
        else ("contact_already_confirmed" if outcome == "already_confirmed" else outcome)
    )
    page = _status_page_of_link(token, rt) if outcome != "link_invalid" else None
    if page is None or "text/html" in request.headers.get("accept", ""):
        return _answer(request, status[outcome], code, lang)
    # Whoever holds the link reads the email that carries the status link too, so handing it
    # back tells them nothing new: it lets the landing page lead on to the status page.
    text = message(code, lang)
    body: dict[str, object] = (
        ErrorResponse(detail=text).model_dump(mode="json")
        if status[outcome] >= 400
        else {"status": code, "detail": text}
    )
    body["status_page"] = page
    return JSONResponse(body, status_code=status[outcome])


def _status_page_of_link(token: str, rt: Runtime) -> str | None:
    try:
        registration_id = rt.contact.secrets.open_link(token, datetime.now(UTC))
    except LinkExpired as expired:
        registration_id = expired.registration_id
    except LinkInvalid:
        return None
    return status_page_path(registration_id, rt.deps.cipher.status_token(registration_id))


@router.post(
    "/api/v1/contact/otp/verify",
    summary="Confirm a phone number with the 6-digit code sent by SMS",
    responses={
        404: {"model": ErrorResponse},
        410: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
async def verify_otp(
    payload: OtpVerifyRequest, request: Request, caller: TokenHolderDep
) -> Response:
    rt, lang = caller.rt, caller.lang
    # Only the person holding the status token may guess codes for this registration.
    registration_id = caller.authorised(payload.registration_id)
    if not (len(payload.code) == 6 and payload.code.isascii() and payload.code.isdigit()):
        return error(422, "otp_format", lang, field="code")
    try:
        result = await confirm_otp(registration_id, payload.code, rt.contact)
    except (DependencyUnavailable, PublishFailed):
        return _answer(request, 503, "service_unavailable", lang, _retry_after(rt))
    if result == "ok":
        return _answer(request, 200, "contact_confirmed", lang)
    status = {"wrong": 422, "locked": 429, "expired": 410}[result]
    return _answer(request, status, f"otp_{result}", lang)


@router.post(
    "/api/v1/contact/otp/resend",
    status_code=202,
    summary=(
        "Send the contact message again: a new SMS code, or the confirmation email with its "
        "link (one request per minute; at most 5 sends per registration)"
    ),
    responses={404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
async def resend_otp(
    payload: OtpResendRequest, request: Request, caller: TokenHolderDep
) -> Response:
    rt, lang = caller.rt, caller.lang
    registration_id = caller.authorised(payload.registration_id)
    limit = resend_limit(settings=rt.settings, redis=rt.redis)
    try:
        outcome = await request_new_code(
            registration_id, rt.settings.otp_resend_cooldown_s, rt.contact, limit
        )
    except PublishFailed:
        return _answer(request, 503, "service_unavailable", lang, _retry_after(rt))
    if outcome == "too_soon":
        cooldown = {"Retry-After": str(rt.settings.otp_resend_cooldown_s)}
        return _answer(request, 429, "otp_resend_too_soon", lang, cooldown)
    if outcome == "limit":
        # No Retry-After: waiting does not help; the message says what does.
        return _limit_reached("otp_resend_limit", limit.limit, lang)
    return _answer(request, 202, "otp_resend_queued", lang)


def _limit_reached(code: str, times: int, lang: Lang) -> JSONResponse:
    # The code tells the page that asking again is pointless (the cooldown's 429 is not).
    text = message(code, lang, times=times)
    body = {**ErrorResponse(detail=text).model_dump(mode="json"), "code": code, "times": times}
    return JSONResponse(body, status_code=429)


@router.post(
    "/api/v1/contact/change",
    status_code=202,
    summary=(
        "Replace the email address or mobile number before it is confirmed: a new code or "
        "link goes to the new contact, the old one stops working (at most 3 changes, one per "
        "minute)"
    ),
    responses={
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "The contact is confirmed or the case closed"},
        429: {"model": ErrorResponse, "description": "Too soon (Retry-After) or too many changes"},
        503: {"model": ErrorResponse},
    },
)
async def change_contact(
    payload: ContactChangeRequest, request: Request, caller: TokenHolderDep
) -> Response:
    """Authorised like the resend, by the status token. 202 means the change is durable in
    Kafka; the verification worker applies it while the case still waits for its contact."""
    rt, lang = caller.rt, caller.lang
    caller.authorised(payload.registration_id)
    deps = contact_change_collaborators(
        settings=rt.settings,
        cipher=rt.deps.cipher,
        redis=rt.redis,
        standings=_ReadModelContactStandings(rt),
        publisher=rt.deps.publisher,
    )
    try:
        outcome = await request_contact_change(payload, deps)
    except PublishFailed:
        return _answer(request, 503, "service_unavailable", lang, _retry_after(rt))
    if outcome == "closed":
        body = ErrorResponse(detail=message("contact_change_closed", lang)).model_dump()
        return JSONResponse({**body, "code": "contact_change_closed"}, status_code=409)
    if outcome == "too_soon":
        wait = {"Retry-After": str(rt.settings.contact_change_cooldown_s)}
        body = ErrorResponse(detail=message("contact_change_too_soon", lang)).model_dump()
        return JSONResponse({**body, "code": "contact_change_too_soon"}, 429, headers=wait)
    if outcome == "limit":
        return _limit_reached("contact_change_limit", deps.limit, lang)
    return _answer(request, 202, "contact_change_queued", lang)


@dataclass(frozen=True)
class _ReadModelContactStandings:
    """``ContactStandings`` and ``ContactVersions`` from the read model: the contact step the
    status answer shows."""

    rt: Runtime

    async def _row(self, registration_id: str) -> repository.StatusRow | None:
        try:
            return await repository.fetch_status(self.rt.pool, uuid.UUID(registration_id))
        except POSTGRES_UNAVAILABLE as exc:
            raise DependencyUnavailable("postgres") from exc

    async def contact_version(self, registration_id: str) -> int | None:
        row = await self._row(registration_id)
        if row is None:
            return None
        return sum(1 for step in row.history if step.status == "contact_changed")

    async def awaiting_contact(self, registration_id: str) -> bool | None:
        row = await self._row(registration_id)
        if row is None:
            return None
        contact = _contact_of(row, self.rt)
        waiting = contact is not None and contact.state in ("pending", "sent")
        return waiting and row.status != "rejected"


# -- Lost status link (issue 20) -----------------------------------------------------------


@router.post(
    "/api/v1/status-link",
    status_code=202,
    response_model=StatusLinkAnswer,
    responses={
        429: {
            "model": ErrorResponse,
            "description": "Too many requests for this NIK or from this address; see Retry-After",
        },
        503: {"model": ErrorResponse, "description": "Not taken; retry after Retry-After"},
    },
    summary="Send the status link again to the email address or mobile number given at sign-up",
)
async def resend_status_link(
    payload: StatusLinkRequest,
    request: Request,
    rt: RuntimeDep,
    lang: CallerLanguage,
) -> Response:
    """The same 202 and body whether or not the NIK is registered and whether or not the
    contact is its own, after the same work (no lookup is made here): the answer tells nobody
    anything about a NIK. The link itself goes only to the contact on record, by email or SMS,
    never into this answer."""
    client_ip = request.client.host if request.client else ""
    try:
        outcome = await request_status_link(payload, client_ip, rt.status_link)
    except PublishFailed:
        return error(503, "service_unavailable", lang, headers=_retry_after(rt))
    if isinstance(outcome, Refused):
        refusal = outcome.refusal
        REQUESTS_SHED.labels(rt.settings.service_name, f"status_link_{refusal.reason}").inc()
        wait = {"Retry-After": str(refusal.retry_after_s or rt.settings.retry_after_s)}
        # The code tells the page this is a limit to wait out, not a busy site to retry at once
        # (the gateway's and admission control's 429s carry none, or their own).
        refused = ErrorResponse(detail=message("status_link_too_many", lang)).model_dump()
        return JSONResponse({**refused, "code": "status_link_too_many"}, 429, headers=wait)
    body = StatusLinkAnswer(detail=message("status_link_requested", lang))
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Cache-Control": "no-store"}
    )


def _retry_after(rt: Runtime) -> dict[str, str]:
    return {"Retry-After": str(rt.settings.retry_after_s)}


async def readiness(rt: RuntimeDep) -> Checks:
    """For the ops router's /readyz, where only Kafka decides: Redis down degrades dedupe and
    idempotency but must not take intake away (an orchestrator would pull every replica at
    once), so it is reported, not deciding."""
    kafka_ok, redis_ok = await asyncio.gather(rt.publisher.reachable(), redis_reachable(rt.redis))
    return {"kafka": kafka_ok, "redis": redis_ok}


ops = ops_router(readiness, advisory={"redis"})

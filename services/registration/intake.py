"""The waiting room's figures: GET /api/v1/intake (issue 20).

A person whose sign-up was refused for capacity waits on the page; it shows how long that
should take, from the share of sign-ups refused over the last seconds (by the gateway's intake
ceiling and by this process's admission control) and the spacing refused clients are told to
keep. The gateway caches the answer for a second, so any number of waiting pages cost one
request a second; the sign-up path itself does nothing extra: the counts are the metrics'.

The gateway's own refusals happen in nginx and never reach an API, so it hands a sample of them
(one in ``weight``) to POST /api/v1/intake/refused, which counts it and answers the same 429.
Only the gateway reaches that address: it answers 404 there to everyone else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from gelombang.admission import AdmissionController, IntakePace
from gelombang.metrics import HTTP_REQUESTS, REQUESTS_SHED

INTAKE_PATH = "/api/v1/intake"
GATEWAY_REFUSED_PATH = "/api/v1/intake/refused"
SIGN_UP_ROUTE = "/api/v1/registrations"
# Refusals for capacity; the per-address and per-NIK limits are about one client, not the crowd.
CAPACITY_REASONS = frozenset({"rate", "in_flight", "late"})
# Answers that did not take a sign-up in: refusals (429 per address or NIK, 503 when Kafka is
# down) are not "got in".
NOT_ADMITTED = frozenset({"429", "503"})

router = APIRouter()


def _total(counter: Counter, wanted: dict[str, str], skip: tuple[str, frozenset[str]]) -> float:
    total = 0.0
    for family in counter.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            if all(labels.get(k) == v for k, v in wanted.items()) and (
                labels.get(skip[0]) not in skip[1]
            ):
                total += sample.value
    return total


def sign_up_counts(service: str) -> tuple[float, float]:
    """(sign-ups that got in, requests refused for capacity) since this process started."""
    admitted = _total(
        HTTP_REQUESTS,
        {"service": service, "route": SIGN_UP_ROUTE, "method": "POST"},
        ("status", NOT_ADMITTED),
    )
    shed = 0.0
    for reason in CAPACITY_REASONS:
        shed += _total(REQUESTS_SHED, {"service": service, "reason": reason}, ("", frozenset()))
    return admitted, shed


@router.get(INTAKE_PATH, summary="How busy sign-ups are now (the waiting room's figures)")
async def intake(request: Request) -> JSONResponse:
    pace: IntakePace = request.app.state.intake_pace
    admission: AdmissionController = request.app.state.admission
    service: str = request.app.state.intake_service
    admitted, refused = sign_up_counts(service)
    now = pace.pace(admitted, refused, admission.retry_after_s)
    return JSONResponse(
        {
            "refused_share": round(now.refused_share, 3),
            "retry_after_s": now.retry_after_s,
            "estimated_wait_s": now.estimated_wait_s,
            "window_s": round(now.window_s, 1),
        },
        # The gateway keeps it for a second; so may anything else between here and the page.
        headers={"Cache-Control": "public, max-age=1"},
    )


# The gateway's own answer to a sign-up refused at its ceiling, byte for byte: a sampled refusal
# must look like any other to the client.
GATEWAY_REFUSAL_BODY = b'{"detail":"too many requests, retry later"}'


@router.post(GATEWAY_REFUSED_PATH, include_in_schema=False)
async def refused_at_gateway(
    request: Request,
    weight: Annotated[int, Query(ge=1, le=10_000)],
    retry_after: Annotated[int, Query(ge=1, le=3600)],
) -> Response:
    pace: IntakePace = request.app.state.intake_pace
    pace.refused_at_gateway(weight, retry_after)
    return Response(
        GATEWAY_REFUSAL_BODY,
        status_code=429,
        media_type="application/json",
        headers={"Retry-After": str(retry_after), "Access-Control-Expose-Headers": "Retry-After"},
    )

"""The sign-up's HTTP contract, one for every lane that takes sign-ups (the public API and the
posko lane): the error body in the caller's language, the Idempotency-Key's shape, and the 202
of an accepted sign-up. A client that handles one lane's answers handles the other's."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.messages import Lang, localize_validation_errors, message, pick_language
from gelombang.serving import ErrorHandler
from services.registration.lane import IDEMPOTENCY_KEY_MAX_LENGTH, valid_idempotency_key
from services.registration.schemas import ErrorResponse, FieldErrorOut
from services.registration.service import Accepted

__all__ = [
    "ERROR_CONTRACT",
    "FIELD_ERRORS",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "CallerLanguage",
    "ErrorAnswer",
    "ErrorResponse",
    "FieldErrorOut",
    "accepted_answer",
    "caller_language",
    "error",
    "error_answer_handler",
    "unreadable_body_handler",
    "valid_idempotency_key",
    "validation_error_handler",
]

#: For ``include_router(responses=...)``: every 422 has our field-level shape, not FastAPI's
#: default, and the OpenAPI document that clients and the schemathesis suite read says so.
FIELD_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorResponse, "description": "Field-level errors"}
}


def caller_language(accept_language: Annotated[str | None, Header()] = None) -> Lang:
    """The language of every answer to this request, from its Accept-Language header."""
    return pick_language(accept_language)


CallerLanguage = Annotated[Lang, Depends(caller_language)]


def error(
    status: int,
    code: str,
    lang: Lang,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    text = message(code, lang)
    errors = [FieldErrorOut(field=field, code=code, message=text)] if field is not None else []
    body = ErrorResponse(detail=text, errors=errors)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = pick_language(request.headers.get("accept-language"))
    field_errors = localize_validation_errors(exc.errors(), lang)
    body = ErrorResponse(
        detail=message("validation_failed", lang),
        errors=[FieldErrorOut(field=e.field, code=e.code, message=e.message) for e in field_errors],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=422)


async def unreadable_body_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers a bare 400 when a JSON body is not even text (invalid UTF-8). For the
    # client that is bad JSON like any other: the same localized 422 keeps one error contract.
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        invalid = RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}]
        )
        return await validation_error_handler(request, invalid)
    return await http_exception_handler(request, exc)


class ErrorAnswer(Exception):
    """Raised where returning is not possible (a dependency) or would repeat itself in every
    route; ``error_answer_handler`` sends ``response`` as is."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


async def error_answer_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ErrorAnswer)
    return exc.response


#: For ``gelombang.serving.api_app(handlers=...)``: validation errors and unreadable bodies
#: answered with the field-level 422, and ``ErrorAnswer`` with its own answer.
ERROR_CONTRACT: dict[type[Exception], ErrorHandler] = {
    RequestValidationError: validation_error_handler,
    StarletteHTTPException: unreadable_body_handler,
    ErrorAnswer: error_answer_handler,
}


def accepted_answer(public_base_url: str, outcome: Accepted) -> Response:
    """The 202 of a durable sign-up: its id, status token and status URL (also in Location);
    ``Idempotent-Replayed`` when it is the first answer again."""
    # Encoded here rather than through a response model: three strings we made ourselves,
    # and the model's validation and encoding cost more than the rest of the public answer.
    url = f"{public_base_url}/api/v1/registrations/{outcome.registration_id}"
    body = {
        "registration_id": outcome.registration_id,
        "status_token": outcome.status_token,
        "status_url": url,
    }
    headers = {"Location": url}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=202,
        headers=headers,
        media_type="application/json",
    )

"""The ceiling for ``make bench``: the sign-up endpoint with nothing behind its validation.

Same request model (``RegistrationRequest``, including the NIK and region checks), same way in
(``services.registration.lane``, the API's plain-ASGI sign-up lane), same server (uvicorn with
uvloop and httptools, no access log), one process per API process of the stack. The
intake's knee divided by this is how much of the machine the real work (Redis, Postgres, Kafka
acks=all, the gateway) leaves for sign-ups.

``python -m loadtests.ceiling --port 8100``; ``make bench`` starts and stops these itself.
"""

from __future__ import annotations

import argparse
import json
import uuid

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from services.registration.lane import SignUpCall, SignUpLane, sign_up_route
from services.registration.schemas import RegistrationAccepted, RegistrationRequest


async def _accept(payload: RegistrationRequest, call: SignUpCall) -> Response:
    """A 202 of the registration API's shape, with nothing behind it."""
    registration_id = str(uuid.uuid4())
    status_url = f"http://127.0.0.1/api/v1/registrations/{registration_id}"
    body = {"registration_id": registration_id, "status_token": "x" * 32, "status_url": status_url}
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=202,
        headers={"Location": status_url},
        media_type="application/json",
    )


def create_app() -> FastAPI:
    app = FastAPI(title="Gelombang ceiling (bench only)")

    @app.post("/api/v1/registrations", status_code=202, response_model=RegistrationAccepted)
    async def accept(payload: RegistrationRequest) -> Response:
        # What the lane sends on to the framework (invalid sign-ups) ends here, as in the API.
        return await _accept(payload, SignUpCall("", None, None, None))

    # The registration API's own lane: valid sign-ups take the same way past the framework.
    app.add_middleware(SignUpLane, handle=_accept, route=sign_up_route(app))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(app: FastAPI, port: int) -> None:
    """As the registration API serves (uvloop, httptools, no access log): the bench's
    yardsticks must differ from it only in what they do per request."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    serve(create_app(), args.port)


if __name__ == "__main__":
    main()

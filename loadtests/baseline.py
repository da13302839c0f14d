"""The yardstick for ``make bench``: the 2020 design, validate then INSERT, in one process.

The same request model as the registration API (``RegistrationRequest``: NIK, region, age and
contact checks), the same server (uvicorn with uvloop and httptools, no access log), then one
synchronous INSERT per sign-up into the stack's Postgres, committed on its own (autocommit), and
a 201 once Postgres has it. A unique index on the NIK makes a second sign-up a 409, as any such
service would. This is the design that fell over in April 2020; the log-based intake must take at
least as many sign-ups per second as this, process for process (DESIGN.md, Performance targets).

Its table lives in a schema of its own (``bench_baseline``), dropped and made anew at start, so
nothing of the product reads it.

``python -m loadtests.baseline --port 8110``; ``make bench`` starts and stops it itself.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gelombang.postgres import create_pool
from gelombang.settings import CommonSettings
from loadtests.ceiling import serve
from services.registration.schemas import RegistrationRequest

SCHEMA = "bench_baseline"
_SETUP = (
    f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
    f"CREATE SCHEMA {SCHEMA}",
    f"""CREATE TABLE {SCHEMA}.registrations (
        registration_id uuid PRIMARY KEY,
        nik text NOT NULL UNIQUE,
        full_name text NOT NULL,
        birth_date date NOT NULL,
        gender text NOT NULL,
        email text,
        phone text,
        province_code text NOT NULL,
        regency_code text NOT NULL,
        employment_status text NOT NULL,
        receives_social_aid boolean NOT NULL,
        status text NOT NULL DEFAULT 'submitted',
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
)
_INSERT = f"""INSERT INTO {SCHEMA}.registrations (registration_id, nik, full_name, birth_date,
    gender, email, phone, province_code, regency_code, employment_status, receives_social_aid)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"""  # noqa: S608 - a constant


def create_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        conn = await asyncpg.connect(database_url)
        try:
            for statement in _SETUP:
                await conn.execute(statement)
        finally:
            await conn.close()
        # As many connections as the registration API's pool may use.
        app.state.pool = await create_pool(database_url, min_size=10, max_size=10)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="Gelombang 2020-design baseline (bench only)", lifespan=lifespan)

    @app.post("/api/v1/registrations", status_code=201)
    async def register(payload: RegistrationRequest, request: Request) -> JSONResponse:
        registration_id = uuid.uuid4()
        pool: asyncpg.Pool = request.app.state.pool
        try:
            await pool.execute(
                _INSERT,
                registration_id,
                payload.nik,
                payload.full_name,
                payload.birth_date,
                payload.gender,
                payload.email,
                payload.phone,
                payload.province_code,
                payload.regency_code,
                payload.employment_status,
                payload.receives_social_aid,
            )
        except asyncpg.UniqueViolationError:
            return JSONResponse({"detail": "NIK already registered"}, status_code=409)
        return JSONResponse({"registration_id": str(registration_id)}, status_code=201)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8110)
    args = parser.parse_args()
    serve(create_app(CommonSettings().database_url), args.port)


if __name__ == "__main__":
    main()

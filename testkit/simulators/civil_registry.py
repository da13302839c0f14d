"""Civil-registry (Dukcapil) simulator: ``python -m testkit.simulators.civil_registry``.

Answers match / mismatch / not_found for (NIK, name, birth date) from the synthetic population in
``testkit.population``, behind the latency, errors, outages and rate limit of ``faults``.
Defaults (40 ± 30 ms, 1% errors, 300 requests/s) are those of a ministry API shared by many
programmes: fast enough normally, and the rate limit is what a 1,300 sign-ups/s peak runs into.

Nothing here logs a request: bodies are NIKs, names and birth dates, and there is no access log.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, HTTPException
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from gelombang.logs import get_logger
from gelombang.metrics import RequestMetricsMiddleware
from gelombang.probes import Checks, ops_router
from testkit.population import POPULATION_SEED, citizen_for, registry_check
from testkit.simulators.faults import FaultConfig, Faults, install_faults
from testkit.simulators.serving import HttpSimulator

SIMULATOR = HttpSimulator(
    service="civil-registry-sim",
    env_prefix="GELOMBANG_REGISTRY_SIM_",
    faults=FaultConfig(latency_ms=40, jitter_ms=30, error_rate=0.01, rate_limit_per_s=300),
)

REGISTRY_REQUESTS = Counter(
    "registry_sim_requests_total", "NIK verifications answered, by result", ["result"]
)

log = get_logger(__name__)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nik: Annotated[str, Field(max_length=32)]
    full_name: Annotated[str, Field(min_length=1, max_length=200)]
    birth_date: date


class VerifyResponse(BaseModel):
    result: Literal["match", "mismatch", "not_found"]
    mismatched_fields: list[str]


def create_app(faults: Faults, api_key: str | None = None, seed: str = POPULATION_SEED) -> FastAPI:
    """``api_key`` None accepts any non-empty key, as the dev sandbox of such an API does."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Loads the region table (~0.5 s) before the first request instead of during it.
        citizen_for("3275011708900001", seed)
        log.info("started", faults=faults.config.model_dump())
        yield

    app = FastAPI(title="Civil registry simulator", version="1", lifespan=lifespan)
    apply_faults = install_faults(app, faults)

    async def require_api_key(x_api_key: Annotated[str, Header()] = "") -> None:
        # Bytes: compare_digest raises TypeError on non-ASCII str (a header's latin-1 text).
        if not x_api_key or (
            api_key is not None and not secrets.compare_digest(x_api_key.encode(), api_key.encode())
        ):
            REGISTRY_REQUESTS.labels("unauthorized").inc()
            raise HTTPException(401, "missing or invalid X-Api-Key")

    @app.post(
        "/v1/nik/verify",
        dependencies=[Depends(require_api_key), Depends(apply_faults)],
    )
    async def verify(body: VerifyRequest) -> VerifyResponse:
        result, fields = registry_check(body.nik, body.full_name, body.birth_date, seed)
        REGISTRY_REQUESTS.labels(result).inc()
        return VerifyResponse(result=result, mismatched_fields=fields)

    async def readiness() -> Checks:
        # Nothing to wait for once started: the population needs no storage.
        return {"population": True}

    app.include_router(ops_router(readiness))
    app.add_middleware(RequestMetricsMiddleware, service=SIMULATOR.service)
    return app


def main() -> None:
    parser = SIMULATOR.parser("Civil registry (Dukcapil) simulator", 8091, "X-Api-Key")
    parser.add_argument(
        "--seed",
        default=os.environ.get("GELOMBANG_POPULATION_SEED", POPULATION_SEED),
        help="population seed; load tests must use the same one",
    )
    SIMULATOR.serve(parser, lambda faults, args: create_app(faults, args.api_key, args.seed))


if __name__ == "__main__":
    main()

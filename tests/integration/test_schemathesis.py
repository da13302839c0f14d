"""Hostile input against the live OpenAPI of every HTTP service: never a 5xx, and every answer
matches the schema the service publishes.

Each target is one bounded ``st run`` (schemathesis CLI) against a process on loopback. In
``make test`` each target gets a quick fuzzing pass (a few dozen cases per operation, capped in
time); ``make fuzz`` (part of ``make chaos``) sets ``GELOMBANG_FUZZ_SECONDS`` and runs every
phase (examples, coverage, fuzzing, stateful) for that long per target.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from gelombang.settings import REPO_ROOT, AdminSettings
from loadtests.officer import provision_officer

pytestmark = pytest.mark.integration

ST = str(REPO_ROOT / ".venv" / "bin" / "st")
LONG_BUDGET_S = os.environ.get("GELOMBANG_FUZZ_SECONDS")
# Schemathesis's fuzzing phase runs until the clock stops it (thousands of cases in 40 s), so
# the budget is what bounds the quick pass. 8 s was too tight: four runs share two cores with the
# whole stack, and one CI run spent 7.5 s warming the generator and ended with no case sent.
BUDGET_S = int(LONG_BUDGET_S or "20")
# The coverage phase builds all its cases before it looks at the clock, so the quick pass skips
# it; --max-examples keeps the examples phase short so fuzzing gets most of the budget.
QUICK = ("--phases", "examples,fuzzing", "--max-examples", "25")
# Four at a time: each run mostly waits on the services, and the machine has two cores.
PARALLEL = int(os.environ.get("GELOMBANG_FUZZ_PARALLEL", "4"))
REPORTS = REPO_ROOT / "reports" / "schemathesis"

# Excluded checks, and why:
# - positive_data_acceptance: the APIs are stricter than JSON Schema can say (a NIK must agree
#   with the birth date, a regency must lie in its province), so "schema-valid" data is often
#   rightly refused with a field-level 422.
# - ensure_resource_availability, use_after_free: they assume a created resource can be read
#   back at once; registrations appear in the read model only after the projector ran.
# - negative_data_rejection: pydantic's lax mode takes a number for a date-time (a Unix time) or
#   "1" for an integer; accepting such a value harms nobody, so it is not a finding.
# - allow_header_conformance: Starlette lists only the first matching route's methods in a
#   405's Allow header when GET and POST are separate routes; harmless and not ours to change.
EXCLUDED_CHECKS = (
    "positive_data_acceptance,negative_data_rejection,ensure_resource_availability,"
    "use_after_free,allow_header_conformance"
)


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    headers: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    # None: every check but EXCLUDED_CHECKS.
    checks: str | None = None


def admin_token() -> str:
    return AdminSettings().effective_admin_token


def new_officer_key() -> str:
    """A fresh posko and officer, made the way an admin does, so fuzzing stays in its posko."""
    return provision_officer("http://127.0.0.1:8010", posko_name="Posko Uji Fuzz").api_key


def targets() -> list[Target]:
    admin = f"Authorization: Bearer {admin_token()}"
    return [
        Target("registration", 8000),
        # Officer lane with a real key: generated people may be accepted, in a posko of their own.
        Target(
            "assisted-officer",
            8010,
            (f"Authorization: Bearer {new_officer_key()}",),
            ("--exclude-path-regex", "/admin/"),
        ),
        # Admin reads only: creating posko and officers from generated data would litter the
        # shared dev database, and writes without the token are covered below and in
        # test_security.py.
        Target(
            "assisted-admin",
            8010,
            (admin,),
            ("--include-path-regex", "/admin/", "--exclude-method", "POST"),
        ),
        # No key at all: every officer and admin operation must answer its documented 401.
        Target("assisted-anonymous", 8010),
        Target("selection-read", 8020, (admin,), ("--include-method", "GET")),
        # Admin writes only without the token (all must be refused). With it, even "negative"
        # data is not safe on a shared database: pydantic's lax mode turns a number into a
        # date, and such a case once created and closed a real wave. Fuzzing admin writes with
        # the token needs a disposable database (open in issue 9).
        Target("selection-anonymous", 8020, (), ("--exclude-method", "GET")),
        # Simulators stand in for systems we do not own; their fault switches and mailbox reset
        # belong to other tests, /metrics is Prometheus text, 401 for a wrong API key is the
        # real providers' behaviour they mimic, and they answer a share of requests with a 5xx
        # on purpose (error_rate). What is checked: every answer they document is well-formed.
        *(
            Target(
                name,
                port,
                (),
                (
                    "--exclude-path-regex",
                    "^/(admin/faults|metrics)$",
                    "--exclude-method",
                    "DELETE",
                ),
                "response_schema_conformance,content_type_conformance",
            )
            for name, port in (("civil-registry-sim", 8091), ("sms-gateway-sim", 8092))
        ),
    ]


@dataclass(frozen=True)
class Outcome:
    target: Target
    returncode: int
    output: str

    @property
    def cases(self) -> int:
        found = re.search(r"(\d+) generated", self.output)
        return int(found.group(1)) if found else 0

    def failures(self) -> str:
        start = self.output.find("FAILURES")
        return self.output[start:][:6000] if start >= 0 else self.output[-3000:]


def fuzz(target: Target) -> Outcome:
    command = [
        ST,
        "run",
        f"http://127.0.0.1:{target.port}/openapi.json",
        "--max-time",
        str(BUDGET_S),
        "--request-timeout",
        "10",
        "--no-color",
        *(
            ("--checks", "all", "--exclude-checks", EXCLUDED_CHECKS)
            if target.checks is None
            else ("--checks", target.checks)
        ),
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(REPORTS / f"{target.name}.xml"),
    ]
    for header in target.headers:
        command += ["-H", header]
    command += target.options
    if LONG_BUDGET_S is None:
        command += QUICK
    # The CLI stops itself after --max-time; the timeout only guards against a hang.
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 90,
        cwd=REPORTS,
        check=False,
    )
    return Outcome(target, result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    REPORTS.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return {o.target.name: o for o in pool.map(fuzz, targets())}


NAMES = (
    "registration",
    "assisted-officer",
    "assisted-admin",
    "assisted-anonymous",
    "selection-read",
    "selection-anonymous",
    "civil-registry-sim",
    "sms-gateway-sim",
)


@pytest.mark.parametrize("name", NAMES)
def test_generated_requests_never_get_a_5xx_or_an_answer_outside_the_schema(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = outcomes[name]
    assert outcome.cases > 0, f"{name}: schemathesis generated nothing\n{outcome.output[-3000:]}"
    assert outcome.returncode == 0, f"{name}: {outcome.cases} cases\n{outcome.failures()}"

"""What the Locust users do with the answers they get: failures counted, 202s kept, id files.

The cases run in one child process (``python -m tests.unit.test_locust_users <dir>``): importing
Locust makes gevent patch the standard library, which must not happen inside the test session,
and importing it once takes seconds. The child swaps the users' HTTP sending for canned answers,
so no socket is opened; the rest (Locust's request events, catch_response, statistics) is
Locust's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gelombang.settings import REPO_ROOT

PHONE = "+6281234567890"


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("locust")
    child = subprocess.run(
        [sys.executable, "-m", "tests.unit.test_locust_users", str(base)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "LOAD_IDS_DIR": str(base / "unused")},
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return {**result, "base": base}


def test_a_failed_or_unreadable_sms_inbox_is_a_failed_request_not_a_traceback(
    cases: dict[str, Any],
) -> None:
    result = cases["inbox"]
    # Timed out, 503, HTML, JSON without messages: four failures; then the code, once.
    assert result["inbox"] == {"requests": 5, "failures": 4}
    assert sorted(result["errors"]) == [
        "200 without a list of messages",
        "200 without a list of messages",
        "503 (expected 200)",
        "no answer",
    ]
    assert result["confirmations"] == 1 and result["code_sent"] == "654321"
    assert result["confirmed"] is True
    assert result["inbox_query"]["since"] == "2026-12-03T10:00:00.000000Z"


def test_every_202_is_kept_for_the_reconciliation_and_counted_apart(
    cases: dict[str, Any],
) -> None:
    result = cases["accepted"]
    ids_dir: Path = cases["base"] / "worker"
    assert result["files"] == [f"load-ids-{result['pid']}.json"]
    written = json.loads((ids_dir / result["files"][0]).read_text())
    # "meant-409": a repeat the API accepted anyway is a registration to reconcile too;
    # "slow": an officer answered after 1 s is a failure in Locust and still accepted.
    assert written["ids"] == ["first", "meant-409", "slow"]
    # One 202 had no readable body: counted by the hook, no id, so the files hold one id fewer.
    assert written["answered_202"] == 4
    assert result["failures"] == {
        "sign-up": 1,
        "sign-up (duplicate)": 1,
        "officer sign-up": 1,
    }


def test_the_master_of_several_processes_writes_no_id_file(cases: dict[str, Any]) -> None:
    assert cases["master"]["files"] == []


# ---- the child's side ------------------------------------------------------------------------


class _Answer:
    """What geventhttpclient hands Locust for one answer."""

    def __init__(self, status: int, body: bytes) -> None:
        from geventhttpclient.header import Headers

        self._status = status
        self._body = body
        self._headers_index = Headers([("content-type", "application/json")])

    def get_code(self) -> int:
        return self._status

    def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        pass


Canned = Callable[[str, str, dict[str, Any]], Any]


def _answers(responses: list[tuple[int, bytes] | Exception]) -> Canned:
    from locust.contrib.fasthttp import ErrorResponse, FastResponse

    queue: Iterator[tuple[int, bytes] | Exception] = iter(responses)

    def send(method: str, url: str, kwargs: dict[str, Any]) -> Any:
        answer = next(queue)
        if isinstance(answer, Exception):
            return ErrorResponse(None, answer)  # type: ignore[arg-type]
        return FastResponse(_Answer(*answer))  # type: ignore[arg-type]

    return send


def _install(user: Any, canned: Canned, seen: list[tuple[str, str, dict[str, Any]]]) -> None:
    def send(method: str, url: str, **kwargs: Any) -> Any:
        seen.append((method, url, kwargs))
        return canned(method, url, kwargs)

    user.client._send_request_safe_mode = send


HOST = "http://127.0.0.9"  # never connected to: sending is swapped out


def _environment(user_classes: list[Any]) -> Any:
    from locust import events
    from locust.env import Environment

    for user_class in user_classes:
        user_class.host = HOST  # what a runner does when it starts the users
    environment = Environment(user_classes=user_classes, events=events, host=HOST)
    environment.create_local_runner()  # its request listener keeps the statistics
    return environment


def _failures(environment: Any) -> dict[str, int]:
    entries = environment.stats.entries.values()
    return {e.name: e.num_failures for e in entries if e.num_failures}


def _inbox_case() -> dict[str, Any]:
    from loadtests.locust_mix import Person, PublicUser

    environment = _environment([PublicUser])
    user = PublicUser(environment)
    user.on_start()
    person = Person({"phone": PHONE}, "rid-1", "token-1", "2026-12-03T10:00:00.000000Z")
    user.people.append(person)
    message = {"to": PHONE, "text": "Kode verifikasi Gelombang: 654321"}
    seen: list[tuple[str, str, dict[str, Any]]] = []
    canned = _answers(
        [
            TimeoutError("timed out"),
            (503, b'{"error": "unavailable"}'),
            (200, b"<html>busy</html>"),
            (200, b'{"detail": "no"}'),
            (200, json.dumps({"messages": [message]}).encode()),
            (200, b'{"status": "confirmed"}'),
        ]
    )
    _install(user, canned, seen)
    for _ in range(5):
        user.confirm_phone()  # raising here fails the case: never a traceback
    inbox = environment.stats.entries[("sms inbox", "GET")]
    confirmations = environment.stats.entries[("contact confirmation", "POST")]
    verify_body = json.loads(seen[-1][2]["payload"])
    return {
        "inbox": {"requests": inbox.num_requests, "failures": inbox.num_failures},
        "errors": [
            str(e.error)
            for e in environment.stats.errors.values()
            if e.name == "sms inbox"
            for _ in range(e.occurrences)
        ],
        "confirmations": confirmations.num_requests,
        "code_sent": verify_body["code"],
        "confirmed": person.confirmed,
        "inbox_query": seen[0][2]["params"],
    }


def _accepted_case(ids_dir: Path) -> dict[str, Any]:
    from loadtests import locust_common
    from loadtests.locust_common import OfficerUser, SignUpUser, write_accepted

    class Public(SignUpUser):
        pass

    class Officer(OfficerUser):
        target_ms = 0  # every answer is "over 1 s" without waiting one

    environment = _environment([Public, Officer])
    public = Public(environment)
    seen: list[tuple[str, str, dict[str, Any]]] = []
    canned = _answers(
        [
            (202, b'{"registration_id": "first", "status_token": "t"}'),
            (202, b'{"registration_id": "meant-409"}'),
            (202, b"<html>accepted</html>"),
            (409, b'{"detail": "duplicate"}'),
            (202, b'{"registration_id": "slow"}'),
        ]
    )
    _install(public, canned, seen)
    public.sign_up({"nik": "1"})
    public.sign_up({"nik": "2"}, expect=409)
    public.sign_up({"nik": "3"})
    public.sign_up({"nik": "2"}, expect=409)
    officer = Officer(environment)
    officer._authorization = "Bearer k"
    _install(officer, canned, seen)
    officer.walk_in()
    locust_common.IDS_DIR = ids_dir
    write_accepted(environment=environment)
    return {
        "pid": os.getpid(),
        "failures": _failures(environment),
        "files": sorted(p.name for p in ids_dir.iterdir()),
    }


def _master_case(ids_dir: Path) -> dict[str, Any]:
    from locust import events
    from locust.env import Environment
    from locust.runners import MasterRunner

    from loadtests import locust_common

    locust_common.ACCEPTED.ids.append("the workers' id")
    locust_common.IDS_DIR = ids_dir
    # A master without its sockets: only its type matters here.
    environment = Environment(events=events)
    environment.runner = MasterRunner.__new__(MasterRunner)
    locust_common.write_accepted(environment=environment)
    locust_common.ACCEPTED.ids.clear()
    return {"files": sorted(p.name for p in ids_dir.iterdir()) if ids_dir.exists() else []}


def _child(base: Path) -> dict[str, Any]:
    results = {"master": _master_case(base / "master")}
    results["inbox"] = _inbox_case()
    results["accepted"] = _accepted_case(base / "worker")
    return results


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]))))

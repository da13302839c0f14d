"""Offline-tolerant posko client: ``python -m testkit.posko_client [--db PATH] COMMAND``.

A small program for posko laptops on a flaky connection. Entries are checked with the same rules
as the server and queued in a local SQLite file (``~/.gelombang-posko.sqlite`` by default); each
gets its Idempotency-Key when it is added, so ``sync`` can be repeated any number of times
(after a dropped connection, a crash, a lost answer) and the server still registers each person
once.

    add --nik ... --full-name ... --birth-date YYYY-MM-DD ... --consent --attest
    add --csv people.csv          # same columns as the bulk upload
    sync                          # send what is pending; keeps it pending when offline
    status                        # pending / sent / accepted / rejected, refreshed from the server

States: ``pending`` (not sent yet, or the server could not be reached), ``sent`` (a request went
out but no answer came back; resent with the same key next time), ``accepted`` (202: durable at
the server), ``rejected`` (a 4xx answer, or verification rejected it later; with the reasons).
The server address and officer key come from ``--url``/``--key`` or ``GELOMBANG_POSKO_URL`` and
``GELOMBANG_OFFICER_KEY``. Personal data is kept locally only until the server accepts an entry.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from gelombang.messages import Lang, localize_validation_errors, message, pick_language
from services.assisted.schemas import AssistedRegistrationRequest
from services.assisted.service import CsvRejected, FieldProblem, parse_csv

DEFAULT_DB = Path.home() / ".gelombang-posko.sqlite"
DEFAULT_URL = "http://127.0.0.1:8080"
REGISTRATIONS = "/api/v1/assisted/registrations"
State = Literal["pending", "sent", "accepted", "rejected"]
STATES: tuple[State, ...] = ("pending", "sent", "accepted", "rejected")
# How long sync waits on a 429/503 Retry-After before trying the same entry again, at most.
MAX_RETRY_WAIT_S = 10.0
BUSY_RETRIES = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    payload         TEXT,               -- JSON body; removed once the server accepted it
    nik_last4       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    reasons         TEXT    NOT NULL DEFAULT '[]',  -- [{"field", "code"}]
    registration_id TEXT,
    status_token    TEXT,
    server_status   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    added_at        TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    id: int
    idempotency_key: str
    payload: dict[str, Any] | None
    nik_last4: str
    state: State
    reasons: list[FieldProblem]
    registration_id: str | None
    status_token: str | None
    server_status: str | None
    attempts: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Queue:
    """The local SQLite queue; every state change is committed at once (a laptop may die)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        new = str(path) != ":memory:" and not self.path.exists()
        self._db = sqlite3.connect(str(path))
        if new:
            self.path.chmod(0o600)  # it holds walk-ins' personal data until they are accepted
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, request: AssistedRegistrationRequest, key: str | None = None) -> Entry:
        payload = request.model_dump(mode="json")
        with self._db:
            cursor = self._db.execute(
                """INSERT INTO entries (idempotency_key, payload, nik_last4, state, added_at,
                                        updated_at)
                   VALUES (?, ?, ?, 'pending', ?, ?)""",
                (key or str(uuid.uuid4()), json.dumps(payload), request.nik[-4:], _now(), _now()),
            )
        entry_id = cursor.lastrowid
        assert entry_id is not None
        return self.get(entry_id)

    def get(self, entry_id: int) -> Entry:
        [entry] = [e for e in self.entries() if e.id == entry_id]
        return entry

    def entries(self, *states: State) -> list[Entry]:
        rows = self._db.execute(
            "SELECT id, idempotency_key, payload, nik_last4, state, reasons, registration_id,"
            " status_token, server_status, attempts FROM entries ORDER BY id"
        ).fetchall()
        return [
            Entry(
                id=r[0],
                idempotency_key=r[1],
                payload=json.loads(r[2]) if r[2] is not None else None,
                nik_last4=r[3],
                state=r[4],
                reasons=[FieldProblem(x["field"], x["code"]) for x in json.loads(r[5])],
                registration_id=r[6],
                status_token=r[7],
                server_status=r[8],
                attempts=r[9],
            )
            for r in rows
            if not states or r[4] in states
        ]

    def _update(self, entry_id: int, **values: Any) -> None:
        values["updated_at"] = _now()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._db:
            self._db.execute(
                f"UPDATE entries SET {columns} WHERE id = ?",  # noqa: S608 - our column names
                (*values.values(), entry_id),
            )

    def mark_sending(self, entry_id: int) -> None:
        # Before the request leaves: if the laptop dies now, the entry shows "sent" and the next
        # sync sends it again with the same key.
        with self._db:
            self._db.execute(
                "UPDATE entries SET state = 'sent', attempts = attempts + 1, updated_at = ?"
                " WHERE id = ?",
                (_now(), entry_id),
            )

    def mark_pending(self, entry_id: int) -> None:
        self._update(entry_id, state="pending")

    def mark_accepted(self, entry_id: int, registration_id: str, status_token: str) -> None:
        self._update(
            entry_id,
            state="accepted",
            payload=None,
            reasons="[]",
            registration_id=registration_id,
            status_token=status_token,
            server_status="submitted",
        )

    def mark_rejected(self, entry_id: int, reasons: Sequence[FieldProblem]) -> None:
        self._update(entry_id, state="rejected", reasons=_reasons_json(reasons))

    def set_server_status(self, entry_id: int, status: str, reason: str | None) -> None:
        if status == "rejected":
            reasons = [FieldProblem("", reason or "rejected")]
            self._update(
                entry_id, server_status=status, state="rejected", reasons=_reasons_json(reasons)
            )
        else:
            self._update(entry_id, server_status=status)


def _reasons_json(reasons: Sequence[FieldProblem]) -> str:
    return json.dumps([{"field": r.field, "code": r.code} for r in reasons])


# -- Sync -------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    accepted: int = 0
    rejected: int = 0
    still_pending: int = 0
    stopped: str | None = None  # why sync stopped early: offline, unauthorized, busy


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after", "1")
    try:
        return min(MAX_RETRY_WAIT_S, max(0.0, float(raw)))
    except ValueError:
        return 1.0


def _reasons_from(response: httpx.Response) -> list[FieldProblem]:
    try:
        body = response.json()
    except ValueError:
        return [FieldProblem("", f"http_{response.status_code}")]
    errors = body.get("errors") if isinstance(body, dict) else None
    reasons = [
        FieldProblem(str(e.get("field", "")), str(e.get("code", "invalid")))
        for e in errors or []
        if isinstance(e, dict)
    ]
    return reasons or [FieldProblem("", f"http_{response.status_code}")]


def sync(
    queue: Queue,
    client: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncReport:
    """Send every pending (and unanswered ``sent``) entry, in the order they were added."""
    report = SyncReport()
    for entry in queue.entries("pending", "sent"):
        if report.stopped is not None:
            report.still_pending += 1
            continue
        assert entry.payload is not None
        headers = {"Idempotency-Key": entry.idempotency_key}
        for attempt in range(BUSY_RETRIES + 1):
            queue.mark_sending(entry.id)
            try:
                response = client.post(REGISTRATIONS, json=entry.payload, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Never reached the server: plainly still pending.
                queue.mark_pending(entry.id)
                report.stopped = "offline"
                break
            except httpx.TransportError:
                # The request may have arrived: it stays "sent" and is resent with the same key.
                report.stopped = "offline"
                break
            if response.status_code == 202:
                body = response.json()
                queue.mark_accepted(entry.id, body["registration_id"], body["status_token"])
                report.accepted += 1
                break
            if response.status_code in (429, 502, 503, 504) or response.status_code >= 500:
                queue.mark_pending(entry.id)
                if attempt < BUSY_RETRIES:
                    sleep(_retry_after(response))
                    continue
                report.stopped = "busy"
                break
            if response.status_code == 401:
                queue.mark_pending(entry.id)
                report.stopped = "unauthorized"
                break
            queue.mark_rejected(entry.id, _reasons_from(response))
            report.rejected += 1
            break
        if report.stopped is not None:
            report.still_pending += 1
    return report


def refresh(queue: Queue, client: httpx.Client, max_pages: int = 50) -> int:
    """Update accepted entries with their current status from the posko's list; returns how
    many were found. Raises ``httpx.HTTPError`` when the server cannot be reached."""
    waiting = {e.registration_id: e for e in queue.entries("accepted") if e.registration_id}
    found = 0
    before: str | None = None
    for _ in range(max_pages):
        if not waiting:
            break
        params: dict[str, str | int] = {"limit": 500}
        if before is not None:
            params["before"] = before
        response = client.get(REGISTRATIONS, params=params)
        response.raise_for_status()
        body = response.json()
        for item in body["items"]:
            entry = waiting.pop(item["registration_id"], None)
            if entry is not None:
                queue.set_server_status(entry.id, item["status"], item.get("reason"))
                found += 1
        before = body.get("next_before")
        if before is None:
            break
    return found


# -- Command line -----------------------------------------------------------------------------


def _http_client(args: argparse.Namespace) -> httpx.Client:
    key = args.key or os.environ.get("GELOMBANG_OFFICER_KEY", "")
    if not key:
        raise SystemExit("error: no officer key: pass --key or set GELOMBANG_OFFICER_KEY")
    return httpx.Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {key}", "Accept-Language": args.lang},
        timeout=httpx.Timeout(15.0, connect=5.0),
    )


def _describe(reasons: Sequence[FieldProblem], lang: Lang) -> str:
    return "; ".join(
        f"{r.field + ': ' if r.field else ''}{message(r.code, lang)} [{r.code}]" for r in reasons
    )


def _request_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "nik": args.nik,
        "full_name": args.full_name,
        "birth_date": args.birth_date,
        "gender": args.gender,
        "email": args.email,
        "phone": args.phone,
        "province_code": args.province,
        "regency_code": args.regency,
        "employment_status": args.employment_status,
        "in_formal_education": args.in_formal_education,
        "receives_social_aid": args.receives_social_aid,
        "consent": args.consent,
        "attested_id_card_seen": args.attest,
    }
    return {k: v for k, v in body.items() if v is not None}


def _cmd_add(args: argparse.Namespace, queue: Queue, lang: Lang) -> int:
    if args.csv is not None:
        try:
            rows = parse_csv(Path(args.csv).read_bytes(), max_rows=10_000)
        except CsvRejected as exc:
            print(f"error: {message(exc.code, lang, detail=exc.detail)}", file=sys.stderr)
            return 2
        added = 0
        for row in rows:
            if row.request is None:
                reasons = list(row.problems)
                print(f"row {row.row_number}: not added: {_describe(reasons, lang)}")
                continue
            queue.add(row.request)
            added += 1
        print(f"{added} added to the queue, {len(rows) - added} rows with problems")
        return 0 if added == len(rows) else 1
    missing = [
        flag
        for flag, value in (
            ("--nik", args.nik),
            ("--full-name", args.full_name),
            ("--birth-date", args.birth_date),
            ("--province", args.province),
            ("--regency", args.regency),
            ("--employment-status", args.employment_status),
        )
        if value is None
    ]
    if missing:
        print(f"error: give --csv FILE or all of: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        request = AssistedRegistrationRequest.model_validate(_request_from_flags(args))
    except ValidationError as exc:
        for problem in localize_validation_errors(exc.errors(), lang):
            print(f"{problem.field or 'input'}: {problem.message} [{problem.code}]")
        return 2
    entry = queue.add(request)
    print(f"queued #{entry.id} (NIK ****{entry.nik_last4}); run `sync` to send it")
    return 0


def _cmd_sync(args: argparse.Namespace, queue: Queue, lang: Lang) -> int:
    with _http_client(args) as client:
        report = sync(queue, client)
    print(f"accepted {report.accepted}, rejected {report.rejected}, pending {report.still_pending}")
    if report.stopped == "offline":
        print("the server could not be reached: entries stay queued; run `sync` again later")
    elif report.stopped == "busy":
        print("the server is busy: entries stay queued; run `sync` again in a minute")
    elif report.stopped == "unauthorized":
        print("the officer key was refused (unknown or revoked): ask the admin for a new one")
        return 1
    return 0 if report.stopped is None else 3


def _cmd_status(args: argparse.Namespace, queue: Queue, lang: Lang) -> int:
    if not args.offline:
        try:
            with _http_client(args) as client:
                refresh(queue, client)
        except httpx.HTTPError:
            print("(offline: showing the local state)")
    entries = queue.entries()
    counts = {state: sum(1 for e in entries if e.state == state) for state in STATES}
    print("  ".join(f"{state} {count}" for state, count in counts.items()))
    for e in entries:
        line = f"#{e.id:<5} NIK ****{e.nik_last4}  {e.state:<9}"
        if e.registration_id:
            line += f" {e.registration_id} ({e.server_status or '?'})"
        if e.state == "rejected" and e.reasons:
            line += f"  {_describe(e.reasons, lang)}"
        elif e.state == "sent":
            line += "  no answer yet; will be resent with the same key"
        print(line)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m testkit.posko_client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default=str(DEFAULT_DB), help=f"queue file (default {DEFAULT_DB})")
    parser.add_argument("--url", default=os.environ.get("GELOMBANG_POSKO_URL", DEFAULT_URL))
    parser.add_argument("--key", default=None, help="officer key (or GELOMBANG_OFFICER_KEY)")
    parser.add_argument("--lang", default=os.environ.get("LANG", "id")[:2], help="id or en")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="queue a walk-in (flags) or a CSV file")
    add.add_argument("--csv", default=None)
    add.add_argument("--nik")
    add.add_argument("--full-name")
    add.add_argument("--birth-date", help="YYYY-MM-DD")
    add.add_argument("--gender", choices=["M", "F"])
    add.add_argument("--email")
    add.add_argument("--phone")
    add.add_argument("--province", help="domicile province code, e.g. 35")
    add.add_argument("--regency", help="domicile regency code, e.g. 3578")
    add.add_argument(
        "--employment-status",
        choices=["laid_off", "furloughed", "job_seeker", "micro_business", "migrant_worker"],
    )
    add.add_argument("--in-formal-education", action="store_true")
    add.add_argument("--receives-social-aid", action="store_true")
    add.add_argument("--consent", action="store_true", help="the walk-in accepted the terms")
    add.add_argument("--attest", action="store_true", help="I saw the original ID card (KTP)")
    commands.add_parser("sync", help="send pending entries")
    status = commands.add_parser("status", help="show the queue (refreshed from the server)")
    status.add_argument("--offline", action="store_true", help="do not contact the server")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    lang = pick_language(args.lang)
    queue = Queue(args.db)
    try:
        handler = {"add": _cmd_add, "sync": _cmd_sync, "status": _cmd_status}[args.command]
        return handler(args, queue, lang)
    finally:
        queue.close()


if __name__ == "__main__":
    raise SystemExit(main())

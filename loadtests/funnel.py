"""Drive real people through the whole verification funnel, then check the numbers add up.

``python -m loadtests.funnel --count 1000``: sign-ups from the synthetic population (including
typos, unknown NIKs and misspelt names) go through the gateway; each person then confirms their
contact the way a person would: the link from the email in the SMTP sink's mailbox, or the code
from the SMS gateway simulator. Finally every registration must reach ``verified`` or
``rejected`` with the reason the population predicts, and Postgres must agree with itself.

A polite client: 429/503 answers are retried after their Retry-After with jitter and the same
Idempotency-Key, so the gateway's per-IP limits slow the run down but never break it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gelombang.settings import REPO_ROOT, CommonSettings
from testkit.population import SignUp, make_signup
from testkit.simulators.mail_sink import Mailbox

GATEWAY = "http://127.0.0.1:8080"
SMS_GATEWAY = "http://127.0.0.1:8092"
MAILDIR = REPO_ROOT / ".run" / "mail"
_LINK = re.compile(r"https?://\S+/api/v1/contact/verify\?token=[A-Za-z0-9_\-]+")
_CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Person:
    signup: SignUp
    email: str | None
    phone: str | None
    registration_id: str = ""
    token: str = ""
    confirmed: bool = False
    final_status: str | None = None
    final_reason: str | None = None


@dataclass
class FunnelReport:
    sent: int = 0
    accepted: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    confirmed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    unfinished: int = 0
    postgres: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def ok(self) -> bool:
        return (
            self.accepted == self.sent
            and self.unfinished == 0
            and not self.unexpected
            and self.postgres.get("mismatched", 1) == 0
        )


def people(count: int, rng: random.Random) -> list[Person]:
    """Unique contacts per run so each person's email or SMS can be found again."""
    run = uuid.uuid4().hex[:8]
    crowd = []
    for i in range(count):
        signup = make_signup(rng)
        payload = dict(signup.payload)
        email = f"p{i}.{run}@example.id" if payload.get("email") else None
        phone = f"+62812{rng.randrange(10**7, 10**8)}" if payload.get("phone") else None
        payload["email"], payload["phone"] = email, phone
        crowd.append(Person(SignUp(payload, signup.expected, signup.contact), email, phone))
    return crowd


async def _polite(
    client: httpx.AsyncClient, method: str, url: str, deadline: float, **kwargs: Any
) -> httpx.Response:
    while True:
        response = await client.request(method, url, **kwargs)
        if response.status_code not in (429, 502, 503, 504) or time.monotonic() > deadline:
            return response
        retry_after = float(response.headers.get("retry-after", "1") or 1)
        await asyncio.sleep(retry_after * random.uniform(0.5, 1.5))


async def sign_up(
    client: httpx.AsyncClient, person: Person, report: FunnelReport, deadline: float
) -> None:
    report.sent += 1
    response = await _polite(
        client,
        "POST",
        "/api/v1/registrations",
        deadline,
        json=person.signup.payload,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    if response.status_code != 202:
        report.refused[response.status_code] += 1
        return
    body = response.json()
    person.registration_id, person.token = body["registration_id"], body["status_token"]
    report.accepted += 1


async def confirm(
    client: httpx.AsyncClient,
    sms: httpx.AsyncClient,
    mailbox: Mailbox,
    person: Person,
    deadline: float,
) -> None:
    """Wait for the person's message, then click the link or type the code.

    Someone whose NIK check fails first is rejected without ever being asked to confirm: their
    wait ends with the final status, not at the deadline.
    """
    while time.monotonic() < deadline and not person.confirmed and person.final_status is None:
        if person.email:
            links = [
                m for msg in mailbox.messages_to(person.email) for m in _LINK.findall(_body(msg))
            ]
            if links:
                path = "/" + links[-1].split("/", 3)[3]
                response = await _polite(client, "GET", path, deadline)
                person.confirmed = response.status_code == 200
                continue
        elif person.phone:
            found = (await sms.get("/v1/messages", params={"to": person.phone})).json()
            codes = [c for m in found["messages"] for c in _CODE.findall(m["text"])]
            if codes:
                response = await _polite(
                    client,
                    "POST",
                    "/api/v1/contact/otp/verify",
                    deadline,
                    json={"registration_id": person.registration_id, "code": codes[-1]},
                    headers={"X-Status-Token": person.token},
                )
                person.confirmed = response.status_code == 200
                continue
        await asyncio.sleep(0.5)


async def _read_mail(mailbox: Mailbox, deadline: float) -> None:
    """One reader for everyone's mail: each new message is parsed once, not once per person."""
    while time.monotonic() < deadline:
        await asyncio.to_thread(mailbox.refresh)
        await asyncio.sleep(0.5)


def _body(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


async def settle(
    pool: asyncpg.Pool, crowd: list[Person], signed_up: asyncio.Event, deadline: float
) -> None:
    while time.monotonic() < deadline:
        # Sign-ups are still arriving while this runs: read the ids on every round.
        by_id = {p.registration_id: p for p in crowd if p.registration_id}
        ids = [uuid.UUID(i) for i in by_id]
        rows = await pool.fetch(
            """SELECT registration_id, status, reason FROM registrations
                WHERE registration_id = ANY($1::uuid[]) AND status IN ('verified', 'rejected')""",
            ids,
        )
        for row in rows:
            person = by_id[str(row["registration_id"])]
            person.final_status, person.final_reason = row["status"], row["reason"]
        if signed_up.is_set() and len(rows) == len(ids):
            return
        await asyncio.sleep(1.0)


async def reconcile(pool: asyncpg.Pool, crowd: list[Person]) -> dict[str, int]:
    """The read model and the verification cases must tell the same story."""
    ids = [uuid.UUID(p.registration_id) for p in crowd if p.registration_id]
    row = await pool.fetchrow(
        """SELECT count(*) AS registrations,
                  count(c.registration_id) AS cases,
                  count(*) FILTER (WHERE r.status = 'verified') AS verified,
                  count(*) FILTER (WHERE r.status = 'rejected') AS rejected,
                  count(*) FILTER (WHERE c.outcome IS DISTINCT FROM r.status) AS mismatched
             FROM registrations r
             LEFT JOIN verification_cases c USING (registration_id)
            WHERE r.registration_id = ANY($1::uuid[])""",
        ids,
    )
    return dict(row) if row is not None else {}


async def run_funnel(
    count: int, seed: int, timeout_s: float, concurrency: int = 20
) -> tuple[FunnelReport, list[Person]]:
    started = time.monotonic()
    deadline = started + timeout_s
    report = FunnelReport()
    crowd = people(count, random.Random(seed))
    settings = CommonSettings()
    limits = httpx.Limits(max_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits) as client,
        httpx.AsyncClient(base_url=SMS_GATEWAY, timeout=10) as sms,
    ):
        slots = asyncio.Semaphore(concurrency)

        signed_up = asyncio.Event()
        mailbox = Mailbox(MAILDIR, only_new=True)

        async def one(person: Person) -> None:
            async with slots:
                await sign_up(client, person, report, deadline)
                if report.accepted + report.refused.total() == len(crowd):
                    signed_up.set()
            if person.registration_id:
                async with slots:
                    await confirm(client, sms, mailbox, person, deadline)

        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            # Final statuses are followed while people confirm, so that nobody waits for a
            # message that will never come.
            settling = asyncio.create_task(settle(pool, crowd, signed_up, deadline))
            reading = asyncio.create_task(_read_mail(mailbox, deadline))
            await asyncio.gather(*(one(p) for p in crowd))
            reading.cancel()
            report.confirmed = sum(p.confirmed for p in crowd)
            await settling
            report.postgres = await reconcile(pool, crowd)
        finally:
            await pool.close()
    for person in crowd:
        if not person.registration_id:
            continue
        if person.final_status is None:
            report.unfinished += 1
            continue
        outcome = person.final_reason or person.final_status
        report.outcomes[outcome] += 1
        if outcome != person.signup.expected:
            report.unexpected.append(
                {
                    "registration_id": person.registration_id,
                    "expected": person.signup.expected,
                    "got": outcome,
                    "confirmed": person.confirmed,
                }
            )
    report.seconds = round(time.monotonic() - started, 1)
    return report, crowd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    report, _ = asyncio.run(run_funnel(args.count, seed, args.timeout, args.concurrency))
    summary = {
        "seed": seed,
        "sent": report.sent,
        "accepted": report.accepted,
        "refused": dict(report.refused),
        "confirmed": report.confirmed,
        "outcomes": dict(report.outcomes),
        "unfinished": report.unfinished,
        "unexpected": report.unexpected[:20],
        "postgres": report.postgres,
        "seconds": report.seconds,
        "ok": report.ok(),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())

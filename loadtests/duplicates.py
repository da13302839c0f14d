"""Did the log refuse the repeat attempts that got past the edge, and did nothing act on them?

``loadtests.repeats`` sends people who were already answered 202 again. A repeat the edge let
through (a 202, e.g. while Redis was stopped) is a real registration in the log; the log's
verdict must make it a duplicate (read model: ``status = 'rejected'``, ``reason =
'duplicate'``), and no downstream step may act on it: no verification case, no place in the
selection pool, no email or SMS. A message is only ever sent for a verification case, so the
case is the main evidence; messages are looked up too, by the registration id they carry
(email Message-ID ``<id>.<n>@gelombang``, SMS ``client_ref`` ``<id>:<digest>``).

A repeat whose original was itself rejected (other than as a duplicate) is reported apart
(excused), not judged: a rejection that tells the person to register again gives the NIK back,
and then a later attempt is rightly accepted.

The judgement is pure (``classify``); ``judge`` reads Postgres, the mail sink's maildir and the
SMS simulator.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gelombang.settings import REPO_ROOT
from loadtests.reconcile import KAFKA_SKEW_MS, REFUSED_AS_DUPLICATE
from loadtests.repeats import RepeatAnswer

MAILDIR = REPO_ROOT / ".run" / "mail"
SMS_URL = "http://127.0.0.1:8092"
# Downstream stores that hold registrations by id: a row there means the step acted on it.
STORES = ("verification_cases", "selection_pool")
_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<(" + _UUID + rb")[.@]", re.IGNORECASE | re.MULTILINE)
_SMS_REF = re.compile(_UUID.decode() + ":", re.IGNORECASE)
# The headers of one of our emails fit easily; the body is never needed.
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class Row:
    """A registration in the read model, as far as this check cares."""

    status: str
    duplicate: bool  # refused by the log as a later sign-up of a NIK already held


@dataclass(frozen=True)
class DuplicateCheck:
    repeats_sent: int
    repeats_refused_at_edge: int  # 409
    repeats_statuses: dict[str, int]
    duplicates_past_edge: int  # repeats answered 202
    duplicates_refused_by_log: int
    duplicates_past_edge_not_refused: int  # a 202 whose row is not a duplicate (or is missing)
    duplicates_past_edge_excused: int  # not refused, but the original was itself rejected
    duplicates_downstream: int  # past the edge and acted on by some downstream step
    duplicates_downstream_by_store: dict[str, int]
    stores_checked: list[str]
    not_refused_ids: list[str] = field(default_factory=list)
    downstream_ids: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.duplicates_past_edge_not_refused > 0 or self.duplicates_downstream > 0

    @property
    def verdict(self) -> str:
        if self.failed:
            return "FAILED"
        # Without a duplicate past the edge, only the edge was tested, never the log.
        return "passed" if self.duplicates_past_edge > 0 else "proved nothing"

    def summary(self) -> dict[str, Any]:
        """The bench report's fields."""
        fields = asdict(self)
        return {
            "duplicate_check": self.verdict,
            **{k: v for k, v in fields.items() if not k.endswith("_ids")},
            "duplicates_not_refused_ids": self.not_refused_ids,
            "duplicates_downstream_ids": self.downstream_ids,
        }


def classify(
    answers: Sequence[RepeatAnswer],
    rows: Mapping[str, Row],
    downstream: Mapping[str, Collection[str]],
    sample: int = 20,
) -> DuplicateCheck:
    """``rows``: read-model rows of the repeats and their originals; ``downstream``: per store
    checked, the ids found there. Ids are lower-case."""
    past = [a for a in answers if a.status == 202 and a.registration_id is not None]
    refused = excused = 0
    not_refused: list[str] = []
    acted_on: list[str] = []
    by_store: Counter[str] = Counter()
    for answer in past:
        rid = (answer.registration_id or "").lower()
        row = rows.get(rid)
        original = rows.get(answer.original_id.lower())
        if row is not None and row.duplicate:
            refused += 1
        elif original is not None and original.status == "rejected" and not original.duplicate:
            excused += 1
            continue  # the original's rejection may have released the NIK: downstream may act
        else:
            not_refused.append(rid)
        found = [store for store, ids in downstream.items() if rid in ids]
        if found:
            acted_on.append(rid)
            by_store.update(found)
    statuses = Counter(str(a.status) for a in answers)
    return DuplicateCheck(
        repeats_sent=len(answers),
        repeats_refused_at_edge=statuses.get("409", 0),
        repeats_statuses=dict(sorted(statuses.items())),
        duplicates_past_edge=len(past),
        duplicates_refused_by_log=refused,
        duplicates_past_edge_not_refused=len(not_refused),
        duplicates_past_edge_excused=excused,
        duplicates_downstream=len(acted_on),
        duplicates_downstream_by_store={store: by_store.get(store, 0) for store in downstream},
        stores_checked=list(downstream),
        not_refused_ids=not_refused[:sample],
        downstream_ids=acted_on[:sample],
    )


def email_registration_id(head: bytes) -> str | None:
    """The registration id in an email's Message-ID header (``<id>.<n>@gelombang``)."""
    found = _MESSAGE_ID.search(head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    return found.group(1).decode().lower() if found else None


def sms_registration_id(client_ref: str) -> str | None:
    """The registration id in an OTP's ``client_ref`` (``<id>:<digest>``); None for others."""
    return client_ref[:36].lower() if _SMS_REF.match(client_ref) else None


def maildir_stamp(since_ms: int) -> str:
    """The mail sink names files ``<UTC %Y%m%dT%H%M%S.%fZ>-<uuid>.eml``: names from this one on
    are newer (with the same margin for clock skew as the Kafka read)."""
    at = datetime.fromtimestamp((since_ms - KAFKA_SKEW_MS) / 1000, UTC)
    return at.strftime("%Y%m%dT%H%M%S.%fZ")


def emailed(maildir: Path, since_ms: int, wanted: Collection[str]) -> set[str] | None:
    """Wanted registration ids that an email was sent for since ``since_ms``; None without
    a maildir (no mail sink here)."""
    if not maildir.is_dir():
        return None
    stamp = maildir_stamp(since_ms)
    found: set[str] = set()
    for path in maildir.glob("*.eml"):
        if path.name < stamp:
            continue
        try:
            with path.open("rb") as f:
                rid = email_registration_id(f.read(_HEAD_BYTES))
        except OSError:
            continue
        if rid is not None and rid in wanted:
            found.add(rid)
    return found


async def texted(sms_url: str, phones: Mapping[str, str]) -> set[str] | None:
    """Ids (``phones``: id -> phone) the SMS simulator holds a message for; None if it did not
    answer. One query per phone: the simulator indexes by recipient, never by reference."""
    limit = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, rid: str, phone: str) -> bool:
        async with limit:
            answer = await client.get("/v1/messages", params={"to": phone, "limit": 1000})
        answer.raise_for_status()
        refs = (m["client_ref"] for m in answer.json()["messages"])
        return any(sms_registration_id(ref) == rid for ref in refs)

    try:
        async with httpx.AsyncClient(base_url=sms_url, timeout=10) as client:
            hits = await asyncio.gather(*(one(client, r, p) for r, p in phones.items()))
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return {rid for rid, hit in zip(phones, hits, strict=True) if hit}


async def stored(
    database_url: str, row_ids: Iterable[str], acted_ids: Iterable[str]
) -> tuple[dict[str, Row], dict[str, set[str]]]:
    """Read-model rows of ``row_ids``, and per downstream store the ``acted_ids`` it holds
    (a store whose table does not exist here is left out)."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        records = await conn.fetch(
            "SELECT registration_id::text AS id, status,"  # noqa: S608 - a constant of ours
            f" ({REFUSED_AS_DUPLICATE}) AS duplicate FROM registrations"
            " WHERE registration_id = ANY($1::uuid[])",
            sorted(set(row_ids)),
        )
        rows = {r["id"]: Row(r["status"], bool(r["duplicate"])) for r in records}
        acted = sorted(set(acted_ids))
        downstream: dict[str, set[str]] = {}
        for store in STORES:
            try:
                held = await conn.fetch(
                    f"SELECT registration_id::text AS id FROM {store}"  # noqa: S608 - our names
                    " WHERE registration_id = ANY($1::uuid[])",
                    acted,
                )
            except asyncpg.UndefinedTableError:
                continue
            downstream[store] = {r["id"] for r in held}
    finally:
        await conn.close()
    return rows, downstream


async def judge(
    answers: Sequence[RepeatAnswer],
    since_ms: int,
    database_url: str,
    sms_url: str = SMS_URL,
    maildir: Path = MAILDIR,
) -> DuplicateCheck:
    past = [a for a in answers if a.status == 202 and a.registration_id is not None]
    ids = {(a.registration_id or "").lower() for a in past}
    originals = {a.original_id.lower() for a in past}
    rows, downstream = await stored(database_url, ids | originals, ids)
    mail = await asyncio.to_thread(emailed, maildir, since_ms, ids)
    if mail is not None:
        downstream["email"] = mail
    phones = {(a.registration_id or "").lower(): a.phone for a in past if a.phone}
    sms = await texted(sms_url, phones)
    if sms is not None:
        downstream["sms"] = sms
    return classify(answers, rows, downstream)

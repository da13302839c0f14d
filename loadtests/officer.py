"""A posko officer at work while the public spike runs: the priority lane, measured.

Issue 8 promises that an officer's single submission is acknowledged in under a second even
during the spike. ``make bench`` (sustained phase), ``make chaos`` (overload) and the Locust
spike run this lane next to the public load and report its latency on its own.

The officer is made the way an admin makes one (admin API: a posko, then a key), and submits
walk-ins (no email, no phone, ID card seen) one at a time, as a person at a desk does.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from gelombang.settings import AdminSettings
from loadtests.citizens import signup_payload
from loadtests.generator import percentile

ASSISTED = "/api/v1/assisted"
# An officer is acknowledged within this or the promise is broken.
OFFICER_TARGET_MS = 1000.0


@dataclass(frozen=True)
class OfficerKey:
    officer_id: str
    posko_id: str
    api_key: str


def provision_officer(
    base_url: str,
    *,
    posko_name: str = "Posko Uji Beban",
    officer_name: str = "Petugas Uji",
    posko_id: str | None = None,
) -> OfficerKey:
    """A new officer (in a new posko unless ``posko_id``), through the admin API."""
    admin = {"Authorization": f"Bearer {AdminSettings().effective_admin_token}"}
    with httpx.Client(base_url=base_url, headers=admin, timeout=15) as client:
        if posko_id is None:
            posko = client.post(
                f"{ASSISTED}/admin/posko",
                json={"name": posko_name, "province_code": "35", "regency_code": "3578"},
            )
            posko.raise_for_status()
            posko_id = str(posko.json()["id"])
        officer = client.post(
            f"{ASSISTED}/admin/officers", json={"posko_id": posko_id, "name": officer_name}
        )
        officer.raise_for_status()
        body = officer.json()
        return OfficerKey(str(body["officer"]["id"]), posko_id, str(body["api_key"]))


def walk_in_payload(rng: random.Random) -> dict[str, Any]:
    """Someone the civil-registry simulator knows, with no email and no phone, ID card seen."""
    payload = signup_payload(rng)
    payload.pop("email", None)
    payload.pop("phone", None)
    payload["attested_id_card_seen"] = True
    return payload


@dataclass
class OfficerLane:
    """What one officer saw: every submission's status and time to the answer."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    accepted_ids: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        latencies = self.latencies_ms
        accepted = self.statuses.get("202", 0)
        slowest = max(latencies, default=0.0)
        return {
            "officer_requests": len(latencies),
            "officer_accepted": accepted,
            "officer_errors": len(latencies) - accepted,
            "officer_p50_ms": round(percentile(latencies, 50), 1),
            "officer_p99_ms": round(percentile(latencies, 99), 1),
            "officer_max_ms": round(slowest, 1),
            # Every answer, not a percentile: the promise is to each person at the desk.
            "officer_under_1s": bool(latencies)
            and accepted == len(latencies)
            and slowest < OFFICER_TARGET_MS,
            "officer_statuses": dict(self.statuses),
        }


async def officer_lane(
    base_url: str, key: OfficerKey, *, every_s: float, seconds: float, rng: random.Random
) -> OfficerLane:
    """Submit one walk-in every ``every_s`` for ``seconds``; each waits for its answer, as at a
    desk. A transport error is recorded as status ``error`` with the time it took."""
    lane = OfficerLane()
    headers = {"Authorization": f"Bearer {key.api_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            sent = time.monotonic()
            try:
                response = await client.post(
                    f"{ASSISTED}/registrations",
                    json=walk_in_payload(rng),
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                status = str(response.status_code)
                if response.status_code == 202:
                    lane.accepted_ids.append(str(response.json()["registration_id"]))
            except httpx.TransportError:
                status = "error"
            lane.latencies_ms.append((time.monotonic() - sent) * 1000)
            lane.statuses[status] = lane.statuses.get(status, 0) + 1
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - sent)))
    return lane

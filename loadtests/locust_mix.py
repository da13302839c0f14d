"""Realistic mix (``make load SCENARIO=mix``): what the public does besides signing up once.

Per sign-up attempt: 5% are people signing up again with a NIK already accepted (the answer
must be 409), 10% send a form with a mistake (422), the rest are new sign-ups (202). People then
poll their status with their token, and phone-only people confirm their number with the code the
SMS-gateway simulator received (once verification has sent it). Ramp and hold as the spike
scenario (``LOAD_PEAK_PER_MIN`` counts all requests of the mix).

An inbox that does not answer, answers with an error or with anything but its JSON list is a
failed ``sms inbox`` request in Locust's statistics, like any other failure, and the person
tries again later.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from locust import task

from loadtests.citizens import invalid_payload, signup_payload
from loadtests.locust_common import RNG, SignUpUser, SpikeShape, json_object

SMS_SIMULATOR = "http://127.0.0.1:8092/v1/messages"
_CODE = re.compile(r"\b(\d{6})\b")
DUPLICATE_RATE = 0.05
INVALID_RATE = 0.10


class UnreadableInbox(Exception):
    pass


def inbox_codes(status_code: int, body: dict[str, Any] | None) -> list[str]:
    """The six-digit codes in the simulator's answer, oldest first; UnreadableInbox (the reason)
    for an answer that is not its list of messages. ``status_code`` 0: no answer at all."""
    if status_code != 200:
        raise UnreadableInbox(f"{status_code} (expected 200)" if status_code else "no answer")
    messages = body.get("messages") if body is not None else None
    if not isinstance(messages, list):
        raise UnreadableInbox("200 without a list of messages")
    texts = [m.get("text") for m in messages if isinstance(m, dict)]
    return [m.group(1) for t in texts if isinstance(t, str) and (m := _CODE.search(t))]


def utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Person:
    def __init__(
        self, payload: dict[str, Any], registration_id: str, token: str, signed_up_at: str
    ) -> None:
        self.payload = payload
        self.registration_id = registration_id
        self.token = token
        self.confirmed = "phone" not in payload or "email" in payload
        # Texts to this number from before the sign-up (an earlier run, someone who had the
        # number before) carry someone else's code: the inbox is read from this moment on.
        self.signed_up_at = signed_up_at


class PublicUser(SignUpUser):
    def on_start(self) -> None:
        self.people: list[Person] = []

    @task(10)
    def register(self) -> None:
        roll = RNG.random()
        if roll < DUPLICATE_RATE and self.people:
            again = dict(RNG.choice(self.people).payload)
            self.sign_up(again, expect=409)
        elif roll < DUPLICATE_RATE + INVALID_RATE:
            self.sign_up(invalid_payload(RNG), expect=422)
        else:
            payload = signup_payload(RNG)
            sent_at = utc_now()
            answer = self.sign_up(payload) or {}
            rid, token = answer.get("registration_id"), answer.get("status_token")
            if isinstance(rid, str) and isinstance(token, str):
                self.people.append(Person(payload, rid, token, sent_at))

    @task(5)
    def poll_status(self) -> None:
        if not self.people:
            return
        person = RNG.choice(self.people)
        self.client.get(
            f"/api/v1/registrations/{person.registration_id}",
            headers={"X-Status-Token": person.token},
            name="status",
        )

    @task(2)
    def confirm_phone(self) -> None:
        waiting = [p for p in self.people if not p.confirmed]
        if not waiting:
            return
        person = RNG.choice(waiting)
        with self.client.get(
            SMS_SIMULATOR,
            params={"to": person.payload["phone"], "since": person.signed_up_at, "limit": 5},
            name="sms inbox",
            catch_response=True,
        ) as inbox:
            try:
                codes = inbox_codes(inbox.status_code, json_object(inbox))
            except UnreadableInbox as unreadable:
                inbox.failure(str(unreadable))
                return
            inbox.success()
        if not codes:
            return  # verification has not sent it yet; try later
        self.client.post(
            "/api/v1/contact/otp/verify",
            json={"registration_id": person.registration_id, "code": codes[-1]},
            headers={"X-Status-Token": person.token},
            name="contact confirmation",
        )
        person.confirmed = True


class MixShape(SpikeShape):
    pass

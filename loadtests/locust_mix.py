"""Realistic mix (``make load SCENARIO=mix``): what the public does besides signing up once.

Per sign-up attempt: 5% are people signing up again with a NIK already accepted (the answer
must be 409), 10% send a form with a mistake (422), the rest are new sign-ups (202). People then
poll their status with their token, and phone-only people confirm their number with the code the
SMS-gateway simulator received (once verification has sent it). Ramp and hold as the spike
scenario (``LOAD_PEAK_PER_MIN`` counts all requests of the mix).
"""

from __future__ import annotations

import re
from typing import Any

from locust import LoadTestShape, task

from loadtests.citizens import invalid_payload, signup_payload
from loadtests.curves import spike_per_s, users_for
from loadtests.locust_common import (
    HOLD_S,
    PEAK_PER_MIN,
    PER_USER_PER_S,
    RAMP_S,
    RNG,
    SignUpUser,
    run_time,
)

SMS_SIMULATOR = "http://127.0.0.1:8092/v1/messages"
_CODE = re.compile(r"\b(\d{6})\b")
DUPLICATE_RATE = 0.05
INVALID_RATE = 0.10


class Person:
    def __init__(self, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        self.payload = payload
        self.registration_id: str = answer["registration_id"]
        self.token: str = answer["status_token"]
        self.confirmed = "phone" not in payload or "email" in payload


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
            answer = self.sign_up(payload)
            if answer is not None:
                self.people.append(Person(payload, answer))

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
        inbox = self.client.get(
            SMS_SIMULATOR, params={"to": person.payload["phone"], "limit": 5}, name="sms inbox"
        )
        codes = [
            m.group(1)
            for message in inbox.json().get("messages", [])
            if (m := _CODE.search(message.get("text", "")))
        ]
        if not codes:
            return  # verification has not sent it yet; try later
        self.client.post(
            "/api/v1/contact/otp/verify",
            json={"registration_id": person.registration_id, "code": codes[-1]},
            headers={"X-Status-Token": person.token},
            name="contact confirmation",
        )
        person.confirmed = True


class MixShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        rate = spike_per_s(run_time(self), RAMP_S, HOLD_S, PEAK_PER_MIN)
        if rate == 0.0:
            return None
        return users_for(rate, PER_USER_PER_S), max(10.0, PEAK_PER_MIN / 60 / max(RAMP_S, 1))

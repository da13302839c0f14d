"""An axe-core scan of every view of the public page, in a phone-sized browser: the form (empty,
with errors, with the 409 box, after a refusal, while solving a proof of work, refilled after a
rejection), the waiting room, the status page in each state, the SMS code page, the lost-link
page, the terms and the email landing page. No violation of impact moderate or worse.

The API's answers are faked with page.route (the page itself comes through the gateway), so
each state is shown exactly and nothing depends on how far a real registration has got. The
status page's screenshots (reports/screenshots/status-*.png, one phone screen) are the README's
(docs/screenshots/).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, Page, Request, Route, expect

from gelombang.messages import message
from testkit.population import random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import GATEWAY, fill_form, phone_page
from tests.e2e.test_web_errors import fulfil_json

pytestmark = pytest.mark.e2e
expect.set_options(timeout=20_000)

SIGN_UP = "**/api/v1/registrations"
STATUS = "**/api/v1/registrations/*"
CHALLENGE = "**/api/v1/challenge"
# What a person with a disability would actually be stopped or slowed by; "minor" findings
# (best practices) are listed by axe too, and not counted here.
COUNTED = {"moderate", "serious", "critical"}
ID = str(uuid.UUID(int=random.getrandbits(128)))
STATUS_URL = f"{GATEWAY}/status#id={ID}&t=fake-token"

axe = Axe()


async def violations(page: Page) -> list[str]:
    results = await axe.run(page)
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v.get("impact") in COUNTED
    ]


async def assert_accessible(page: Page, view: str) -> None:
    found = await violations(page)
    assert not found, f"{view}: " + "; ".join(found)


# -- Status answers ---------------------------------------------------------------------------


def _at(minutes: int) -> str:
    return (datetime(2026, 12, 3, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def _step(
    status: str, minutes: int, reason: str | None = None, wave: int | None = None
) -> dict[str, Any]:
    text = None
    if reason:
        text = message(reason, "id")
    elif status in ("selected", "waitlisted", "revoked"):
        text = message(f"decision_{status}", "id", wave=wave)
    return {"status": status, "reason": reason, "message": text, "at": _at(minutes), "wave": wave}


def _contact(method: str, state: str) -> dict[str, Any]:
    return {
        "method": method,
        "state": state,
        "hint": "b***@example.id" if method == "email" else "****6789",
        "confirm_by": _at(48 * 60) if state in ("pending", "sent") else None,
    }


def status_answer(state: str) -> dict[str, Any] | None:
    """The status API's answer for each state the page shows (None: not recorded yet)."""
    received = [_step("submitted", 0)]
    sent = [*received, _step("contact_pending", 1)]
    confirmed = [*sent, _step("contact_confirmed", 5)]
    verified = [*confirmed, _step("nik_verified", 6), _step("verified", 6)]
    cases: dict[str, tuple[str, list[dict[str, Any]], dict[str, Any] | None, int | None]] = {
        "email-sent": ("contact_pending", sent, _contact("email", "sent"), None),
        # The NIK check usually ends before the code is typed: the code box stays.
        "sms-sent-nik-done": (
            "nik_verified",
            [*sent, _step("nik_verified", 2)],
            _contact("sms", "sent"),
            None,
        ),
        "nik-check": ("contact_confirmed", confirmed, _contact("email", "confirmed"), None),
        "verified": ("verified", verified, _contact("email", "confirmed"), None),
        "waitlisted": (
            "waitlisted",
            [*verified, _step("waitlisted", 60 * 24 * 3, wave=3)],
            _contact("sms", "confirmed"),
            3,
        ),
        "selected": (
            "selected",
            [*verified, _step("selected", 60 * 24 * 3, wave=3)],
            _contact("sms", "confirmed"),
            3,
        ),
        "revoked": (
            "revoked",
            [
                *verified,
                _step("selected", 60 * 24 * 3, wave=3),
                _step("revoked", 60 * 24 * 34, wave=3),
            ],
            _contact("email", "confirmed"),
            3,
        ),
        "rejected-mismatch": (
            "rejected",
            [*sent, _step("rejected", 2, reason="nik_data_mismatch")],
            _contact("email", "sent"),
            None,
        ),
        "rejected-expired": (
            "rejected",
            [*sent, _step("nik_verified", 2), _step("rejected", 48 * 60, reason="contact_expired")],
            _contact("sms", "failed"),
            None,
        ),
        "rejected-duplicate": (
            "rejected",
            [*received, _step("rejected", 0, reason="duplicate")],
            None,
            None,
        ),
    }
    if state == "received":
        return None
    status, history, contact, wave = cases[state]
    return {
        "registration_id": ID,
        "status": status,
        "nik_last4": "0042",
        "province_code": "32",
        "regency_code": "3273",
        "submitted_at": _at(0),
        "wave": wave,
        "contact": contact,
        "history": history,
    }


STATES = [
    "received",
    "email-sent",
    "sms-sent-nik-done",
    "nik-check",
    "verified",
    "waitlisted",
    "selected",
    "revoked",
    "rejected-mismatch",
    "rejected-expired",
    "rejected-duplicate",
]
# What each state must show before it is scanned (and photographed).
SHOWN = {
    "received": "sedang dicatat",
    "email-sent": "buka email yang kami kirim",
    "sms-sent-nik-done": "lewat SMS ke ****6789",
    "nik-check": "Kontak terkonfirmasi",
    "verified": "ikut dalam undian",
    "waitlisted": "belum terpilih",
    "selected": "Selamat",
    "revoked": "dicabut",
    "rejected-mismatch": "tidak sesuai",
    "rejected-expired": "Waktu untuk mengonfirmasi",
    "rejected-duplicate": "sudah terdaftar",
}


async def status_page(browser: Browser, state: str, lang: str = "id") -> Page:
    answer = status_answer(state)

    async def status(route: Route, request: Request) -> None:
        if answer is None:
            await fulfil_json(route, 404, {"detail": "not found", "errors": []})
        else:
            await fulfil_json(route, 200, answer)

    page = await phone_page(browser)
    if lang != "id":
        await page.add_init_script(f"localStorage.setItem('gelombang.lang', '{lang}')")
    await page.route(STATUS, status)
    await page.goto(STATUS_URL)
    return page


@pytest.mark.parametrize("state", STATES)
async def test_the_status_page_in_each_state(browser: Browser, state: str) -> None:
    page = await status_page(browser, state)
    await expect(page.locator("#status-text")).to_contain_text(SHOWN[state])
    # One phone screen, as the person sees it first (the README's pictures).
    await page.screenshot(path=SHOTS / f"status-{state}.png")
    await assert_accessible(page, f"status page, {state}")
    await page.context.close()


async def test_the_status_page_in_english_and_with_a_broken_link(browser: Browser) -> None:
    page = await status_page(browser, "sms-sent-nik-done", lang="en")
    await expect(page.locator("#status-text")).to_contain_text("by SMS to ****6789")
    await assert_accessible(page, "status page in English")
    # The code box's own answers and the wrong-contact help, opened.
    await page.get_by_text("Mistyped your email or phone number?").click()
    await page.get_by_role("button", name="Confirm code").click()
    await expect(page.locator("#code-error")).not_to_be_empty()
    await assert_accessible(page, "status page, code box with an error")
    await page.goto(f"{GATEWAY}/status#id={ID}")
    await expect(page.locator("#status-text")).to_contain_text("Status not found")
    await assert_accessible(page, "status page without a token")
    await page.context.close()


# -- The form and what happens on it ----------------------------------------------------------


async def form_page(
    browser: Browser, routes: dict[str, Callable[[Route, Request], Awaitable[None]]] | None = None
) -> Page:
    page = await phone_page(browser)
    for pattern, handler in (routes or {}).items():
        await page.route(pattern, handler)
    await page.goto(GATEWAY)
    # The domicile list has arrived (the form is scanned as a person would use it).
    await expect(page.locator("#province_code option")).not_to_have_count(1)
    return page


async def filled(page: Page) -> None:
    await fill_form(page, random_citizen(random.Random()), f"axe.{uuid.uuid4().hex[:8]}@example.id")


async def test_the_form_empty_and_with_every_error_shown(browser: Browser) -> None:
    page = await form_page(browser)
    await assert_accessible(page, "form")
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.locator("#summary")).to_be_focused()
    await assert_accessible(page, "form with errors")
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await assert_accessible(page, "form with errors, in English")
    await page.context.close()


async def test_the_form_with_the_already_registered_box_and_a_refusal(browser: Browser) -> None:
    answers = [409, 413]

    async def sign_up(route: Route, request: Request) -> None:
        code = answers.pop(0)
        await fulfil_json(
            route, code, {"detail": message("already_registered", "id"), "errors": []}
        )

    page = await form_page(browser, {SIGN_UP: sign_up})
    await filled(page)
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.locator("#already")).to_be_visible()
    await assert_accessible(page, "form with the 409 box")
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.locator("#form-notice")).to_contain_text("413")
    await assert_accessible(page, "form with a refusal notice")
    await page.context.close()


async def test_the_waiting_room(browser: Browser) -> None:
    async def sign_up(route: Route, request: Request) -> None:
        await fulfil_json(route, 503, {"detail": "busy", "errors": []}, **{"Retry-After": "120"})

    page = await form_page(browser, {SIGN_UP: sign_up})
    await filled(page)
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.get_by_role("heading", name="Situs sedang ramai")).to_be_focused()
    await assert_accessible(page, "waiting room")
    await page.context.close()


async def test_the_form_while_it_solves_a_proof_of_work(browser: Browser) -> None:
    async def sign_up(route: Route, request: Request) -> None:
        await fulfil_json(route, 428, {"detail": message("challenge_required", "id"), "errors": []})

    async def challenge(route: Route, request: Request) -> None:
        # No number in this huge range fits: the search runs for as long as the test looks.
        body = {
            "algorithm": "SHA-256",
            "challenge": "0" * 64,
            "maxNumber": 10**12,
            "salt": "axe?expires=9999999999&",
            "signature": "0" * 64,
        }
        await fulfil_json(route, 200, body)

    page = await form_page(browser, {SIGN_UP: sign_up, CHALLENGE: challenge})
    await filled(page)
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.locator("#pow")).to_be_visible()
    await expect(page.locator("#submit")).to_contain_text("Menyiapkan pengiriman")
    await assert_accessible(page, "form solving a proof of work")
    await page.context.close()


async def test_the_form_refilled_after_a_rejection(browser: Browser) -> None:
    page = await phone_page(browser)
    await page.goto(GATEWAY)
    draft = {
        "values": {"full_name": "Siti Aminah", "email": "siti@example.id"},
        "again": "nik_not_found",
    }
    await page.evaluate(
        f"sessionStorage.setItem('gelombang.draft', {json.dumps(json.dumps(draft))})"
    )
    await page.reload()
    await expect(page.locator("#again-notice")).to_be_focused()
    await assert_accessible(page, "form refilled after a rejection")
    await page.context.close()


# -- The other pages --------------------------------------------------------------------------


async def test_the_code_page_the_terms_and_the_email_landing(browser: Browser) -> None:
    page = await phone_page(browser)
    await page.route(
        STATUS, lambda route, request: fulfil_json(route, 200, status_answer("email-sent"))
    )
    await page.goto(f"{GATEWAY}/kode#id={ID}&t=fake-token")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Masukkan kode SMS")
    await assert_accessible(page, "/kode")
    await page.goto(f"{GATEWAY}/syarat")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Syarat dan ketentuan")
    await assert_accessible(page, "/syarat")

    async def verify(route: Route, request: Request) -> None:
        body = {
            "status": "contact_confirmed",
            "detail": message("contact_confirmed", "id"),
            "status_page": f"/status#id={ID}&t=fake-token",
        }
        await fulfil_json(route, 200, body)

    await page.route("**/api/v1/contact/verify?token=*", verify)
    await page.goto(f"{GATEWAY}/konfirmasi?token=fake-link-token")
    await expect(page.locator("#confirm-text")).to_contain_text("sudah dikonfirmasi")
    await expect(page.locator("#to-status")).to_be_visible()
    await assert_accessible(page, "/konfirmasi, confirmed")
    await page.context.close()

    fresh = await phone_page(browser)
    await fresh.goto(f"{GATEWAY}/konfirmasi")
    await expect(fresh.locator("#confirm-text")).to_contain_text("Tautan tidak lengkap")
    await assert_accessible(fresh, "/konfirmasi without a token")
    await fresh.context.close()


async def test_the_lost_link_page(browser: Browser) -> None:
    async def status_link(route: Route, request: Request) -> None:
        await fulfil_json(route, 202, {"detail": message("status_link_requested", "id")})

    page = await phone_page(browser)
    await page.route("**/api/v1/status-link", status_link)
    await page.goto(f"{GATEWAY}/tautan")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_accessible(page, "/tautan")
    await page.locator("#lost-submit").click()
    await expect(page.locator("#lost-nik-error")).not_to_be_empty()
    await assert_accessible(page, "/tautan with errors")
    citizen = random_citizen(random.Random())
    await page.locator("#lost-nik").fill(citizen.nik)
    await page.locator("#lost-contact").fill("siti@example.id")
    await page.locator("#lost-submit").click()
    await expect(page.locator("#lost-sent")).to_be_focused()
    await assert_accessible(page, "/tautan, sent")
    await page.context.close()

"""Every answer the sign-up can get, in a phone-sized browser: what the page says, and that the
retries it promises happen, back off, and stop.

The server's answers are faked with page.route, so nothing here depends on how busy the stack
is; the page itself (HTML, scripts, region list) still comes through the gateway. Time is the
page's fake clock (Playwright's clock, paused): a test moves it forward by hand, so a backoff is
checked by where the clock stands, never by how fast this machine is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from gelombang.messages import Lang, message
from testkit.population import random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import GATEWAY, fill_form, phone_page

pytestmark = pytest.mark.e2e
# Generous: these tests wait for what the page shows, never for time to pass, and the test
# machine may be busy running the whole stack (a slow page must not fail them, only slow them).
expect.set_options(timeout=20_000)

SIGN_UP = "**/api/v1/registrations"
STATUS = "**/api/v1/registrations/*"
CHALLENGE = "**/api/v1/challenge"
SUBMIT = "Kirim pendaftaran"


def accepted() -> dict[str, str]:
    registration_id = str(uuid.uuid4())
    return {
        "registration_id": registration_id,
        "status_token": "fake-token",
        "status_url": f"{GATEWAY}/api/v1/registrations/{registration_id}",
    }


def status_body(status: str = "submitted", **extra: Any) -> dict[str, Any]:
    return {
        "registration_id": str(uuid.uuid4()),
        "status": status,
        "nik_last4": "1234",
        "province_code": "32",
        "regency_code": "3273",
        "submitted_at": "2026-12-03T10:00:00+00:00",
        "history": [],
        "wave": None,
        "contact": None,
        **extra,
    }


async def fake_status(route: Route, request: Request) -> None:
    await route.fulfill(status=200, json=status_body())


async def fulfil_json(route: Route, status: int, body: Any, **headers: str) -> None:
    await route.fulfill(
        status=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


# What a faked endpoint does with one request: answers it through its route, or does not.
Answer = Callable[[Route], Awaitable[None]]


def json_answer(status: int, body: Any, **headers: str) -> Answer:
    async def answer(route: Route) -> None:
        await fulfil_json(route, status, body, **headers)

    return answer


def queued(code: str) -> Answer:
    """The API's 202 for a request it took and will act on (a resend, a change of contact)."""
    return json_answer(202, {"status": code, "detail": message(code, "id")})


async def no_answer(route: Route) -> None:
    """As a connection that went silent."""


async def dropped(route: Route) -> None:
    await route.abort("connectionreset")


class Endpoint:
    """A faked API endpoint for page.route, counting its requests: the first request gets the
    first answer, the second the second, and every one after the last answer gets that again."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = answers
        self.requests = 0

    async def __call__(self, route: Route, request: Request) -> None:
        self.requests += 1
        await self.answers[min(self.requests, len(self.answers)) - 1](route)


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Polls a condition on the test's side (request counts) with a generous deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)


async def quiet_moment(page: Page) -> None:
    # A request the page should not send would show up within this (real) moment; a slow
    # machine can only make this check miss a bug, never fail a correct page.
    await page.wait_for_timeout(400)


async def sends_no_more(page: Page, endpoint: Endpoint, sent: int, why: str = "") -> None:
    """Ten minutes on the page's clock later, ``endpoint`` has still had ``sent`` requests."""
    await page.clock.run_for(600_000)
    await quiet_moment(page)
    assert endpoint.requests == sent, why or f"{endpoint.requests} requests, not {sent}"


async def run_to_next_try(page: Page) -> None:
    """Moves the page's clock to the next try it announced, and no further: a clock run far
    ahead while that try's request is in flight would also fire the request's own timeout."""
    when = await page.locator("#wait-when").text_content() or ""
    found = re.search(r"sekitar (\d+) detik", when)
    assert found, when
    await page.clock.run_for(int(found.group(1)) * 1000)


async def ready_form(browser: Browser, routes: dict[str, Callable[..., Awaitable[None]]]) -> Page:
    """A filled-in form with the given fake answers and the page's clock paused."""
    page = await phone_page(browser)
    for pattern, handler in routes.items():
        await page.route(pattern, handler)
    if STATUS not in routes:
        await page.route(STATUS, fake_status)
    await page.clock.install()
    await page.goto(GATEWAY)
    await fill_form(page, random_citizen(random.Random()), f"err.{uuid.uuid4().hex[:8]}@example.id")
    # Python's clock API counts seconds since the epoch (the page's Date.now() milliseconds).
    now_ms = await page.evaluate("Date.now()")
    await page.clock.pause_at(now_ms / 1000 + 1)
    return page


def challenge_for(number: int = 7) -> dict[str, Any]:
    """An ALTCHA v1 challenge whose answer is `number` (the page only checks the hash)."""
    salt = f"{uuid.uuid4().hex[:12]}?expires={int(time.time()) + 600}&"
    return {
        "algorithm": "SHA-256",
        "challenge": hashlib.sha256(f"{salt}{number}".encode()).hexdigest(),
        "maxNumber": 1000,
        "salt": salt,
        "signature": "0" * 64,
    }


# ---------------------------------------------------------------------------------------------


async def test_a_500_is_explained_and_retried_with_backoff_until_it_succeeds(
    browser: Browser,
) -> None:
    keys: list[str | None] = []

    async def sign_up(route: Route, request: Request) -> None:
        keys.append(await request.header_value("idempotency-key"))
        if len(keys) <= 2:
            await fulfil_json(route, 500, {"detail": "Internal Server Error"})
        else:
            await fulfil_json(route, 202, accepted())

    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()

    title = page.get_by_role("heading", name="Ada gangguan di server kami")
    await expect(title).to_be_focused()
    await expect(page.locator("#wait-what")).to_contain_text("kode 500")
    await expect(page.locator("#wait-live")).to_have_attribute("role", "status")
    # First backoff: 2 s, plus up to 30% jitter.
    await expect(page.locator("#wait-when")).to_have_text(re.compile(r"sekitar [23] detik"))
    await expect(page.locator("#wait-tries")).to_have_text(re.compile("Sudah dicoba 1 kali"))
    # One h1 on screen, and the tab says what is going on.
    await expect(page.locator("h1:visible")).to_have_count(1)
    await expect(page).to_have_title(re.compile("^Belum terkirim"))
    await page.screenshot(path=SHOTS / "wait-server-error.png", full_page=True)
    assert len(keys) == 1

    await page.clock.run_for(1_900)
    await quiet_moment(page)
    assert len(keys) == 1, "retried before the backoff was over"
    await page.clock.run_for(1_000)
    await eventually(lambda: len(keys) == 2, "the first retry")

    # Second backoff doubles: 4 s plus up to 30% jitter, i.e. 4-5.2 s, shown rounded up (a
    # clean-clone CI run drew 5.0-5.2 s and showed "6").
    await expect(page.locator("#wait-tries")).to_have_text(re.compile("Sudah dicoba 2 kali"))
    await expect(page.locator("#wait-when")).to_have_text(re.compile(r"sekitar [456] detik"))
    await page.clock.run_for(3_900)
    await quiet_moment(page)
    assert len(keys) == 2, "the backoff did not grow"
    await page.clock.run_for(1_500)

    await page.wait_for_url(re.compile(r"/status#id=.+&t=.+"))
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0], "one sign-up, one key"
    await page.context.close()


async def test_a_lasting_server_error_stops_after_the_announced_tries(browser: Browser) -> None:
    sign_up = Endpoint(json_answer(500, {"detail": "Internal Server Error"}))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.locator("#wait-tries")).to_contain_text("paling banyak 5 kali")
    for tried in range(1, 5):
        await expect(page.locator("#wait-tries")).to_contain_text(f"Sudah dicoba {tried} kali")
        await run_to_next_try(page)
    notice = page.locator("#form-notice")
    await expect(notice).to_contain_text("setelah 5 percobaan")
    await expect(notice).to_be_focused()
    await expect(notice).to_have_attribute("role", "alert")
    # The complaints desk, with an actual number to call.
    await expect(notice.locator('a[href^="tel:"]')).to_have_count(1)
    await expect(page.get_by_role("button", name=SUBMIT)).to_be_enabled()
    await page.screenshot(path=SHOTS / "gave-up-server-error.png", full_page=True)
    await sends_no_more(page, sign_up, 5, "the page kept trying after saying it had stopped")
    await page.context.close()


async def test_a_busy_challenge_endpoint_makes_the_page_wait_not_spin(browser: Browser) -> None:
    posts: list[str | None] = []
    challenges = 0
    busy = True

    async def sign_up(route: Route, request: Request) -> None:
        proof = await request.header_value("x-altcha")
        posts.append(proof)
        if proof is None:
            body = {"detail": message("challenge_required", "id"), "errors": []}
            await fulfil_json(route, 428, body)
        else:
            await fulfil_json(route, 202, accepted())

    async def challenge(route: Route, request: Request) -> None:
        nonlocal challenges
        challenges += 1
        if busy:
            await fulfil_json(route, 503, {"detail": "busy"}, **{"Retry-After": "2"})
        else:
            await fulfil_json(route, 200, challenge_for())

    page = await ready_form(browser, {SIGN_UP: sign_up, CHALLENGE: challenge})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.get_by_role("heading", name="Situs sedang ramai")).to_be_focused()
    await expect(page.locator("#wait-fair")).to_contain_text("bukan antrean")
    await expect(page.locator("#wait-fair")).to_contain_text("diundi secara acak")
    await expect(page.locator("#wait-when")).to_contain_text("Perkiraan waktu tunggu: sekitar")
    await expect(page.locator("h1:visible")).to_have_count(1)
    await page.screenshot(path=SHOTS / "wait-busy.png", full_page=True)
    # The clock is stopped: a page that does not wait between tries would spin right now.
    await page.wait_for_timeout(1_000)
    assert (len(posts), challenges) == (1, 1), (posts, challenges)

    await page.clock.run_for(2_700)  # Retry-After 2 s, plus up to 30%
    await eventually(lambda: challenges == 2, "the challenge asked again after Retry-After")
    assert len(posts) == 1, "sign-ups sent without a proof"
    await expect(page.locator("#wait-tries")).to_contain_text("Sudah dicoba 2 kali")

    busy = False
    await page.clock.run_for(2_700)
    await page.wait_for_url(re.compile(r"/status#id="), timeout=30_000)
    assert challenges == 3
    assert len(posts) == 2 and posts[0] is None and posts[1], posts
    await page.context.close()


async def test_the_person_can_stop_waiting_and_nothing_more_is_sent(browser: Browser) -> None:
    sign_up = Endpoint(json_answer(429, {"detail": "busy"}, **{"Retry-After": "30"}))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    # Retry-After is honoured: the estimate is at least the server's 30 s.
    await expect(page.locator("#wait-when")).to_have_text(re.compile(r"sekitar (3\d) detik"))
    await page.get_by_role("button", name="Berhenti dan kembali ke formulir").click()
    notice = page.locator("#form-notice")
    await expect(notice).to_contain_text("Pengiriman dihentikan")
    await expect(notice).to_be_focused()
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_be_visible()
    await sends_no_more(page, sign_up, 1)
    await page.context.close()


async def test_offline_waits_for_the_connection_and_then_sends_once(browser: Browser) -> None:
    sign_up = Endpoint(json_answer(202, accepted()))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.context.set_offline(True)
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.get_by_role("heading", name="Tidak ada koneksi internet")).to_be_focused()
    await expect(page.locator("#wait-what")).to_contain_text("begitu koneksi kembali")
    # Not the busy-site text: nobody is registering too much, the phone is offline.
    await expect(page.locator("#wait-fair")).to_be_hidden()
    await page.screenshot(path=SHOTS / "wait-offline.png", full_page=True)
    await sends_no_more(page, sign_up, 0)

    await page.context.set_offline(False)  # fires the page's `online` event
    await page.wait_for_url(re.compile(r"/status#id="), timeout=30_000)
    await quiet_moment(page)
    assert sign_up.requests == 1
    await page.context.close()


async def test_a_dropped_connection_is_retried_without_waiting_for_the_online_event(
    browser: Browser,
) -> None:
    sign_up = Endpoint(dropped, json_answer(202, accepted()))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.get_by_role("heading", name="Koneksi terputus")).to_be_focused()
    await page.clock.run_for(2_700)
    await page.wait_for_url(re.compile(r"/status#id="), timeout=30_000)
    assert sign_up.requests == 2
    await page.context.close()


async def test_no_answer_is_a_timeout_that_is_retried(browser: Browser) -> None:
    sign_up = Endpoint(no_answer, json_answer(202, accepted()))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    await eventually(lambda: sign_up.requests == 1, "the sign-up sent")
    await page.clock.run_for(20_000)  # the page's own request timeout
    await expect(
        page.get_by_role("heading", name="Server tidak menjawab tepat waktu")
    ).to_be_focused()
    await expect(page.locator("#wait-what")).to_contain_text("satu kali saja")
    await page.clock.run_for(2_700)
    await page.wait_for_url(re.compile(r"/status#id="), timeout=30_000)
    assert sign_up.requests == 2
    await page.context.close()


@pytest.mark.parametrize(
    ("status", "says"), [(413, "terlalu besar"), (400, "kode 400"), (403, "kode 403")]
)
async def test_a_refusal_that_a_retry_would_repeat_is_explained_and_not_retried(
    browser: Browser, status: int, says: str
) -> None:
    sign_up = Endpoint(json_answer(status, {"detail": "refused"}))
    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    notice = page.locator("#form-notice")
    await expect(notice).to_contain_text(says)
    await expect(notice).to_contain_text("tidak dicoba ulang otomatis")
    await expect(notice).to_be_focused()
    # The notice sits just above the button it is about.
    box = await notice.bounding_box()
    button = await page.get_by_role("button", name=SUBMIT).bounding_box()
    assert box and button and 0 <= button["y"] - (box["y"] + box["height"]) < 80
    await sends_no_more(page, sign_up, 1)
    await page.context.close()


async def test_already_registered_is_its_own_message_and_follows_the_language(
    browser: Browser,
) -> None:
    async def sign_up(route: Route, request: Request) -> None:
        lang: Lang = "en" if await request.header_value("accept-language") == "en" else "id"
        code = "nik_already_registered"
        body = {
            "detail": message(code, lang),
            "errors": [{"field": "nik", "code": code, "message": message(code, lang)}],
        }
        await fulfil_json(route, 409, body)

    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    already = page.locator("#already")
    await expect(already.get_by_role("heading", name="NIK ini sudah terdaftar")).to_be_visible()
    await expect(already).to_be_focused()
    await expect(already).to_contain_text("tidak perlu mendaftar lagi")
    await expect(already.locator('a[href^="tel:"]')).to_have_count(1)
    await expect(already.locator('a[href^="mailto:"]')).to_have_count(1)
    # Nothing on the form is wrong: no "needs fixing" summary, no field marked.
    await expect(page.locator("#summary")).to_be_hidden()
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_attribute(
        "aria-invalid", "false"
    )
    await page.screenshot(path=SHOTS / "already-registered-id.png", full_page=True)

    await page.get_by_role("button", name="Switch to English").click()
    await expect(
        already.get_by_role("heading", name="This NIK is already registered")
    ).to_be_visible()
    await expect(already).to_contain_text("You do not need to register again")
    await expect(already).to_contain_text("complaints desk")
    await expect(page).to_have_title(re.compile("Gelombang programme registration"))
    await page.screenshot(path=SHOTS / "already-registered-en.png", full_page=True)
    await page.context.close()


async def test_a_server_field_error_follows_a_language_switch(browser: Browser) -> None:
    async def sign_up(route: Route, request: Request) -> None:
        code = "phone_not_mobile"
        errors = [{"field": "email", "code": code, "message": message(code, "id")}]
        await fulfil_json(
            route, 422, {"detail": message("validation_failed", "id"), "errors": errors}
        )

    page = await ready_form(browser, {SIGN_UP: sign_up})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.locator("#summary")).to_be_focused()
    await expect(page.locator("#email-error")).to_have_text(message("phone_not_mobile", "id"))
    await expect(page).to_have_title(re.compile("^Perlu diperbaiki"))
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("#email-error")).to_have_text(
        "Please use a mobile number, not a landline."
    )
    await page.context.close()

"""The waiting room tells how long the wait should be (issue 20): when the gateway refuses a
sign-up at its intake ceiling (429, Retry-After, no code of the API's), the page asks the
gateway's cached figures (GET /api/v1/intake) and shows the estimated wait they imply, updated
as they change. Answers are faked with page.route, time is the page's paused clock."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Request, Route, expect

from tests.e2e.test_web_errors import SIGN_UP, SUBMIT, fulfil_json, ready_form

pytestmark = pytest.mark.e2e
expect.set_options(timeout=20_000)

INTAKE = "**/api/v1/intake"
# nginx's own refusal at the ceiling, as deploy/gateway/nginx.conf.template writes it.
GATEWAY_429 = {"detail": "too many requests, retry later"}


async def test_the_waiting_room_shows_the_gateway_s_estimate_and_follows_it(
    browser: Browser,
) -> None:
    figures: dict[str, Any] = {
        "refused_share": 0.9,
        "retry_after_s": 1,
        "estimated_wait_s": 10,
        "window_s": 10.0,
    }
    asked = 0

    async def sign_up(route: Route, request: Request) -> None:
        await fulfil_json(route, 429, GATEWAY_429, **{"Retry-After": "1"})

    async def intake(route: Route, request: Request) -> None:
        nonlocal asked
        asked += 1
        await fulfil_json(route, 200, figures)

    page = await ready_form(browser, {SIGN_UP: sign_up, INTAKE: intake})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.get_by_role("heading", name="Situs sedang ramai")).to_be_visible()
    estimate = page.locator("#wait-estimate")
    await expect(estimate).to_contain_text("sekitar 10 detik")
    await expect(estimate).to_contain_text("90 dari setiap 100 percobaan ditolak")
    # Not read out: the live region speaks once per try, this line changes silently.
    assert await page.locator("#wait-live #wait-estimate").count() == 0

    # The crowd grows: the next look (every 5 s) shows the longer wait.
    figures.update(refused_share=0.98, estimated_wait_s=150)
    await page.clock.run_for(5_000)
    await expect(estimate).to_contain_text("sekitar 3 menit")
    await expect(estimate).to_contain_text("98 dari setiap 100")
    await page.clock.run_for(5_000)
    await expect(estimate).to_contain_text("sekitar 3 menit")
    assert asked >= 2

    # Stopping ends the looking too.
    await page.get_by_role("button", name="Berhenti dan kembali ke formulir").click()
    stopped_at = asked
    await page.clock.run_for(30_000)
    await page.wait_for_timeout(400)
    assert asked == stopped_at
    await page.context.close()


async def test_without_figures_the_page_shows_only_its_next_try(browser: Browser) -> None:
    async def sign_up(route: Route, request: Request) -> None:
        await fulfil_json(route, 429, GATEWAY_429, **{"Retry-After": "1"})

    async def intake(route: Route, request: Request) -> None:
        await fulfil_json(route, 503, {"detail": "busy"}, **{"Retry-After": "5"})

    page = await ready_form(browser, {SIGN_UP: sign_up, INTAKE: intake})
    await page.get_by_role("button", name=SUBMIT).click()
    await expect(page.locator("#wait-when")).to_contain_text("detik")
    await expect(page.locator("#wait-estimate")).to_be_hidden()
    await page.context.close()

"""The dashboards as the local Prometheus serves them (console pages generated from
deploy/dashboards/panels.py), rendered in a real browser: Debian's Chromium driven by Playwright.

After some real traffic through the gateway, every page must render without a template error,
without a script error or a missing asset, and with data in every panel. "Data" is concrete:
each panel element reports its last load in data attributes (deploy/dashboards/consoles.py);
a panel passes when its data-state is "ok" and data-series (the series with at least one number
to draw in the page's time window, one hour) is at least 1. Pages are polled with a generous
deadline, reloading while a panel is still empty, so the test waits for data instead of
betting on how fast it arrives.

Screenshots go to reports/screenshots/dashboards-<page>.png (ignored by git).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from deploy.dashboards.consoles import INDEX, page_name
from deploy.dashboards.panels import DASHBOARDS, Dashboard
from loadtests.citizens import invalid_payload, signup_payload
from tests.e2e.conftest import SHOTS
from tests.waves import draw_a_small_wave

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GATEWAY = "http://127.0.0.1:8080"
PROMETHEUS = "http://127.0.0.1:9090"
CONSOLES = f"{PROMETHEUS}/consoles"
# How Prometheus answers a console template that fails (web.go: http.Error with the error).
TEMPLATE_ERRORS = ("error executing template", "error parsing template", "html/template:")
# Generous: a fresh series needs two scrapes (5 s apart) before rate() has a value, the
# verification pipeline works the sign-ups off in the background, and the machine may be busy.
DEADLINE_S = 240.0
RELOAD_EVERY_S = 15.0

PANEL_STATES = """() => Array.from(document.querySelectorAll('[data-panel]')).map(p => ({
    title: p.dataset.panel, state: p.dataset.state, series: Number(p.dataset.series || 0),
    returned: Number(p.dataset.returned || 0), error: p.dataset.error || ''}))"""


def sign_up(client: httpx.Client, payload: dict[str, Any]) -> int:
    # The gateway's per-IP limit is shared with other tests from 127.0.0.1: back off as a real
    # client does, so the traffic arrives whole.
    for _ in range(10):
        answer = client.post("/api/v1/registrations", json=payload)
        if answer.status_code != 429:
            return answer.status_code
        time.sleep(float(answer.headers.get("retry-after", "1")))
    return answer.status_code


def instant(expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def send_sign_ups() -> None:
    """A few dozen sign-ups through the gateway: accepted ones (people the civil registry
    knows, so the NIK checks run), invalid ones (422) and a repeat (409, or 202 when the edge's
    Redis hint misses it and the decider refuses it later: both are traffic for the panels)."""
    try:
        httpx.get(f"{PROMETHEUS}/-/ready", timeout=3).raise_for_status()
        httpx.get(f"{CONSOLES}/{INDEX}", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(
            f"no console pages on the local Prometheus (make up starts it with them): {exc}"
        )
    rng = random.Random()
    valid = [signup_payload(rng) for _ in range(36)]
    invalid = [invalid_payload(rng) for _ in range(8)]
    with httpx.Client(base_url=GATEWAY, timeout=15) as client:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda p: sign_up(client, p), valid + invalid))
        repeat = sign_up(client, valid[0])
    assert answers[: len(valid)].count(202) >= 30, answers
    assert set(answers[len(valid) :]) == {422}, answers
    assert repeat in {202, 409}, repeat


@pytest.fixture(scope="module")
async def traffic() -> None:
    await asyncio.to_thread(send_sign_ups)
    if not await asyncio.to_thread(instant, "selection_wave_quota_seats"):
        await draw_a_small_wave(patience_s=60)


async def open_page(browser: Browser, name: str, problems: list[str]) -> Page:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} for {r.url}") if r.status >= 400 else None,
    )
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    response = await page.goto(f"{CONSOLES}/{name}")
    assert response is not None and response.status == 200, name
    text = await page.content()
    found = [marker for marker in TEMPLATE_ERRORS if marker in text]
    assert not found, f"{name}: template error: {text[:500]}"
    return page


async def panels_with_data(page: Page) -> list[dict[str, Any]]:
    """Poll until every panel has data, reloading while some are empty; the last states."""
    deadline = time.monotonic() + DEADLINE_S
    reload_at = time.monotonic() + RELOAD_EVERY_S
    while True:
        states: list[dict[str, Any]] = await page.evaluate(PANEL_STATES)
        if states and all(s["state"] == "ok" and s["series"] >= 1 for s in states):
            return states
        now = time.monotonic()
        if now > deadline:
            return states
        if now > reload_at and not any(s["state"] == "loading" for s in states):
            await page.reload()
            reload_at = now + RELOAD_EVERY_S
        await asyncio.sleep(1.0)


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
async def test_dashboard_page_draws_data_in_every_panel(
    traffic: None, browser: Browser, board: Dashboard
) -> None:
    problems: list[str] = []
    page = await open_page(browser, page_name(board), problems)
    try:
        states = await panels_with_data(page)
        # Let Rickshaw finish drawing before the picture is taken.
        await page.wait_for_timeout(500)
    finally:
        await page.screenshot(path=SHOTS / f"dashboards-{board.slug}.png", full_page=True)
        await page.context.close()
    assert [s["title"] for s in states] == [p.title for p in board.panels]
    without = [s for s in states if s["state"] != "ok" or s["series"] < 1]
    assert not without, f"{board.title}: panels without data after {DEADLINE_S:.0f}s: {without}"
    assert not problems, f"{board.title}: {problems}"


async def test_index_links_every_dashboard_and_says_what_is_up(
    traffic: None, browser: Browser
) -> None:
    problems: list[str] = []
    page = await open_page(browser, INDEX, problems)
    try:
        for board in DASHBOARDS:
            link = page.locator(f'main a[href="{page_name(board)}"]')
            assert await link.inner_text() == board.title
        summary = await page.locator("#summary").inner_text()
        # Filled in by the server's own query function: numbers, not the "-" of no answer.
        assert re.search(r"Targets up: \d+ of \d+", summary), summary
        await page.screenshot(path=SHOTS / "dashboards-index.png", full_page=True)
    finally:
        await page.context.close()
    assert not problems, problems

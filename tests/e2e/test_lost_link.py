"""'I lost my status link' (issue 20) across the whole stack, through the gateway: a person
who signed up asks for the link again on /tautan and gets a second message carrying the same
status link; a NIK nobody registered gets the very same answer and no message."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest
from playwright.async_api import Browser, expect

from testkit.simulators.mail_sink import find_messages
from tests.citizens import registry_person
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import GATEWAY, MAILDIR, phone_page

pytestmark = pytest.mark.e2e

STATUS_LINK = re.compile(r"https?://\S+/status#id=[0-9a-f-]{36}&t=[A-Za-z0-9_\-]+")
RESENT_SUBJECT = "Tautan status pendaftaran Anda / Your registration status link"
NEUTRAL_ID = (
    "Jika NIK ini terdaftar dengan kontak tersebut, kami telah mengirim tautan status ke "
    "kontak itu. Periksa email atau SMS Anda."
)


async def status_links_mailed(address: str, subject_prefix: str) -> list[str]:
    """The status links in the messages to ``address`` whose subject starts so, oldest first."""
    links = []
    for message in await asyncio.to_thread(find_messages, MAILDIR, address):
        if not str(message["Subject"]).startswith(subject_prefix):
            continue
        body = message.get_body(preferencelist=("plain",))
        found = STATUS_LINK.findall(str(body.get_content())) if body is not None else []
        links += found[:1]
    return links


async def first_link(address: str, subject_prefix: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await status_links_mailed(address, subject_prefix)
        if found:
            return found[0]
        await asyncio.sleep(0.5)
    raise AssertionError(f"no '{subject_prefix}' message to {address} within {timeout_s}s")


async def test_a_lost_link_comes_again_and_an_unknown_nik_learns_nothing(
    browser: Browser,
) -> None:
    person = registry_person(email=True)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=20) as gateway:
        signed_up = await gateway.post(
            "/api/v1/registrations", json=person, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert signed_up.status_code == 202, signed_up.text
        # The contact message (the email confirmation link) carries the status link.
        first = await first_link(person["email"], "Konfirmasi email", timeout_s=180)
        accepted = signed_up.json()
        assert f"id={accepted['registration_id']}&t={accepted['status_token']}" in first

        # Someone who never signed up (or types a NIK that is not theirs): the same answer.
        nobody = registry_person(email=True)
        ask_nobody = await gateway.post(
            "/api/v1/status-link", json={"nik": nobody["nik"], "contact": nobody["email"]}
        )

    # The person, on a phone, on the page.
    page = await phone_page(browser)
    await page.goto(f"{GATEWAY}/tautan")
    await expect(page.get_by_role("heading", name="Kirim ulang tautan status")).to_be_visible()
    nik = page.get_by_label("NIK (16 angka, lihat KTP)")
    contact = page.get_by_label("Email atau nomor HP yang dipakai saat mendaftar")
    # The sign-up form's rules, next to the field, in either language.
    await nik.fill("3275011708900000")
    await contact.fill("bukan-email@")
    await page.get_by_role("button", name="Kirim tautan status").click()
    await expect(page.locator("#lost-nik-error")).to_have_text(
        "Empat angka terakhir NIK tidak boleh 0000."
    )
    await expect(page.locator("#lost-contact-error")).not_to_be_empty()
    await expect(nik).to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("#lost-nik-error")).to_have_text(
        "The last four digits of the NIK cannot be 0000."
    )
    await expect(page.get_by_role("heading", name="Send the status link again")).to_be_visible()
    await page.screenshot(path=SHOTS / "lost-link-errors-en.png", full_page=True)
    await page.get_by_role("button", name="Bahasa Indonesia").click()

    await nik.fill(person["nik"])
    # Typed differently from sign-up (capitals): the same mailbox.
    await contact.fill(person["email"].upper())
    await page.get_by_role("button", name="Kirim tautan status").click()
    await expect(page.locator("#lost-sent")).to_have_text(NEUTRAL_ID, timeout=30_000)
    # The page never shows the link itself.
    assert "/status#" not in await page.content()
    await page.screenshot(path=SHOTS / "lost-link-sent.png", full_page=True)
    await page.context.close()

    second = await first_link(person["email"], "Tautan status", timeout_s=90)
    assert second == first, "the second message carries another status link"

    # The stranger's answer was the very one every request gets, and nothing went anywhere.
    assert ask_nobody.status_code == 202
    assert ask_nobody.json() == {"status": "status_link_requested", "detail": NEUTRAL_ID}
    await asyncio.sleep(3)
    assert await asyncio.to_thread(find_messages, MAILDIR, nobody["email"]) == []


async def test_the_answer_is_the_same_for_a_wrong_contact() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=20) as gateway:
        person = registry_person(email=True)
        stranger = registry_person(email=True)
        answers = [
            await gateway.post("/api/v1/status-link", json={"nik": nik, "contact": contact})
            for nik, contact in [
                (person["nik"], person["email"]),
                (person["nik"], stranger["email"]),
                (stranger["nik"], "0812 3456 7890"),
            ]
        ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.content for a in answers}) == 1
    # The gateway routes it to the registration API (its JSON, not nginx's).
    assert answers[0].json()["status"] == "status_link_requested"


async def test_a_broken_status_link_and_the_form_lead_to_the_lost_link_page(
    browser: Browser,
) -> None:
    page = await phone_page(browser)
    try:
        # A status address whose end was lost (cut by a messaging app, copied halfway).
        await page.goto(f"{GATEWAY}/status")
        way_back = page.get_by_role("link", name="Kehilangan tautan status?")
        await expect(way_back).to_be_visible(timeout=20_000)
        await way_back.click()
        await expect(page).to_have_url(f"{GATEWAY}/tautan", timeout=20_000)
        await page.goto(f"{GATEWAY}/")
        await expect(page.get_by_role("link", name="Kehilangan tautan status?")).to_be_visible(
            timeout=20_000
        )
    finally:
        await page.context.close()

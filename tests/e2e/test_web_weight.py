"""What the sign-up page costs a cheap phone on its first load: compressed text, files that are
revalidated rather than fetched again, no HTML where an icon or a script is expected, and every
module requested at once rather than one level of imports after another.

Checks the gateway's static-file settings (deploy/gateway/nginx.conf.template), so they pass once
`make up` has rendered and reloaded that config. GELOMBANG_WEB_URL points them at another
gateway serving the same files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from tests.e2e.test_web import GATEWAY, phone_page

pytestmark = pytest.mark.e2e

BASE = os.environ.get("GELOMBANG_WEB_URL", GATEWAY).rstrip("/")
WEB = Path(__file__).resolve().parents[2] / "web"
# Text files above gzip_min_length (512 bytes), as the page loads them.
TEXT_FILES = ["/", "/app.js", "/i18n.js", "/signup.js", "/style.css", "/data/regions.json"]
# First load, all files, compressed, headers included: ~52 KB when this was written (73 KB
# uncompressed before); the margin is for the page to grow a little, not to double.
FIRST_LOAD_BUDGET_BYTES = 70_000


@pytest.mark.parametrize("path", TEXT_FILES)
def test_text_files_are_compressed_and_revalidated(path: str) -> None:
    with httpx.Client(base_url=BASE, timeout=10) as client:
        first = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200
        assert first.headers.get("content-encoding") == "gzip", first.headers
        assert "accept-encoding" in first.headers.get("vary", "").lower()
        assert first.headers.get("cache-control") == "no-cache"
        etag = first.headers.get("etag")
        assert etag, "no ETag: a browser could not revalidate"
        again = client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""


def test_favicon_ico_is_not_the_page() -> None:
    answer = httpx.get(f"{BASE}/favicon.ico", timeout=10)
    assert answer.status_code in (204, 404) or answer.headers["content-type"].startswith("image/")
    assert "html" not in answer.headers.get("content-type", "")
    icon = httpx.get(f"{BASE}/favicon.svg", timeout=10)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_a_missing_script_is_a_404_not_the_page() -> None:
    assert httpx.get(f"{BASE}/no-such-module.js", timeout=10).status_code == 404
    # Addresses the page itself routes still get the page.
    for path in ("/status", "/kode", "/syarat"):
        answer = httpx.get(f"{BASE}{path}", timeout=10)
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]


def test_index_preloads_every_module_the_page_imports() -> None:
    """A module the page imports but index.html does not preload costs one more round trip
    (found only once its importer has arrived): seconds on a slow mobile link."""
    imported = {"/app.js"}
    pattern = re.compile(r'^\s*(?:import|export)\s[^;]*?from\s+"\./([\w.-]+\.js)"', re.M | re.S)
    for script in WEB.glob("*.js"):
        imported |= {f"/{name}" for name in pattern.findall(script.read_text())}
    index = (WEB / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)"', index))
    assert imported <= preloaded, f"not preloaded: {sorted(imported - preloaded)}"
    assert '<link rel="preload" href="/data/regions.json" as="fetch" crossorigin>' in index


async def test_first_load_is_small_and_never_html_where_a_file_is_expected(
    browser: Browser,
) -> None:
    page = await phone_page(browser)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    sizes: dict[str, int] = {}
    types: dict[str, tuple[str, str]] = {}

    def received(event: dict[str, object]) -> None:
        response = event["response"]
        assert isinstance(response, dict)
        types[str(event["requestId"])] = (str(response["url"]), str(response["mimeType"]))

    def finished(event: dict[str, object]) -> None:
        sizes[str(event["requestId"])] = int(str(event["encodedDataLength"]))

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.loadingFinished", finished)
    await page.goto(f"{BASE}/", wait_until="networkidle")
    await page.wait_for_selector("#province_code option:nth-child(3)", state="attached")
    over_http = {rid: url for rid, (url, _) in types.items() if url.startswith("http")}
    total = sum(sizes.get(rid, 0) for rid in over_http)
    html = [url for rid, (url, mime) in types.items() if mime == "text/html"]
    assert html == [f"{BASE}/"], f"HTML answered for a file: {html}"
    assert total < FIRST_LOAD_BUDGET_BYTES, f"{total} bytes in {len(over_http)} requests"
    await page.context.close()

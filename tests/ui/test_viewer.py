"""The data viewer at /ui, in a real headless browser (Debian's chromium, driven by playwright)."""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import RunningServer, running_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
NAMESPACE = "files:my-org/my-repo"
EVIL = '<img src=x onerror="window.__xss=1">'


def browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (apt-get install -y chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


pytestmark = pytest.mark.skipif(
    browser_missing() is not None, reason=f"UI VIEWER NOT TESTED IN A BROWSER: {browser_missing()}"
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server({"DATASTORE_AUTH": "none"}) as running:
        yield running


@pytest.fixture
def api(server: RunningServer, user_id: str) -> Iterator[httpx.Client]:
    headers = {"X-User-Id": user_id, "X-Agent-Name": "seed"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:

        def call(operation: str, **body: object) -> dict:
            response = client.post(f"/v1/{operation}", json=body)
            assert response.status_code == 200, response.text
            return response.json()

        client.call = call  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server, user_id):
    # The page's CSP forbids eval, which playwright's wait_for_function needs; bypassing it also
    # proves the escaping on its own: without CSP an injected onerror would run.
    context = browser.new_context(bypass_csp=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{server.url}/ui")
    opened.fill("#user", user_id)
    opened.dispatch_event("#user", "change")
    yield opened
    assert errors == []
    context.close()


def test_viewer_lists_pages_shows_and_deletes(api, page):
    call = api.call
    call("set_many", namespace=NAMESPACE, items={f"src/f{i:03d}.py": {"n": i} for i in range(60)})
    call("set", namespace=NAMESPACE, key="src/f000.py", value={"n": 0, "note": EVIL}, metadata={"m": EVIL})
    call("set", namespace="plain", key=EVIL, value=EVIL)
    page.click("#refresh")
    rows = page.locator("#namespaces tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    texts = [rows.nth(i).inner_text() for i in range(2)]
    assert texts[0].startswith(NAMESPACE) and "\t60\t" in texts[0]
    assert texts[1].startswith("plain") and "\t1\t" in texts[1]

    # Keys with '/' in a namespace with ':' and '/', 50 a page.
    page.click(f"#namespaces td.name >> text={NAMESPACE}")
    page.wait_for_selector("#keys tbody tr")
    keys = page.locator("#keys td.name")
    assert keys.count() == 50 and keys.first.inner_text() == "src/f000.py"
    page.click("#next")
    page.wait_for_function("document.querySelector('#keys td.name').textContent === 'src/f050.py'")
    assert keys.count() == 10 and page.is_disabled("#next")
    page.click("#prev")
    page.wait_for_function("document.querySelector('#keys td.name').textContent === 'src/f000.py'")

    # One record in full, shown without counting a read, hostile text shown as text.
    page.click("#keys td.name >> text=src/f000.py")
    page.wait_for_selector("#record:not([hidden])")
    assert json.loads(page.inner_text("#record-value")) == {"n": 0, "note": EVIL}
    assert json.loads(page.inner_text("#record-metadata")) == {"m": EVIL}
    assert "version\n2" in page.inner_text("#record-fields").replace("\t", "\n")
    record = call("get", namespace=NAMESPACE, key="src/f000.py", include_record=True, track_access=False)["record"]
    assert record["accessCount"] == 0

    # Delete from the record view (confirm dialog accepted).
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#record-delete")
    page.wait_for_selector("#record", state="hidden")
    assert call("get", namespace=NAMESPACE, key="src/f000.py") == {"found": False}
    rows_now = "[...document.querySelectorAll('#namespaces tbody tr')]"
    page.wait_for_function(
        f"{rows_now}.some(r => r.innerText.startsWith({json.dumps(NAMESPACE)}) && r.innerText.includes('\\t59\\t'))"
    )

    # A hostile key in another namespace: listed literally, deleted from the list, no script ran.
    page.click("#namespaces td.name >> text=plain")
    page.wait_for_function(f"document.querySelector('#keys td.name').textContent === {json.dumps(EVIL)}")
    assert page.inner_text("#keys td.name") == EVIL
    page.click("#keys td.name")
    page.wait_for_selector("#record:not([hidden])")
    assert page.inner_text("#record-key") == EVIL
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#keys button.danger")
    page.wait_for_function("document.querySelectorAll('#namespaces tbody tr').length === 1")
    assert call("list_namespaces")["namespaces"] == [NAMESPACE]
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0


def test_prefix_and_a_cancelled_delete(api, page):
    api.call("set_many", namespace="a/b", items={"x/1": 1, "x/2": 2, "y/1": 3})
    page.click("#refresh")
    page.click("#namespaces td.name >> text=a/b")
    page.wait_for_selector("#keys tbody tr")
    page.fill("#prefix", "x/")
    page.dispatch_event("#prefix", "change")
    page.wait_for_function("document.querySelectorAll('#keys td.name').length === 2")
    assert page.locator("#keys td.name").all_inner_texts() == ["x/1", "x/2"]
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#keys button.danger >> nth=0")
    assert api.call("get", namespace="a/b", key="x/1", track_access=False)["value"] == 1


def test_the_page_is_locked_down(server):
    response = httpx.get(f"{server.url}/ui")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    text = html.unescape(response.text)
    assert "default-src 'none'" in text and "connect-src 'self'" in text and "script-src 'sha256-" in text
    assert 'data-auth="none"' in text

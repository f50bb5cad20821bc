"""The data viewer at /ui, in a real headless browser (Debian's chromium, driven by playwright).

`VIEWER_SHOTS=/some/dir` saves screenshots of the page with realistic data and of a fresh
user's empty page, at 1280x800 and 800x800, to look at.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_datastore.edges.auth import mint_token
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
SHOTS = os.environ.get("VIEWER_SHOTS")
WIDE, NARROW = {"width": 1280, "height": 800}, {"width": 800, "height": 800}

LONG = "files:my-org/my-repo-with-a-long-name"
SUMMARY = "summary:my-org/my-repo-with-a-long-name/pull-requests/1234"
CACHE = "cache:github"
CACHED_URL = "https://api.github.com/repos/my-org/my-repo/pulls?state=open&per_page=100"
RECORD_KEY = "src/agent_datastore/core/records.py"


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


def client_call(client: httpx.Client) -> Callable[..., dict]:
    def call(operation: str, **body: object) -> dict:
        response = client.post(f"/v1/{operation}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    return call


@pytest.fixture
def api(server: RunningServer, user_id: str) -> Iterator[httpx.Client]:
    headers = {"X-User-Id": user_id, "X-Agent-Name": "seed"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        client.call = client_call(client)  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@dataclass
class Viewer:
    """One open /ui page and what the browser saw: script errors, console errors, every HTTP answer."""

    page: Any
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    responses: list[tuple[int, str, str]] = field(default_factory=list)  # (status, url, content type)

    def failures(self) -> list[tuple[int, str, str]]:
        return [answer for answer in self.responses if answer[0] >= 400]


@pytest.fixture
def open_viewer(browser) -> Iterator[Callable[..., Viewer]]:
    """Opens /ui of `url` as `user` (None: leave the field as the page has it), optionally with the
    browser's clock at `at`. After the test: no script error, no console error, no HTTP error."""
    opened: list[tuple[Any, Viewer]] = []

    def open_(
        url: str, user: str | None, viewport: dict[str, int] = WIDE, at: float | None = None, csp: bool = False
    ) -> Viewer:
        # The page's CSP forbids eval, which playwright's wait_for_function and evaluate need; bypassing it
        # also proves the escaping on its own: without CSP an injected onerror would run.
        context = browser.new_context(bypass_csp=not csp, viewport=viewport)
        page = context.new_page()
        viewer = Viewer(page)
        opened.append((context, viewer))
        page.on("pageerror", lambda error: viewer.page_errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and viewer.console_errors.append(message.text))
        # The network log of the browser itself: it also holds the icon request, which playwright's
        # page.on("response") does not report.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")

        def answered(event: dict) -> None:
            response = event["response"]
            content_type = {k.lower(): v for k, v in response["headers"].items()}.get("content-type", "")
            viewer.responses.append((response["status"], response["url"], content_type))

        cdp.on("Network.responseReceived", answered)
        if at is not None:
            page.clock.install(time=at)
        page.goto(f"{url}/ui")
        if user is not None:
            page.fill("#user", user)
            page.dispatch_event("#user", "change")
        page.wait_for_selector("#status:not(:has-text('loading'))")
        return viewer

    yield open_
    for context, _ in opened:
        context.close()
    for _, viewer in opened:
        assert viewer.page_errors == []
        assert viewer.console_errors == []
        assert viewer.failures() == []


@pytest.fixture
def page(open_viewer, server, user_id):
    return open_viewer(server.url, user_id).page


def shoot(viewer: Viewer, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        size = viewer.page.viewport_size
        path = Path(SHOTS) / f"{size['width']}x{size['height']}-{name}.png"
        viewer.page.screenshot(path=str(path))
        assert path.stat().st_size > 0


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


# -- what a person sees ------------------------------------------------------------------------------

# For each element matching the selector: its text, its title, and for each place where the browser
# started a new line the characters either side of it (found from where each character is on screen).
LINE_BREAKS = """(selector) => [...document.querySelectorAll(selector)].map((element) => {
  const chars = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) chars.push([node.data[i], rect.top]);
    }
  }
  const breaks = [];
  for (let i = 1; i < chars.length; i++) {
    if (chars[i][1] > chars[i - 1][1] + 2) breaks.push(chars[i - 1][0] + chars[i][0]);
  }
  const titled = element.title ? element : element.querySelector("[title]");
  return {text: element.textContent, title: titled ? titled.title : "", breaks: breaks};
})"""
# Sections that need a horizontal scroll bar (their content is wider than they are).
OVERFLOWING = "[...document.querySelectorAll('section')].filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.id)"


def seed_realistic(call: Callable[..., dict]) -> None:
    call(
        "set_many",
        namespace=LONG,
        items={
            "src/agent_datastore/edges/local/static/ui.js": {"sha": "3f2a9c", "lines": 212},
            "src/agent_datastore/edges/local/ui.py": {"sha": "77aa01", "lines": 48},
            "README.md": {"sha": "0b1c2d", "text": "x" * 4000},
            "docs/architecture.md": {"sha": "91e4f0", "text": "y" * 180_000},
        },
    )
    call(
        "set",
        namespace=LONG,
        key=RECORD_KEY,
        value={"sha": "abc123", "imports": ["json", "datetime"]},
        metadata={"language": "python", "indexed_by": "indexer-v2"},
    )
    call("set", namespace=SUMMARY, key="overview", value="A long summary. " * 40, metadata={"model": "claude"})
    pulls = [{"number": i, "title": f"PR {i}"} for i in range(30)]
    call("set", namespace=CACHE, key=CACHED_URL, value=pulls, ttl_seconds=3600, metadata={"etag": 'W/"abc"'})
    call("increment", namespace="default", key="runs", by=7)
    call("set", namespace="notes", key="todo", value=["write tests", "ship"])


def mid_word(pair: str) -> bool:
    return all(char.isalnum() or char == "_" for char in pair)


def assert_names_break_at_separators(page: Any, selector: str) -> list[dict]:
    """Long names may wrap after a separator (':', '/', '-', '?'...), never between two letters."""
    names = page.evaluate(LINE_BREAKS, selector)
    assert names, selector
    for name in names:
        assert not [pair for pair in name["breaks"] if mid_word(pair)], f"{name['text']!r} wraps inside a word"
        assert name["title"] == name["text"]
    return names


def twenty_minutes_on() -> float:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=20)).timestamp()


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "800"])
def test_realistic_data_reads_well(api, open_viewer, server, user_id, viewport):
    """Long names wrap only at separators, nothing needs a horizontal scroll bar, sizes (in human
    units) and times stay on one line; screenshots of each view when VIEWER_SHOTS is set."""
    seed_realistic(api.call)
    viewer = open_viewer(server.url, user_id, viewport, at=twenty_minutes_on())
    page = viewer.page
    page.wait_for_selector("#namespaces tbody tr")
    names = assert_names_break_at_separators(page, "#namespaces td.name")
    assert [name["text"] for name in names] == [CACHE, "default", LONG, "notes", SUMMARY]
    assert any(name["breaks"] for name in names)  # long names do wrap, at their separators
    sizes = page.locator("#namespaces tbody td.num:nth-child(3)").all_inner_texts()
    assert sizes[2] == "179.9\u00a0KiB" and sizes[1] == "3\u00a0B"
    assert [cell["breaks"] for cell in page.evaluate(LINE_BREAKS, "#namespaces td.num, #namespaces td.when")] == [
        []
    ] * 15
    assert page.evaluate(OVERFLOWING) == []
    shoot(viewer, "1-namespaces")

    page.click(f"#namespaces td.name >> text={LONG}")
    page.wait_for_selector("#keys tbody tr")
    assert_names_break_at_separators(page, "#keys td.name")
    assert page.evaluate(OVERFLOWING) == []
    shoot(viewer, "2-keys")

    page.click(f"#keys td.name >> text={RECORD_KEY}")
    page.wait_for_selector("#record:not([hidden])")
    assert_names_break_at_separators(page, "#record-key, #record-fields dd.name, #keys-title .name")
    assert page.evaluate(OVERFLOWING) == []
    shoot(viewer, "3-record")

    page.click(f"#namespaces td.name >> text={CACHE}")
    page.click(f"#keys td.name >> text={CACHED_URL}")
    page.wait_for_function(f"document.getElementById('record-key').title === {json.dumps(CACHED_URL)}")
    assert_names_break_at_separators(page, "#record-key")
    assert page.evaluate(OVERFLOWING) == []
    shoot(viewer, "4-ttl-record")

    fresh = open_viewer(server.url, f"fresh-{user_id}", viewport)
    fresh.page.wait_for_selector("#empty:not([hidden])")
    assert fresh.page.evaluate(OVERFLOWING) == []
    shoot(fresh, "5-empty")
    if SHOTS:
        assert len(list(Path(SHOTS).glob(f"{viewport['width']}x*.png"))) >= 5


def test_times_are_relative_with_the_exact_time_on_hover(api, open_viewer, server, user_id):
    api.call("set", namespace=CACHE, key=CACHED_URL, value=[1, 2], ttl_seconds=3600)
    record = api.call("get", namespace=CACHE, key=CACHED_URL, include_record=True, track_access=False)["record"]
    updated = api.call("stats", namespace=CACHE)["namespaces"][0]["updatedAt"]
    page = open_viewer(server.url, user_id, at=twenty_minutes_on()).page
    page.wait_for_selector("#namespaces tbody tr")
    time = page.locator("#namespaces tbody td:nth-child(4) time")
    assert time.inner_text() == "20 min ago"
    assert time.get_attribute("datetime") == updated and time.get_attribute("title") == updated
    assert datetime.datetime.fromisoformat(updated).tzinfo is not None  # RFC 3339, with its zone

    page.click(f"#namespaces td.name >> text={CACHE}")
    page.click("#keys td.name")
    page.wait_for_selector("#record:not([hidden])")
    fields = dict(
        zip(page.locator("#record-fields dt").all_inner_texts(), page.locator("#record-fields dd").all(), strict=True)
    )
    for name, shown in (("createdAt", "20 min ago"), ("updatedAt", "20 min ago"), ("expiresAt", "in 40 min")):
        element = fields[name].locator("time")
        assert element.inner_text() == shown, name
        assert element.get_attribute("datetime") == record[name] == element.get_attribute("title")

    # The page keeps its relative times current as the clock moves.
    page.clock.fast_forward("30:00")
    page.wait_for_function("document.querySelector('#namespaces tbody time').textContent === '50 min ago'")
    assert fields["expiresAt"].inner_text() == "in 10 min"
    page.clock.fast_forward("48:00:00")
    page.wait_for_function("document.querySelector('#namespaces tbody time').textContent === '2 days ago'")


def test_the_icon_is_served_and_nothing_fails_to_load(api, open_viewer, server, user_id):
    """Under the page's real Content-Security-Policy (not bypassed): the script runs, loads the data,
    the icon loads, and the browser logs no 404 and no CSP violation."""
    api.call("set", namespace=LONG, key="k", value=1)
    viewer = open_viewer(server.url, user_id, csp=True)
    viewer.page.wait_for_selector(f"#namespaces td.name:has-text('{LONG}')")
    deadline = 50
    while not any(url.endswith("/favicon.svg") for _, url, _ in viewer.responses) and deadline:
        viewer.page.wait_for_timeout(100)
        deadline -= 1
    assert (200, f"{server.url}/favicon.svg", "image/svg+xml") in viewer.responses
    assert viewer.failures() == []
    assert viewer.page.get_attribute("link[rel=icon]", "href") == "/favicon.svg"
    # Browsers ask for /favicon.ico on pages without an icon link (/docs, the JSON pages).
    for path in ("/favicon.ico", "/favicon.svg"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
        assert response.text.startswith("<svg ")


def test_a_fresh_install_says_how_to_store_something(open_viewer, browser):
    """A first run: the default user "local" has no data. The page says so and shows a curl command
    and an SDK call for this very server; both work as shown."""
    with running_server({"DATASTORE_AUTH": "none"}) as fresh:
        viewer = open_viewer(fresh.url, None)
        page = viewer.page
        page.wait_for_selector("#empty:not([hidden])")
        shoot(viewer, "6-first-run")
        assert page.is_hidden("#namespaces")
        assert page.inner_text("#empty-title") == 'No data for user "local" yet.'
        assert page.inner_text("#ns-count") == "0 namespaces"
        assert page.is_hidden("#keys-panel") and page.is_hidden("#record-panel")  # nothing to pick yet

        words = [word for word in shlex.split(page.inner_text("#empty-curl")) if word != "\n"]
        assert words[:3] == ["curl", "-s", f"{fresh.url}/v1/set"] and words[3] == "-H" and words[5] == "-d"
        name, _, value = words[4].partition(": ")
        assert (name, value) == ("X-User-Id", "local")
        assert httpx.post(words[2], headers={name: value}, content=words[6]).status_code == 200

        snippet = page.inner_text("#empty-sdk")
        assert f'DataStore("{fresh.url}", namespace="notes")' in snippet
        exec(snippet.replace('"hello"', '"from-sdk"'), {})  # the page's own example, run as shown

        page.click("#refresh")
        page.wait_for_selector("#namespaces:not([hidden])")
        assert page.is_hidden("#empty")
        assert page.locator("#namespaces td.name").all_inner_texts() == ["notes"]
        assert page.inner_text("#namespaces tbody td:nth-child(2)") == "2"
        assert page.inner_text("#no-namespace") == "Pick a namespace." and page.is_hidden("#keys-tools")


def test_an_empty_page_for_another_user_shows_their_header(open_viewer, server, user_id):
    page = open_viewer(server.url, f"o'brien-{user_id}").page
    page.wait_for_selector("#empty:not([hidden])")
    assert page.inner_text("#empty-title") == f'No data for user "o\'brien-{user_id}" yet.'
    words = [word for word in shlex.split(page.inner_text("#empty-curl")) if word != "\n"]
    assert words[4] == f"X-User-Id: o'brien-{user_id}"  # quoted for the shell
    assert page.is_hidden("#empty-sdk-block")  # the SDK sends no X-User-Id: it would write as "local"


def test_token_mode_asks_for_a_token_then_shows_that_users_data(open_viewer):
    with running_server(
        {"DATASTORE_AUTH": "token", "DATASTORE_TOKEN_SECRET": "viewer-test-secret-of-32-bytes-or-more"}
    ) as secured:
        viewer = open_viewer(secured.url, None)
        page = viewer.page
        shoot(viewer, "7-token-needed")
        assert page.is_hidden("#user-field") and page.is_visible("#token-field")
        assert page.is_visible("#need-token") and "agent-datastore token mint" in page.inner_text("#need-token")
        page.fill("#token", mint_token("viewer-test-secret-of-32-bytes-or-more", user="alice", agent="viewer"))
        page.dispatch_event("#token", "change")
        page.wait_for_selector("#empty:not([hidden])")
        assert page.is_hidden("#need-token")
        assert page.inner_text("#empty-title") == "No data for this token's user yet."
        assert "Authorization: Bearer $TOKEN" in page.inner_text("#empty-curl")

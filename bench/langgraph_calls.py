"""HTTP calls per LangGraph store operation, counted by an httpx event hook on the SDK's own client.

    python -m bench.langgraph_calls                    # a local `agent-datastore serve` (SQLite)
    python -m bench.langgraph_calls --append bench/results.md

Puts 100 items in one namespace through `DataStoreStore`, then counts the HTTP
requests of a search over them (sync and async), of one get and of the puts.
The target for a search over 100 items in one namespace is at most 2 calls;
`--append` replaces (or adds) this script's own section of the results file,
leaving the rest of it as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from agent_datastore_sdk import AsyncDataStore, DataStore
from agent_datastore_sdk.langgraph import DataStoreStore
from agent_datastore_sdk.transports.http import AsyncHttpTransport, HttpTransport
from bench.sections import replace_section

HEADING = "## LangGraph store: HTTP calls per operation"
TARGET_SEARCH_CALLS = 2
ITEMS = 100


class Requests:
    """The httpx event hook: every request the SDK sends, by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path.rsplit("/", 1)[-1])

    async def on_async(self, request: httpx.Request) -> None:
        self(request)

    def during(self, action: Callable[[], Any]) -> list[str]:
        start = len(self.paths)
        action()
        return self.paths[start:]


def measure(url: str, token: str | None = None) -> dict[str, Any]:
    """Counts against the store at `url`: with `token`, or as a fresh user of a server with auth off."""
    seen = Requests()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    else:
        headers["x-user-id"] = f"bench-{uuid.uuid4().hex[:8]}"
    client = httpx.Client(headers=headers, event_hooks={"request": [seen]})
    aclient = httpx.AsyncClient(headers=headers, event_hooks={"request": [seen.on_async]})
    store = DataStoreStore(
        DataStore(transport=HttpTransport(url, client=client)),
        async_client=AsyncDataStore(transport=AsyncHttpTransport(url, client=aclient)),
    )
    namespace = ("memories", "bench")
    rows: list[tuple[str, list[str]]] = []
    rows.append(
        ("put 100 items (one batch)", seen.during(lambda: store.batch(_puts(namespace)))),
    )
    found: list[Any] = []
    rows.append(("search 100 items, limit=100", seen.during(lambda: found.extend(store.search(namespace, limit=100)))))
    assert len(found) == ITEMS, len(found)
    rows.append(("search 100 items, limit=10 (default)", seen.during(lambda: store.search(namespace))))
    rows.append(
        (
            "search with filter, limit=100",
            seen.during(lambda: store.search(namespace, filter={"even": True}, limit=100)),
        )
    )

    async def asearch() -> None:
        async with aclient:
            await store.asearch(namespace, limit=100)

    rows.append(("asearch 100 items, limit=100", seen.during(lambda: asyncio.run(asearch()))))
    rows.append(("get one item", seen.during(lambda: store.get(namespace, "m000"))))
    rows.append(("list_namespaces", seen.during(lambda: store.list_namespaces(prefix=("memories",)))))
    client.close()
    return {"rows": rows, "records_listing": store._records}


def _puts(namespace: tuple[str, ...]) -> list[Any]:
    from langgraph.store.base import PutOp

    return [PutOp(namespace, f"m{i:03d}", {"i": i, "even": i % 2 == 0}) for i in range(ITEMS)]


def render(result: dict[str, Any]) -> str:
    path = (
        "the SDK's records listing (`include_records`)"
        if result["records_listing"]
        else "the fallback of an SDK without `include_records`: `get_all` + one `get` per result"
    )
    lines = [
        HEADING,
        "",
        f"Produced by `python -m bench.langgraph_calls --append bench/results.md` (a local `agent-datastore serve`, "
        f"SQLite, auth off; Python {platform.python_version()}). HTTP requests counted by an httpx event hook on "
        f"the SDK's client; {ITEMS} items in one namespace. Search path measured: {path}. "
        f"Target for a search over {ITEMS} items: at most {TARGET_SEARCH_CALLS} calls.",
        "",
        "| operation | HTTP calls | requests |",
        "|---|---|---|",
    ]
    for name, paths in result["rows"]:
        counted: dict[str, int] = {}
        for path_name in paths:
            counted[path_name] = counted.get(path_name, 0) + 1
        detail = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counted.items())
        lines.append(f"| {name} | {len(paths)} | {detail} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running data store with auth off (default: start one)")
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    if args.url:
        result = measure(args.url)
    else:
        from tests.support.server import running_server

        with running_server(env={"DATASTORE_AUTH": "none", "STORE_BACKEND": "sqlite"}) as server:
            result = measure(server.url)
    section = render(result)
    print(section)
    search_calls = len(result["rows"][1][1])
    if args.append:
        replace_section(args.append, section)
        print(f"wrote the section to {args.append}", file=sys.stderr)
    if search_calls > TARGET_SEARCH_CALLS:
        print(f"search over {ITEMS} items: {search_calls} calls (target {TARGET_SEARCH_CALLS})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

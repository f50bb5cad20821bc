from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import RunningServer, running_server


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as running:
        yield running


@pytest.fixture
def http(server: RunningServer, user_id: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-User-Id": user_id, "X-Agent-Name": "e2e"}, timeout=30) as client:
        yield client

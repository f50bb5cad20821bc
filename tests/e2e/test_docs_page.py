"""The `/docs` page's examples run as written against the live server that shows them, and `GET /` points
a person at the docs, the viewer and the OpenAPI document."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import httpx
import pytest

from agent_datastore.api.service import OPERATIONS
from tests.support.server import running_server

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the examples are curl commands")


def examples(page: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre>(curl .*?)</pre>", page, flags=re.S)]


def test_every_example_on_the_docs_page_runs_against_the_server_that_shows_it() -> None:
    with running_server() as server:
        page = httpx.get(f"{server.url}/docs").text
        commands = examples(page)
        assert len(commands) == len(OPERATIONS)
        for operation, command in zip(OPERATIONS, commands, strict=True):
            assert command.startswith(f"curl -s {server.url}/v1/{operation} "), command
            result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30, check=True)
            answer = json.loads(result.stdout)
            assert "error" not in answer, (command, answer)
            OPERATIONS[operation].response.model_validate(answer)
        # The destructive example touched only its own namespace.
        namespaces = httpx.post(f"{server.url}/v1/list_namespaces", json={}).json()["namespaces"]
        assert namespaces in ([], ["docs-examples"])


def test_every_member_is_listed_on_the_docs_page() -> None:
    with running_server() as server:
        page = httpx.get(f"{server.url}/docs").text
    for operation in OPERATIONS.values():
        for member in operation.request.model_fields:
            assert f"<code>{member}</code>" in page, (operation.name, member)


def test_the_root_points_to_docs_ui_and_openapi() -> None:
    with running_server() as server:
        answer = httpx.get(f"{server.url}/")
        assert answer.status_code == 200
        links = answer.json()
        for name, path in (("docs", "/docs"), ("ui", "/ui"), ("openapi", "/openapi.json")):
            assert links[name] == f"{server.url}{path}"
            assert httpx.get(links[name]).status_code == 200


def test_every_member_of_every_request_is_described() -> None:
    with running_server() as server:
        spec = httpx.get(f"{server.url}/openapi.json").json()
        page = html.unescape(httpx.get(f"{server.url}/docs").text)
    undescribed = []
    for path, item in spec["paths"].items():
        name = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for member, detail in spec["components"]["schemas"][name]["properties"].items():
            description = str(detail.get("description", "")).strip()
            if not description:
                undescribed.append(f"{path} {member}")
            else:
                assert description in page, (path, member)
    assert undescribed == []

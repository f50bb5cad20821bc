"""The README's integration sections, run as written: the MCP client configuration block launches
the server and its tools answer; the LangGraph snippet counts visits across three runs."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import mint
from tests.support.server import ROOT, RunningServer

README = (ROOT / "README.md").read_text()


def block(section: str, language: str) -> str:
    body = README.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", body, re.DOTALL)
    assert found, f"no {language} block under {section!r}"
    return found.group(1)


@pytest.mark.anyio
async def test_the_mcp_client_configuration_starts_a_working_server(
    api_server: RunningServer, user_id: str, anyio_backend: str
) -> None:
    from mcp import Client, StdioServerParameters

    config: dict[str, Any] = json.loads(block("MCP server", "json"))["mcpServers"]["agent-datastore"]
    assert set(config["env"]) == {"DATASTORE_URL", "DATASTORE_TOKEN"}
    command = Path(sys.executable).parent / config["command"]  # the console script of this install
    env = {"DATASTORE_URL": api_server.url, "DATASTORE_TOKEN": mint(user_id, agent="claude")}
    params = StdioServerParameters(command=str(command), args=config["args"], env=env, cwd=str(ROOT))
    async with Client(params) as client:
        assert len((await client.list_tools()).tools) == 10
        await client.call_tool("set", {"key": "k", "value": {"from": "readme"}})
        answer = await client.call_tool("get", {"key": "k", "include_record": True})
    assert answer.structured_content["value"] == {"from": "readme"}
    assert answer.structured_content["record"]["createdByAgent"] == "claude"


def test_the_langgraph_snippet_remembers_across_runs(
    api_server: RunningServer, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = compile(block("LangGraph store", "python"), "README.md", "exec")
    monkeypatch.setenv("DATASTORE_URL", api_server.url)
    monkeypatch.setenv("DATASTORE_TOKEN", mint(user_id))
    printed = []
    for _ in range(3):  # three runs, each a fresh program
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, {"__name__": "readme"})
        printed.append(out.getvalue().strip())
    assert printed == ["1", "2", "3"]

"""bench/langgraph_calls.py: its counts, against the real server, and its section of the results file
(written by bench/sections.py, which every benchmark uses)."""

from __future__ import annotations

from pathlib import Path

from bench import langgraph_calls
from bench.sections import replace_section
from tests.integrations.conftest import mint
from tests.support.server import RunningServer


def test_the_counts_are_those_of_the_search_path(api_server: RunningServer, user_id: str) -> None:
    result = langgraph_calls.measure(api_server.url, mint(user_id))
    rows = dict(result["rows"])
    assert rows["put 100 items (one batch)"] == ["set_many"]
    assert rows["get one item"] == ["get"]
    assert result["records_listing"]
    assert rows["search 100 items, limit=100"] == ["list_namespaces", "list_keys"]
    assert langgraph_calls.HEADING in langgraph_calls.render(result)


def test_the_section_is_replaced_or_appended_and_nothing_else_changes(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    results.write_text("# Benchmark results\n\n| a | b |\n\n## Other\n\nkept\n")
    first = f"{langgraph_calls.HEADING}\n\none\n"
    replace_section(results, first)
    assert results.read_text() == f"# Benchmark results\n\n| a | b |\n\n## Other\n\nkept\n\n{first}"
    replace_section(results, f"{langgraph_calls.HEADING}\n\ntwo\n")
    assert results.read_text().count(langgraph_calls.HEADING) == 1
    assert results.read_text().endswith("## Other\n\nkept\n\n## LangGraph store: HTTP calls per operation\n\ntwo\n")
    results.write_text(f"# B\n\n{first}\n## Later\n\nkept\n")
    replace_section(results, f"{langgraph_calls.HEADING}\n\nthree\n")
    assert results.read_text() == f"# B\n\n{langgraph_calls.HEADING}\n\nthree\n\n## Later\n\nkept\n"

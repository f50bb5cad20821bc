"""Replay tests/edges/corpus.json through every edge and compare the answers with the recorded ones.

The safety net of a restructure that must not change behaviour: each edge (AWS
Lambda functions and authorizer, Google Cloud Functions targets, the local
server, the sandbox proxy) gets the recorded requests, in order, on a fresh
store, and must give the recorded answers after normalising request ids,
timestamps and cursors. A difference fails with a diff per exchange.

`RECORD_CORPUS=1` records the corpus again first (see record_corpus.py).
"""

from __future__ import annotations

import difflib
import json
import os
from typing import Any

import pytest

from tests.edges import record_corpus, script
from tests.edges.drivers import CORPUS, EDGES, replay
from tests.support.server import without_httptools_and_uvloop

SHOWN = 8  # differing exchanges shown in full per edge


@pytest.fixture(scope="module")
def corpus() -> dict[str, Any]:
    if os.environ.get("RECORD_CORPUS") == "1":
        record_corpus.record()
    assert CORPUS.exists(), f"{CORPUS} is missing: run `python -m tests.edges.record_corpus`"
    return record_corpus.load()


def pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False).splitlines()


def describe(edge: str, item: dict[str, Any], actual: dict[str, Any]) -> str:
    diff = difflib.unified_diff(pretty(item["response"]), pretty(actual), "recorded", "replayed", lineterm="", n=2)
    request = json.dumps(item["request"], ensure_ascii=False)
    if len(request) > 600:
        request = request[:600] + "..."
    return f"--- {edge} :: {item['name']}\nrequest: {request}\n" + "\n".join(diff)


def test_the_corpus_holds_every_edge_and_the_requests_of_script_py(corpus: dict[str, Any]) -> None:
    assert sorted(corpus["edges"]) == sorted(EDGES)
    planned = json.loads(json.dumps(script.exchanges(), sort_keys=True))
    for edge, items in corpus["edges"].items():
        recorded = [{name: value for name, value in item.items() if name != "response"} for item in items]
        assert recorded == planned[edge], f"{edge}: script.py changed since the corpus was recorded"


@pytest.mark.parametrize("edge", list(EDGES))
def test_edge_answers_as_recorded(corpus: dict[str, Any], edge: str) -> None:
    check_edge(corpus, edge)


@pytest.mark.parametrize("edge", ["server-none", "server-token", "proxy"])
def test_local_edges_answer_as_recorded_on_h11_and_asyncio(
    corpus: dict[str, Any], edge: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The servers run on httptools and uvloop when installed; without them, the same answers."""
    with without_httptools_and_uvloop() as path:
        monkeypatch.setenv("PYTHONPATH", path)
        check_edge(corpus, edge)


def check_edge(corpus: dict[str, Any], edge: str) -> None:
    items = corpus["edges"][edge]
    answers = list(replay(edge, items))
    differences = [
        describe(edge, item, actual) for item, actual in zip(items, answers, strict=True) if actual != item["response"]
    ]
    if differences:
        shown = "\n\n".join(differences[:SHOWN])
        more = f"\n\n... and {len(differences) - SHOWN} more" if len(differences) > SHOWN else ""
        pytest.fail(
            f"{len(differences)} of {len(items)} exchanges through {edge} answer differently from the corpus "
            f"(re-record with `python -m tests.edges.record_corpus {edge}` only if the change is intended):\n\n"
            f"{shown}{more}",
            pytrace=False,
        )

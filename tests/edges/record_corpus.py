"""Record tests/edges/corpus.json: send every request of script.py through its edge and keep the answers.

    .venv/bin/python -m tests.edges.record_corpus            # all edges
    .venv/bin/python -m tests.edges.record_corpus proxy      # re-record one edge, keep the others
    .venv/bin/python -m tests.edges.record_corpus --compare  # also list where edges answer one step differently

(`RECORD_CORPUS=1 .venv/bin/python -m pytest tests/edges` records everything, then replays it.)
Record only from a tree whose behaviour is the reference: the corpus is what the replay holds the code to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from typing import Any

from tests.edges.drivers import CORPUS, EDGES, replay
from tests.edges.script import LEVELS, SUITE, exchanges

ABOUT = (
    "Requests through every edge of Agent Data Store and the answers they got, normalised "
    "(request ids, timestamps and cursors replaced). Written by tests/edges/record_corpus.py "
    "from tests/edges/script.py; replayed by tests/edges/test_corpus.py."
)


def record_edge(edge: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Send the requests exactly as the corpus will hold them (its objects have sorted members, which matters
    # for direct invocations: e.g. the order of `versions` follows the order of `items`).
    items = json.loads(json.dumps(items, sort_keys=True))
    answers = list(replay(edge, items))
    return [{**item, "response": answer} for item, answer in zip(items, answers, strict=True)]


def write(corpus: dict[str, Any]) -> None:
    text = json.dumps(corpus, indent=1, sort_keys=True, ensure_ascii=False)
    CORPUS.write_text(text + "\n", encoding="utf-8")


def load() -> dict[str, Any]:
    corpus: dict[str, Any] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return corpus


def record(only: list[str] | None = None) -> dict[str, Any]:
    planned = exchanges()
    unknown = set(only or []) - set(planned)
    if unknown:
        raise SystemExit(f"unknown edges: {', '.join(sorted(unknown))}; known: {', '.join(planned)}")
    corpus = load() if only and CORPUS.exists() else {"about": ABOUT, "edges": {}}
    for edge, items in planned.items():
        if only and edge not in only:
            continue
        started = time.monotonic()
        corpus["edges"][edge] = record_edge(edge, items)
        print(f"{edge:16} {len(items):4} exchanges  {time.monotonic() - started:5.1f} s", file=sys.stderr)
    write(corpus)
    return corpus


def inner(answer: dict[str, Any]) -> Any:
    """(status, body) as a caller of the operation sees them, whatever the edge's envelope."""
    if "status" not in answer:
        return answer
    body = answer.get("body")
    if isinstance(body, dict) and set(body) == {"statusCode", "body"}:  # a direct call on Google Cloud
        return body["statusCode"], body["body"]
    return answer["status"], body


def compare(corpus: dict[str, Any]) -> list[str]:
    """Suite steps answered differently by edges that carried the same steps before them (edges of one
    level of LEVELS among themselves), and error answers (but conflicts) that differ anywhere."""
    seen: dict[str, dict[str, Any]] = defaultdict(dict)
    for edge, items in corpus["edges"].items():
        for item in items:
            seen[item["name"]][edge] = inner(item["response"])
    lines = []
    for step in SUITE:
        by_edge = seen.get(step.name, {})
        cases = [{edge: answer for edge, answer in by_edge.items() if LEVELS.get(edge) == level} for level in (0, 1, 2)]
        errors = {edge: answer for edge, answer in by_edge.items() if answer[0] >= 400 and answer[0] != 409}
        cases.append(errors)
        for case in cases:
            groups: dict[str, list[str]] = defaultdict(list)
            for edge, answer in case.items():
                groups[json.dumps(answer, sort_keys=True, ensure_ascii=False)].append(edge)
            if len(groups) > 1:
                lines.append(f"{step.name}:")
                for answer_text, edges in groups.items():
                    lines.append(f"    {', '.join(edges)}: {answer_text[:300]}")
                break
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("edges", nargs="*", help=f"edges to re-record (default: all of {', '.join(EDGES)})")
    parser.add_argument("--compare", action="store_true", help="list suite steps answered differently by edges")
    args = parser.parse_args(argv)
    corpus = record(args.edges or None)
    total = sum(len(items) for items in corpus["edges"].values())
    print(f"wrote {CORPUS} ({total} exchanges)", file=sys.stderr)
    if args.compare:
        print("\n".join(compare(corpus)) or "every edge answered every shared step the same way")
    return 0


if __name__ == "__main__":
    sys.exit(main())

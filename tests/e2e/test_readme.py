"""The README's curl examples, run in order against a real server.

Each `curl -s localhost:8080/v1/...` line is sent as written (headers and
body); where the following `# ...` comment is a complete JSON document it must
be exactly the answer, otherwise the answer must be a 200.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx

from tests.support.server import running_server

README = Path(__file__).resolve().parents[2] / "README.md"
TIMESTAMP = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')


def examples() -> list[tuple[list[str], str | None]]:
    lines = README.read_text().splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.startswith("curl -s localhost:8080/v1/"):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            expected = following[2:].split("  ")[0].strip() if following.startswith("# ") else None
            found.append((shlex.split(line), expected))
    return found


def test_readme_has_an_example_of_every_operation():
    from agent_datastore.api.service import OPERATIONS

    shown = {re.sub(r".*/v1/", "", words[2]) for words, _ in examples()}
    assert shown == set(OPERATIONS)


def test_readme_examples_answer_as_documented():
    compared = abbreviated = 0
    with running_server() as server:
        for words, expected in examples():
            headers, body = {}, None
            args = iter(words[3:])
            for arg in args:
                if arg == "-H":
                    name, _, value = next(args).partition(":")
                    headers[name.strip()] = value.strip()
                elif arg == "-d":
                    body = next(args)
            url = words[2].replace("localhost:8080", server.url)
            response = httpx.post(url, content=body, headers=headers)
            assert response.status_code == 200, (words, response.text)
            if expected is None:
                continue
            try:
                documented = json.loads(expected)
            except json.JSONDecodeError:
                # An abbreviated answer: each piece between the "..." must stand in the answer as shown.
                answer = TIMESTAMP.sub('"<ts>"', response.text)
                for piece in filter(None, (part.strip() for part in TIMESTAMP.sub('"<ts>"', expected).split("..."))):
                    assert piece in answer, (words, piece, response.text)
                abbreviated += 1
                continue
            assert response.json() == documented, words
            compared += 1
    assert compared >= 10
    assert abbreviated >= 2

"""The sections of bench/results.md: each benchmark owns the `## ` section its text starts with."""

from __future__ import annotations

import re
import sys
from pathlib import Path


def replace_section(results: Path, section: str) -> None:
    """Replace the section of `results` headed by `section`'s first line (up to the next `## `),
    or add it at the end."""
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    heading = section.split("\n", 1)[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text, encoding="utf-8")


def publish(section: str, results: Path | None) -> None:
    """Print `section`, and write it into `results` when given (a benchmark's `--append`)."""
    print(section)
    if results is not None:
        replace_section(results, section)
        print(f"wrote the section to {results}", file=sys.stderr)

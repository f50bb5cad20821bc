"""The tools the artifact tests need: the SAM CLI of the tools venv and a Python 3.12 (the runtime)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-tools" / "sam" / "bin" / "sam"


def unavailable(reason: str) -> None:
    """CI must run these tests: there a missing tool fails them; elsewhere they skip, loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the artifact tests must run in CI")
    pytest.skip(f"ARTIFACT TESTS NOT RUN: {reason}")


def python312() -> str:
    found = subprocess.run(
        [str(ROOT / "infra" / "tools" / "python312.sh")], capture_output=True, text=True, timeout=60, check=False
    )
    if found.returncode != 0:
        unavailable(found.stderr.strip())
    return found.stdout.strip()


def sam() -> str:
    if not SAM.exists():
        unavailable(f"no SAM CLI at {SAM} (`make sam-tools` installs it; `make test` does)")
    return str(SAM)


def pip_install_target(python: str, target: Path, *requirements: str) -> None:
    """Install `requirements` for `python` into the folder `target` (from PyPI, pinned by requirements.lock)."""
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile"]
    subprocess.run(
        [*pip, "-c", str(ROOT / "requirements.lock"), "--target", str(target), *requirements],
        check=True,
        timeout=600,
    )

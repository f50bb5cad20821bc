"""Short smoke runs of the benchmark and the soak (the long runs are `make bench` / `make soak`)."""

from __future__ import annotations

from bench import run, soak
from tests.support.server import running_server


def test_benchmark_smoke(capsys):
    assert run.main(["--quick", "--backends", "memory,sqlite"]) == 0
    output = capsys.readouterr().out
    assert "| get (tracked) |" in output and "| increment |" in output


def test_soak_smoke_keeps_every_invariant():
    with running_server() as server:
        report = soak.soak(server.url, seconds=3, threads=4)
    assert report["requests"] > 50
    assert report["ok"], report

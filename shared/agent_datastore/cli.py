"""`agent-datastore` console script: one subcommand module per command.

Each module in `agent_datastore.commands` defines `register(subparsers)`,
which adds its parser and sets `func` to a callable taking the parsed args
and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from agent_datastore import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-datastore", description="Agent Data Store")
    parser.add_argument("--version", action="version", version=f"agent-datastore {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`agent-datastore` console script: one subcommand module per command.

Each module in `agent_datastore.commands` defines `register(subparsers)`,
which adds its parser and sets `func` to a callable taking the parsed args
and returning an exit code.
"""

from __future__ import annotations

import argparse
import errno
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
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = _one_line(exc)
        if message is None:
            raise
        print(f"agent-datastore {args.command}: {message}", file=sys.stderr)
        return 2
    return code


def _one_line(exc: Exception) -> str | None:
    """What a person can act on, for the mistakes a command's input or environment can hold;
    None for anything else (a bug keeps its traceback)."""
    from agent_datastore.core.errors import DataStoreError
    from agent_datastore.core.settings import ConfigurationError

    if isinstance(exc, ConfigurationError):
        return str(exc)
    if isinstance(exc, DataStoreError):
        return f"{exc.message} ({exc.code})"
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)) and exc.filename is not None:
        return f"cannot read {exc.filename}: {exc.strerror}"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "the address is already in use: stop the other server, or choose another with --port (or PORT)"
    return None


if __name__ == "__main__":
    sys.exit(main())

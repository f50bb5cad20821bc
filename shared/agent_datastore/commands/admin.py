"""`agent-datastore admin ...`: operator commands over the `Store` interface.

Thin: parse arguments, open the configured store, call `agent_datastore.admin`,
print the result (a table for people, one JSON object with `--json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "admin", help="operator commands: create, inspect, export, import, migrate, purge-user, sweep-expired"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", default=argparse.SUPPRESS, help="STORE_BACKEND (default from the environment)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    parser.add_argument("--backend", help="STORE_BACKEND (default from the environment)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create the table/collection/database and indexes")
    create.set_defaults(func=create_storage)

    inspect = actions.add_parser(
        "inspect", parents=[common], help="users; a user's namespaces; a namespace's keys; one record in full"
    )
    inspect.add_argument("--user", help="show this user's namespaces (key counts, bytes)")
    inspect.add_argument("--namespace", help="with --user: list this namespace's keys")
    inspect.add_argument("--key", help="with --user and --namespace: show this record in full")
    inspect.add_argument("--prefix", default="", help="only keys starting with this")
    inspect.add_argument("--after", help="keys after this one (paging)")
    inspect.add_argument("--limit", type=int, default=100, help="keys per page (default 100)")
    inspect.set_defaults(func=run_inspect)

    export = actions.add_parser("export", parents=[common], help="records to NDJSON (one record a line, every field)")
    export.add_argument("--user", help="only this user")
    export.add_argument("--namespace", help="with --user: only this namespace")
    export.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    export.add_argument("--after", help='resume after this position: JSON ["userId", "namespace", "key"]')
    export.add_argument("--resume", action="store_true", help="append to --output after its last complete line")
    export.set_defaults(func=run_export)

    load = actions.add_parser("import", parents=[common], help="load NDJSON or original Gofannon documents")
    load.add_argument("input", help="file to read ('-' for standard input)")
    load.add_argument("--format", choices=["ndjson", "gofannon"], default="ndjson", help="input format")
    load.add_argument("--user-map", action="append", default=[], metavar="OLD=NEW", help="rename a user id")
    load.set_defaults(func=run_import)

    migrate = actions.add_parser("migrate", parents=[common], help="copy everything to another backend and verify")
    migrate.add_argument("--to-backend", required=True, help="target STORE_BACKEND")
    migrate.add_argument(
        "--to-env", action="append", default=[], metavar="NAME=VALUE", help="environment for the target only"
    )
    migrate.set_defaults(func=run_migrate)

    purge = actions.add_parser("purge-user", parents=[common], help="erase every record of one user")
    purge.add_argument("user", help="user id to erase")
    purge.add_argument("--yes", action="store_true", help="really erase (without it: report what would go)")
    purge.set_defaults(func=run_purge_user)

    sweep = actions.add_parser("sweep-expired", parents=[common], help="physically remove expired records")
    sweep.add_argument("--user", help="only this user")
    sweep.set_defaults(func=run_sweep)


def open_store(args: argparse.Namespace, env: dict[str, str] | None = None) -> Any:
    from agent_datastore.core.settings import Settings
    from agent_datastore.stores import create_store

    overrides = {"store_backend": args.backend} if args.backend else {}
    return create_store(Settings.from_env(env, **overrides))


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if args.json else text)


class Bar:
    """A progress bar's handle: `bar(n)` after n more items; `bar.total(n)` once the total is known.
    A total from the registry counts live records only; an export or copy also carries expired ones
    not yet swept, so the total grows to what is done rather than show more done than there is."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self.progress, self.task = progress, task

    def __call__(self, n: int) -> None:
        if self.progress is None:
            return
        self.progress.advance(self.task, n)
        done = self.progress.tasks[self.task].completed
        total = self.progress.tasks[self.task].total
        if total is not None and done > total:
            self.progress.update(self.task, total=done)

    def total(self, n: int | None) -> None:
        if self.progress is not None:
            self.progress.update(self.task, total=n)


@contextmanager
def progress(args: argparse.Namespace, label: str, total: int | None = None) -> Iterator[Bar]:
    """A rich progress bar on standard error (none with --json), M/N when the total is known."""
    if args.json:
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield Bar(bar, bar.add_task(label, total=total))


def counted_lines(path: str) -> int | None:
    """Non-blank lines of a file (the records an NDJSON import will read); None for standard input."""
    if path == "-":
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    grid = Table(*columns)
    for row in rows:
        grid.add_row(*(str(row.get(column, "")) for column in columns))
    buffer = StringIO()
    Console(file=buffer, width=160, highlight=False).print(grid)
    return buffer.getvalue().rstrip()


def create_storage(args: argparse.Namespace) -> int:
    from agent_datastore.core.errors import DataStoreError

    store = open_store(args)
    try:
        store.create()
    except DataStoreError as exc:  # the backend is down or refuses: say so, without a traceback
        print(f"error: {store.name}: {exc.message}", file=sys.stderr)
        return 1
    emit(args, {"created": True, "backend": store.name}, f"{store.name}: storage is ready")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from agent_datastore.admin import operations
    from agent_datastore.core.records import Scope

    store = open_store(args)
    if args.user is None:
        rows = operations.inspect_users(store)
        emit(args, {"users": rows}, table(rows, ["userId", "namespaces", "keys", "bytes", "updatedAt"]))
    elif args.namespace is None:
        rows = operations.inspect_namespaces(store, args.user)
        emit(args, {"userId": args.user, "namespaces": rows}, table(rows, ["namespace", "keys", "bytes", "updatedAt"]))
    elif args.key is None:
        page = operations.inspect_keys(
            store, Scope(args.user, args.namespace), prefix=args.prefix, after=args.after, limit=args.limit
        )
        more = f"\n(more: --after {json.dumps(page['next_after'], ensure_ascii=False)})" if page["next_after"] else ""
        emit(args, page, "\n".join(page["keys"]) + more)
    else:
        record = operations.inspect_record(store, Scope(args.user, args.namespace), args.key)
        if record is None:
            emit(args, {"found": False}, "no such record")
            return 1
        emit(args, {"found": True, "record": record}, json.dumps(record, ensure_ascii=False, indent=2))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from agent_datastore.admin import ndjson, operations

    if args.namespace is not None and args.user is None:
        print("--namespace needs --user", file=sys.stderr)
        return 2
    after = ndjson.parse_position(args.after) if args.after else None
    if args.resume:
        if args.output == "-":
            print("--resume needs --output FILE", file=sys.stderr)
            return 2
        after = ndjson.resume_file(args.output) or after
    store = open_store(args)
    out = sys.stdout if args.output == "-" else open(args.output, "a" if args.resume else "w", encoding="utf-8")  # noqa: SIM115
    try:
        # Resuming: the registry cannot say how many are left after the position.
        total = None if after else operations.live_records(store, user_id=args.user, namespace=args.namespace)
        with progress(args, "exporting", total) as tick:
            result = operations.export(store, out, tick=tick, user_id=args.user, namespace=args.namespace, after=after)
    finally:
        if out is not sys.stdout:
            out.close()
    summary = result.to_dict()
    if args.output == "-":
        print(json.dumps(summary, ensure_ascii=False) if args.json else f"exported {result.records}", file=sys.stderr)
    else:
        emit(args, summary, f"exported {result.records} records of {len(result.users)} users to {args.output}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from agent_datastore.admin import operations

    store = open_store(args)
    handle = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    try:
        total = None if args.format == "gofannon" else counted_lines(args.input)
        with progress(args, "importing", total) as tick:
            if args.format == "gofannon":
                user_map = dict(item.split("=", 1) for item in args.user_map)
                result = operations.import_gofannon(
                    store, handle.read(), user_map=user_map, tick=tick, counted=tick.total
                )
            else:
                result = operations.import_ndjson(store, handle, tick=tick)
    finally:
        if handle is not sys.stdin:
            handle.close()
    summary = result.to_dict()
    lines = [f"imported {result.imported}, unchanged {result.unchanged}, skipped {result.skipped}"]
    lines += [f"rejected: {error}" for error in result.errors]
    emit(args, summary, "\n".join(lines))
    return 1 if result.errors else 0


def run_migrate(args: argparse.Namespace) -> int:
    import os

    from agent_datastore.admin import operations

    source = open_store(args)
    env = {**os.environ, **dict(item.split("=", 1) for item in args.to_env)}
    target = open_store(argparse.Namespace(backend=args.to_backend), env)
    with progress(args, f"{source.name} -> {target.name}", operations.live_records(source)) as tick:
        result = operations.migrate(source, target, tick=tick)
    text = f"copied {result['copied']} records of {result['users']} users; " + (
        f"verified: counts and checksums match ({result['checksum'][:16]}...)"
        if result["verified"]
        else f"VERIFICATION FAILED for {len(result['mismatches'])} users"
    )
    emit(args, result, text)
    return 0 if result["verified"] else 1


def run_purge_user(args: argparse.Namespace) -> int:
    from agent_datastore.admin import operations

    store = open_store(args)
    if not args.yes:
        stored = sum(1 for _ in store.scan(args.user))
        emit(args, {"userId": args.user, "would_delete": stored}, f"would erase {stored} records (add --yes)")
        return 0
    result = operations.purge_user(store, args.user)
    text = f"erased {result['stored']} records in {result['namespaces']} namespaces of {args.user}; " + (
        "verified: nothing remains" if result["verified"] else f"NOT VERIFIED: {result['remaining']} remain"
    )
    emit(args, result, text)
    return 0 if result["verified"] else 1


def run_sweep(args: argparse.Namespace) -> int:
    from agent_datastore.admin import operations

    result = operations.sweep_expired(open_store(args), user_id=args.user)
    emit(args, result, f"removed {result['removed']} expired records")
    return 0

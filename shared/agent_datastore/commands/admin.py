"""`agent-datastore admin ...`: operator commands over the `Store` interface."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("admin", help="operator commands: create, ...")
    parser.add_argument("--backend", help="STORE_BACKEND (default from the environment)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create the table/collection/database and indexes")
    create.set_defaults(func=create_storage)


def open_store(args: argparse.Namespace) -> Any:
    from ..backends import create_store
    from ..settings import Settings

    overrides = {"store_backend": args.backend} if args.backend else {}
    return create_store(Settings.from_env(**overrides))


def create_storage(args: argparse.Namespace) -> int:
    store = open_store(args)
    store.create()
    if args.json:
        print(json.dumps({"created": True, "backend": store.name}))
    else:
        print(f"{store.name}: storage is ready")
    return 0

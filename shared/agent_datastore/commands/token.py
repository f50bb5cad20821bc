"""`agent-datastore token mint|verify`: capability tokens for sandboxes (API.md section 5).

The secret comes from the environment (DATASTORE_TOKEN_SECRET,
DATASTORE_TOKEN_SECRETS, or DATASTORE_TOKEN_SECRET_ARN / _PARAMETER on AWS),
never from the command line, so it does not show up in `ps` or shell history.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "token",
        help="mint or check capability tokens (secret from DATASTORE_TOKEN_SECRET)",
        description="Capability tokens: HS256 JWTs with sub (user), agent, exp, optional ns_prefix and read_only.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    mint = actions.add_parser("mint", help="print a new token on stdout")
    mint.add_argument("--user", required=True, help="user id (claim sub)")
    mint.add_argument("--agent", required=True, help="agent name (claim agent)")
    mint.add_argument("--ttl", type=int, default=900, help="lifetime in seconds (default 900)")
    mint.add_argument("--ns-prefix", help="only namespaces starting with this prefix")
    mint.add_argument("--read-only", action="store_true", help="refuse every write")
    mint.add_argument("--kid", help="sign with this key id (default: the first configured secret)")
    mint.set_defaults(func=run_mint)
    verify = actions.add_parser("verify", help="check a token and print its identity as JSON")
    verify.add_argument("token", nargs="?", help="the token (default: read from stdin)")
    verify.set_defaults(func=run_verify)


def run_mint(args: argparse.Namespace) -> int:
    from agent_datastore.core.settings import Settings
    from agent_datastore.edges.auth import mint_token, signing_secret
    from agent_datastore.edges.aws.secrets import SECRET_CACHE

    if args.ttl <= 0:
        print("error: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        kid, secret = signing_secret(Settings.from_env(), args.kid, SECRET_CACHE)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = mint_token(
        secret,
        user=args.user,
        agent=args.agent,
        ttl_seconds=args.ttl,
        ns_prefix=args.ns_prefix,
        read_only=args.read_only,
        kid=kid,
    )
    print(token)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from agent_datastore.core.errors import DataStoreError
    from agent_datastore.core.settings import Settings
    from agent_datastore.edges.auth import token_secrets, verify_token
    from agent_datastore.edges.aws.secrets import SECRET_CACHE

    token = (args.token or sys.stdin.read()).strip()
    try:
        identity = verify_token(token, token_secrets(Settings.from_env(), SECRET_CACHE))
    except DataStoreError as exc:
        print(json.dumps({"valid": False, "code": exc.code, "message": exc.message}))
        return 1
    print(
        json.dumps(
            {
                "valid": True,
                "user": identity.user_id,
                "agent": identity.agent_name,
                "ns_prefix": identity.ns_prefix,
                "read_only": identity.read_only,
            }
        )
    )
    return 0

"""`agent-datastore proxy`: the sandbox proxy on the sandbox host's loopback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="run the sandbox proxy: loopback HTTP server that injects the credential",
        description="Forward POST /v1/<operation> from agent code in a sandbox to the data store, with a "
        "credential the sandbox never sees. The credential is --token (or DATASTORE_TOKEN, or --token-file), "
        "or tokens minted here from --user/--agent with the secret in DATASTORE_TOKEN_SECRET.",
    )
    parser.add_argument("--listen", default="127.0.0.1:8787", help="HOST:PORT (default 127.0.0.1:8787)")
    parser.add_argument("--upstream", required=True, help="data store base URL, e.g. https://api.example.com")
    parser.add_argument("--token", help="capability token to inject (prefer DATASTORE_TOKEN or --token-file)")
    parser.add_argument("--token-file", help="read the token from this file")
    parser.add_argument("--user", help="mint tokens for this user (needs the secret in the environment)")
    parser.add_argument("--agent", help="agent name of minted tokens")
    parser.add_argument("--ttl", type=int, default=900, help="lifetime of minted tokens in seconds (default 900)")
    parser.add_argument("--ns-prefix", help="minted tokens only reach namespaces starting with this")
    parser.add_argument("--read-only", action="store_true", help="minted tokens refuse every write")
    parser.add_argument("--kid", help="key id to sign minted tokens with")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the upstream (default 60)")
    parser.add_argument("--max-body", type=int, default=None, help="request body cap in bytes (default 6 MiB)")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="listen on an address other than loopback (anyone who can reach it acts with the credential)",
    )
    parser.set_defaults(func=run)


def _credential(args: argparse.Namespace) -> Any:
    from agent_datastore.core.settings import Settings
    from agent_datastore.edges.auth import signing_secret
    from agent_datastore.edges.aws.secrets import SECRET_CACHE
    from agent_datastore.edges.local.proxy import MintingCredential, StaticToken

    if args.user:
        if not args.agent:
            raise ValueError("--user needs --agent")
        if args.ttl < 60:
            raise ValueError("--ttl must be at least 60 seconds")
        kid, secret = signing_secret(Settings.from_env(), args.kid, SECRET_CACHE)
        return MintingCredential(secret, kid, args.user, args.agent, args.ttl, args.ns_prefix, args.read_only)
    token = args.token
    if token is None and args.token_file:
        with open(args.token_file, encoding="utf-8") as handle:
            token = handle.read().strip()
    token = token or os.environ.get("DATASTORE_TOKEN", "").strip()
    if not token:
        raise ValueError("give a credential: --token, --token-file, DATASTORE_TOKEN, or --user/--agent")
    return StaticToken(token)


def warn_if_upstream_auth_off(upstream: str, user: str | None) -> None:
    """A server with authentication off ignores the injected credential: say so before serving."""
    from agent_datastore.edges.auth import LOCAL_USER
    from agent_datastore.edges.local.proxy import upstream_auth_off

    if upstream_auth_off(upstream) is not True:
        return
    meant = f"user {user!r}" if user else "the token's user"
    banner = "!" * 72
    print(
        f"{banner}\n!!! WARNING: {upstream} has AUTHENTICATION OFF (DATASTORE_AUTH=none): it answers\n"
        f"!!! without any credential and ignores the one this proxy injects. Every request\n"
        f"!!! acts as user {LOCAL_USER!r}, NOT as {meant}. Start the server with\n"
        f"!!! DATASTORE_AUTH=token (and the same DATASTORE_TOKEN_SECRET) to act as {meant}.\n{banner}",
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    from agent_datastore.core.limits import MAX_BODY_BYTES
    from agent_datastore.edges.local.httpbase import listen, serve_until_signalled
    from agent_datastore.edges.local.proxy import ProxyConfig, SandboxProxy, is_loopback, parse_listen

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per forwarded request (no access log either)
    try:
        host, port = parse_listen(args.listen)
        credential = _credential(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(host) and not args.allow_non_loopback:
        print(
            f"error: refusing to listen on {host}: the proxy hands its credential to anyone who can reach it. "
            "Use a loopback address, or --allow-non-loopback if the network is the sandbox's own.",
            file=sys.stderr,
        )
        return 2
    config = ProxyConfig(
        upstream=args.upstream,
        credential=credential,
        max_body=args.max_body or MAX_BODY_BYTES,
        timeout=args.timeout,
    )
    sock = listen(host, port)
    warn_if_upstream_auth_off(config.upstream, args.user)
    listening = sock.getsockname()[:2]
    print(f"agent-datastore proxy listening on http://{host}:{listening[1]} -> {config.upstream}", flush=True)
    serve_until_signalled(
        SandboxProxy(listening, config),
        sock,
        server_name="agent-datastore-proxy",
        keep_alive=config.client_timeout,  # a sandbox that opens a connection and sends nothing is let go
    )
    return 0

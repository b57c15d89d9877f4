"""``dockyard pull|push|login|logout|manifest inspect|registry serve|registry gc``.

Thin: parse arguments, call one function of ``dockyard.registry``, print. The
registry package is imported inside each command so ``dockyard --help`` stays fast.
``register(subparsers, name)`` adds the parser for one top-level word (see
``dockyard.cli.main.COMMANDS``); each ``func(args, ctx)`` returns an exit status.
Running this module directly (``python -m dockyard.cli.commands.registry ...``)
registers every word, for tests and scripts that want no other room.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _root(ctx: object | None) -> str:
    root = getattr(ctx, "data_root", None)
    return root or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard"


def cmd_pull(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.pull import pull_cli
    return pull_cli(args.name, root=_root(ctx), all_tags=args.all_tags,
                    platform=args.platform, quiet=args.quiet)


def cmd_push(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.push import push_cli
    return push_cli(args.name, root=_root(ctx), quiet=args.quiet,
                    chunk_size=args.chunk_size)


def cmd_login(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.login import login_cli
    return login_cli(args.server, args.username, args.password, args.password_stdin)


def cmd_logout(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.login import logout_cli
    return logout_cli(args.server)


def cmd_manifest_inspect(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.pull import inspect_manifest
    doc = inspect_manifest(args.name, verbose=args.verbose)
    print(json.dumps(doc, indent=3))
    return 0


def cmd_serve(args: argparse.Namespace, ctx: object | None = None) -> int:
    import asyncio
    import logging

    from dockyard.registry.server import (
        Authorizer,
        RegistryStorage,
        ServerConfig,
        load_htpasswd,
        run,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if bool(args.tls_cert) != bool(args.tls_key):
        print("dockyard: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    auth = Authorizer()
    if args.htpasswd:
        auth = Authorizer(mode=args.auth, users=load_htpasswd(args.htpasswd))
    elif args.auth != "basic":
        print("dockyard: --auth token needs --htpasswd", file=sys.stderr)
        return 2
    config = ServerConfig(delete_enabled=args.delete_enabled, authorizer=auth)
    if args.max_blob_size:
        config.max_blob_size = args.max_blob_size
    if args.max_manifest_size:
        config.max_manifest_size = args.max_manifest_size
    storage = RegistryStorage(args.storage or os.path.join(_root(ctx), "registry"))
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None

    def ready(addr: str) -> None:
        print(f"dockyard registry listening on {addr}", flush=True)

    asyncio.run(run(storage, config, args.listen, tls, ready))
    return 0


def cmd_gc(args: argparse.Namespace, ctx: object | None = None) -> int:
    from dockyard.registry.gc import collect
    report = collect(args.storage or os.path.join(_root(ctx), "registry"), grace=args.grace,
                     dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(report.removed)} blobs ({report.freed} bytes), "
          f"{report.uploads_removed} stale uploads; kept {report.kept} blobs")
    return 0


def register(subparsers: argparse._SubParsersAction, name: str | None = None) -> None:
    """Add the parser for ``name`` (every registry word when ``name`` is None)."""
    for word, adder in _PARSERS.items():
        if name is None or name == word:
            adder(subparsers)


def _add_pull(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pull", help="pull an image from a registry")
    p.add_argument("name", help="NAME[:TAG|@DIGEST]")
    p.add_argument("-a", "--all-tags", action="store_true", help="pull every tag")
    p.add_argument("--platform", help="OS/ARCH[/VARIANT] to select from an index")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_pull)


def _add_push(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("push", help="push an image to a registry")
    p.add_argument("name", help="NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--chunk-size", type=int, default=0,
                   help="upload blobs in PATCH chunks of this many bytes (0: one request)")
    p.set_defaults(func=cmd_push)


def _add_login(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("login", help="log in to a registry")
    p.add_argument("server", nargs="?", default=None)
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_login)


def _add_logout(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("logout", help="log out from a registry")
    p.add_argument("server", nargs="?", default=None)
    p.set_defaults(func=cmd_logout)


def _add_manifest(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("manifest", help="look at manifests in a registry")
    sub = p.add_subparsers(dest="manifest_command", required=True)
    q = sub.add_parser("inspect", help="show a manifest or manifest list")
    q.add_argument("name")
    q.add_argument("-v", "--verbose", action="store_true")
    q.set_defaults(func=cmd_manifest_inspect)


def _add_registry(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("registry", help="run or maintain a registry server")
    sub = p.add_subparsers(dest="registry_command", required=True)
    q = sub.add_parser("serve", help="serve the OCI distribution API")
    q.add_argument("--listen", default="0.0.0.0:5000", help="HOST:PORT (port 0: any)")
    q.add_argument("--storage", help="storage directory (default: DATA_ROOT/registry)")
    q.add_argument("--htpasswd", help="bcrypt htpasswd file (htpasswd -B)")
    q.add_argument("--auth", choices=("basic", "token"), default="basic",
                   help="with --htpasswd: Basic on every request, or Bearer tokens from /token")
    q.add_argument("--tls-cert")
    q.add_argument("--tls-key")
    q.add_argument("--delete-enabled", action="store_true")
    q.add_argument("--max-blob-size", type=int, default=0)
    q.add_argument("--max-manifest-size", type=int, default=0)
    q.set_defaults(func=cmd_serve)
    q = sub.add_parser("gc", help="remove blobs no manifest references")
    q.add_argument("--storage", help="storage directory (default: DATA_ROOT/registry)")
    q.add_argument("--grace", type=float, default=3600.0,
                   help="keep blobs and uploads younger than this many seconds")
    q.add_argument("--dry-run", action="store_true")
    q.set_defaults(func=cmd_gc)


_PARSERS = {"pull": _add_pull, "push": _add_push, "login": _add_login, "logout": _add_logout,
            "manifest": _add_manifest, "registry": _add_registry}


def main(argv: list[str] | None = None) -> int:
    from dockyard.errors import DockyardError
    parser = argparse.ArgumentParser(prog="dockyard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DockyardError as e:
        print(f"dockyard: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``dockyard build``: docker build's flags, run in this process.

Like the image commands, the build runs in the CLI's own process on the data
root (``--data-root``/``$DOCKYARD_ROOT``): a directory context is read where it
is (no tar of the context is made and sent, which is most of a cached
rebuild's cost with docker's legacy builder), files' digests are remembered
between builds, and the image lands in the same store the daemon serves. The
daemon's ``POST /build`` runs the same executor for docker and docker-py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dockyard.errors import InvalidArgument

DEFAULT_EXEC_ROOT = "/run/dockyard"


def register(sub: argparse._SubParsersAction, word: str) -> None:
    p = sub.add_parser(word, help="Build an image from a Dockerfile")
    p.add_argument("path", metavar="PATH | -", help="build context (a directory, a tar "
                   "file, or - for a tar or a Dockerfile on stdin)")
    p.add_argument("-t", "--tag", action="append", default=[],
                   help="Name and optionally a tag (name:tag); may be repeated")
    p.add_argument("-f", "--file", help="Name of the Dockerfile (default PATH/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], help="Set build-time "
                   "variables (NAME=VALUE, or NAME to take it from the environment)")
    p.add_argument("--target", help="Set the target build stage to build")
    p.add_argument("--label", action="append", default=[], help="Set metadata for an "
                   "image (key=value)")
    p.add_argument("--iidfile", help="Write the image ID to the file")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when "
                   "building the image")
    p.add_argument("--pull", action="store_true", help="Always attempt to pull a newer "
                   "version of the base images")
    p.add_argument("--secret", action="append", default=[], help="Secret to expose to "
                   "the build: id=mysecret[,src=/local/secret]")
    p.add_argument("-o", "--output", action="append", default=[], help="Output "
                   "destination (type=local|tar|oci|docker,dest=PATH)")
    p.add_argument("--progress", default="auto", choices=("auto", "plain", "tty"),
                   help="Type of progress output")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the build output "
                   "and print image ID on success")
    p.add_argument("--network", default="default", help="Networking mode for RUN "
                   "instructions (default, host, none)")
    p.add_argument("--platform", help="Set platform (only this host's platform builds)")
    p.add_argument("--rm", action="store_true", default=True, help=argparse.SUPPRESS)
    p.add_argument("--force-rm", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_build)


def parse_pairs(items: list[str], what: str, from_env: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}")
        if not eq:
            if not from_env:
                raise InvalidArgument(f"invalid {what} {item!r} (want key=value)")
            if key not in os.environ:
                continue   # docker: a NAME-only build arg absent from the env is unset
            value = os.environ[key]
        out[key] = value
    return out


def parse_secrets(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        fields = dict(p.partition("=")[::2] for p in item.split(","))
        sid = fields.get("id")
        src = fields.get("src") or fields.get("source")
        if not sid:
            raise InvalidArgument(f"invalid --secret {item!r}: id= is required")
        if fields.get("type", "file") == "env":
            env = fields.get("env") or sid
            if env not in os.environ:
                raise InvalidArgument(f"--secret {item}: ${env} is not set")
            fd, path = tempfile.mkstemp(prefix="secret-")
            os.write(fd, os.environ[env].encode())
            os.close(fd)
            out[sid] = path
            continue
        src = src or sid
        if not os.path.isfile(src):
            raise InvalidArgument(f"--secret {item}: {src} is not a file")
        out[sid] = os.path.abspath(src)
    return out


def cmd_build(args: argparse.Namespace, ctx) -> int:
    from dockyard.build.context import BuildContext
    from dockyard.build.executor import Builder, BuildOptions
    from dockyard.build.exporters import export, parse_output
    from dockyard.build.progress import make_progress
    from dockyard.build.stale import clean_stale, scratch_prefix
    from dockyard.image import reference as refs

    for t in args.tag:
        refs.parse(t)   # bad tags fail before any work
    outputs = [parse_output(o) for o in args.output]
    exec_root = os.environ.get("DOCKYARD_EXEC_ROOT") or DEFAULT_EXEC_ROOT
    tmp_base = os.path.join(ctx.data_root, "build", "tmp")
    os.makedirs(tmp_base, mode=0o700, exist_ok=True)
    clean_stale(Path(tmp_base))
    work = tempfile.mkdtemp(prefix=scratch_prefix("ctx"), dir=tmp_base)
    secrets = parse_secrets(args.secret)
    svc = ctx.image_service()
    progress = make_progress(args.progress, args.quiet)
    builder = Builder(svc, exec_root, emit=progress)
    try:
        dockerfile = args.file or "Dockerfile"
        text = None
        if args.file == "-":
            text = sys.stdin.read()
        if args.path == "-":
            bctx = BuildContext.from_stdin(sys.stdin.buffer, work)
            memo = False
        elif os.path.isfile(args.path):
            with open(args.path, "rb") as f:
                bctx = BuildContext.from_tar(f, work, dockerfile)
            memo = False
        else:
            df = None
            if args.file and args.file != "-":
                df = os.path.abspath(args.file)
                if not os.path.exists(df):
                    df = os.path.join(args.path, args.file)
                dockerfile = df
            bctx = BuildContext.from_dir(args.path, df)
            memo = True
        opts = BuildOptions(
            dockerfile=dockerfile, dockerfile_text=text, tags=tuple(args.tag),
            build_args=parse_pairs(args.build_arg, "--build-arg", from_env=True),
            target=args.target, labels=parse_pairs(args.label, "--label"),
            no_cache=args.no_cache, pull=args.pull, secrets=secrets,
            platform=args.platform, network=args.network, memo_hashes=memo,
            quiet=args.quiet, dockerfile_anywhere=True)
        try:
            result = builder.build(bctx, opts)
        finally:
            progress.close()
        if args.iidfile:
            with open(args.iidfile, "w") as f:
                f.write(result.image_id)
        for spec in outputs:
            export(svc, result.image_id, spec)
        if args.quiet:
            print(result.image_id)
        return 0
    finally:
        builder.close()
        svc.close()
        shutil.rmtree(work, ignore_errors=True)
        for path in secrets.values():
            if os.path.basename(path).startswith("secret-") and \
                    path.startswith(tempfile.gettempdir()):
                os.unlink(path)


__all__ = ["cmd_build", "parse_pairs", "parse_secrets", "register"]

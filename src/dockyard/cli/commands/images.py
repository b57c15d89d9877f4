"""Image commands: images, image ls/inspect/rm/prune/tag/history/bootstrap/save/load/
import, rmi, tag, history, save, load, import, inspect, system df/check.

Each command parses its arguments, makes engine calls (ImageService) and
formats the result like the Docker CLI. Nothing here decides image semantics.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dockyard.cli import gotemplate
from dockyard.cli.humanize import human_duration, human_size
from dockyard.errors import InvalidArgument

# argparse names of the verbs under ``image`` and the top-level aliases.
_IMAGE_VERBS = ("ls", "list", "inspect", "rm", "remove", "prune", "tag", "history",
                "bootstrap", "save", "load", "import")


def register(sub: argparse._SubParsersAction, word: str) -> None:
    if word == "image":
        p = sub.add_parser("image", help="Manage images")
        verbs = p.add_subparsers(dest="verb", metavar="VERB")
        verbs.required = True
        for verb in _IMAGE_VERBS:
            _ADDERS[verb](verbs, verb)
    elif word == "images":
        _add_ls(sub, "images")
    elif word == "system":
        p = sub.add_parser("system", help="Manage dockyard")
        verbs = p.add_subparsers(dest="verb", metavar="VERB")
        verbs.required = True
        _add_df(verbs)
        _add_check(verbs)
    elif word == "rmi":
        _add_rm(sub, "rmi")
    else:
        _ADDERS[word](sub, word)


# --- images / image ls ----------------------------------------------------------------


def _add_ls(sub, name: str) -> None:
    p = sub.add_parser(name, help="List images")
    p.add_argument("repository", nargs="?", help="REPOSITORY[:TAG]")
    p.add_argument("-a", "--all", action="store_true",
                   help="Show all images (default hides intermediate images)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="Filter output (dangling, label, reference, before, since)")
    p.add_argument("--format", help="Pretty-print images using a Go template")
    p.set_defaults(func=cmd_images)


def _rows(summaries, digests: bool, no_trunc: bool) -> list[dict[str, Any]]:
    from dockyard.image import reference as refs

    rows = []
    for s in summaries:
        rec = s.record
        ident = str(rec.id) if no_trunc else rec.short_id
        digest_by_repo: dict[str, list[str]] = {}
        for d in rec.repo_digests:
            name, _, dig = d.partition("@")
            digest_by_repo.setdefault(name, []).append(dig)
        pairs: list[tuple[str, str, str]] = []
        for t in rec.repo_tags:
            ref = refs.parse(t)
            dig = (digest_by_repo.get(ref.name) or ["<none>"])[0]
            pairs.append((ref.familiar_name, ref.tag or "<none>", dig))
        tagged_repos = {refs.parse(t).name for t in rec.repo_tags}
        for name, digs in digest_by_repo.items():
            if name not in tagged_repos:
                pairs.append((refs.parse(name).familiar_name, "<none>", digs[0]))
        if not pairs:
            pairs.append(("<none>", "<none>", "<none>"))
        from dockyard.image.dockershape import created_unix

        created = created_unix(rec.created)
        for repo, tag, dig in pairs:
            rows.append({
                "Containers": "N/A" if not s.containers else str(s.containers),
                "CreatedAt": _created_at(created),
                "CreatedSince": human_duration(created),
                "Digest": dig,
                "ID": ident,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(rec.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(rec.size),
            })
    return rows


def _created_at(ts: int) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def cmd_images(args, ctx) -> int:
    from dockyard.image.service import ImageFilters

    svc = ctx.image_service()
    try:
        filters = ImageFilters.parse(args.filter)
        if args.repository:
            filters = ImageFilters(filters.dangling, filters.labels,
                                   (*filters.references, args.repository), filters.before,
                                   filters.since)
        summaries = svc.list_images(all_images=args.all, filters=filters)
    finally:
        svc.close()
    rows = _rows(summaries, args.digests, args.no_trunc)
    if args.quiet:
        seen = dict.fromkeys(r["ID"] for r in rows)
        print("\n".join(seen)) if seen else None
        return 0
    fmt = args.format
    if not fmt:
        cols = ["{{.Repository}}", "{{.Tag}}"]
        if args.digests:
            cols.append("{{.Digest}}")
        cols += ["{{.ID}}", "{{.CreatedSince}}", "{{.Size}}"]
        fmt = "table " + "\t".join(cols)
    headers = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
               "ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
               "Size": "SIZE", "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
               "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}
    print(gotemplate.render_rows(fmt, rows, headers), end="")
    return 0


# --- inspect / history / tag / rm / prune -------------------------------------------------


def _add_inspect(sub, name: str) -> None:
    p = sub.add_parser(name, help="Display detailed information on one or more images")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--format", help="Format output using a Go template")
    if name == "inspect":
        p.add_argument("--type", choices=["image"], default="image")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args, ctx) -> int:
    from dockyard.errors import NotFound
    from dockyard.image.dockershape import inspect_json

    svc = ctx.image_service()
    docs, status = [], 0
    try:
        for name in args.names:
            try:
                docs.append(inspect_json(svc, svc.inspect(name)))
            except NotFound as e:
                print(f"Error: {e.message}", file=sys.stderr)
                status = 1
    finally:
        svc.close()
    if args.format:
        for doc in docs:
            print(gotemplate.render(args.format, doc))
    else:
        print(json.dumps(docs, indent=4))
    return status


def _add_history(sub, name: str) -> None:
    p = sub.add_parser(name, help="Show the history of an image")
    p.add_argument("image")
    p.add_argument("-H", "--human", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format")
    p.set_defaults(func=cmd_history)


def cmd_history(args, ctx) -> int:
    from dockyard.image.dockershape import created_unix

    svc = ctx.image_service()
    try:
        items = svc.history(args.image)
    finally:
        svc.close()
    rows = []
    for entry, ident, size in items:
        short = ident if args.no_trunc or ident == "<missing>" else ident[7:19]
        by = entry.created_by or ""
        if not args.no_trunc and len(by) > 45:
            by = by[:44] + "…"
        ts = created_unix(entry.created)
        rows.append({"ID": short, "CreatedSince": human_duration(ts) if args.human
                     else (entry.created or ""), "CreatedAt": entry.created or "",
                     "CreatedBy": by, "Size": human_size(size) if args.human else str(size),
                     "Comment": entry.comment or ""})
    if args.quiet:
        print("\n".join(r["ID"] for r in rows))
        return 0
    fmt = args.format or ("table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t"
                          "{{.Comment}}")
    print(gotemplate.render_rows(fmt, rows, {
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}), end="")
    return 0


def _add_tag(sub, name: str) -> None:
    p = sub.add_parser(name, help="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=cmd_tag)


def cmd_tag(args, ctx) -> int:
    svc = ctx.image_service()
    try:
        svc.tag(args.source, args.target)
    finally:
        svc.close()
    return 0


def _add_rm(sub, name: str) -> None:
    p = sub.add_parser(name, help="Remove one or more images")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true",
                   help="Do not free the image's layers now (the next prune does)")
    p.set_defaults(func=cmd_rmi)


def cmd_rmi(args, ctx) -> int:
    from dockyard.errors import DockyardError

    svc = ctx.image_service()
    status = 0
    try:
        for name in args.names:
            try:
                for ev in svc.remove(name, force=args.force, prune_layers=not args.no_prune):
                    print(f"{ev.kind}: {ev.value}")
            except DockyardError as e:
                print(f"Error response from daemon: {e.message}", file=sys.stderr)
                status = 1
    finally:
        svc.close()
    return status


def _add_prune(sub, name: str) -> None:
    p = sub.add_parser(name, help="Remove unused images")
    p.add_argument("-a", "--all", action="store_true",
                   help="Remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[])
    p.set_defaults(func=cmd_prune)


def cmd_prune(args, ctx) -> int:
    from dockyard.image.service import ImageFilters

    if not args.force:
        what = "all images without at least one container associated to them" if args.all \
            else "all dangling images"
        if not sys.stdin.isatty():
            raise InvalidArgument(f"prune removes {what}; pass -f to confirm without a "
                                  "terminal")
        answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to "
                       "continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    svc = ctx.image_service()
    try:
        report = svc.prune(all_images=args.all, filters=ImageFilters.parse(args.filter))
    finally:
        svc.close()
    if report.events:
        print("Deleted Images:")
        for ev in report.events:
            print(f"{ev.kind.lower()}: {ev.value}")
        print()
    print(f"Total reclaimed space: {human_size(report.space_reclaimed)}")
    return 0


# --- save / load / import / bootstrap ----------------------------------------------------


def _add_save(sub, name: str) -> None:
    p = sub.add_parser(name, help="Save one or more images to a tar archive")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    p.add_argument("--format", choices=["tar", "oci-dir"], default="tar",
                   help="tar: docker-archive + OCI layout in one tar (default); "
                        "oci-dir: an OCI layout directory at --output")
    p.set_defaults(func=cmd_save)


def cmd_save(args, ctx) -> int:
    import os
    from pathlib import Path

    svc = ctx.image_service()
    try:
        if args.format == "oci-dir":
            if not args.output:
                raise InvalidArgument("--format oci-dir needs --output DIR")
            svc.save_layout(args.names, Path(args.output))
            return 0
        if not args.output:
            if sys.stdout.isatty():
                raise InvalidArgument("cowardly refusing to save to a terminal. "
                                      "Use the -o flag or redirect")
            svc.save(args.names, sys.stdout.buffer)
            return 0
        out = Path(args.output)
        tmp = out.with_name(f".{out.name}.dockyard-tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                svc.save(args.names, f)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        svc.close()
    return 0


def _add_load(sub, name: str) -> None:
    p = sub.add_parser(name, help="Load an image from a tar archive or STDIN")
    p.add_argument("-i", "--input", help="Read from tar archive file (or an OCI layout "
                                          "directory), instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    p.add_argument("--platform", help="Platform to load from a multi-platform index")
    p.set_defaults(func=cmd_load)


def cmd_load(args, ctx) -> int:
    from dockyard.image.manifest import Platform

    platform = Platform.parse(args.platform) if args.platform else None
    svc = ctx.image_service()
    try:
        if args.input:
            result = svc.load(args.input, platform=platform)
        else:
            if sys.stdin.isatty():
                raise InvalidArgument("requested load from stdin, but stdin is empty")
            result = svc.load(None, sys.stdin.buffer, platform=platform)
    finally:
        svc.close()
    if not args.quiet:
        for img in result.images:
            for tag, old in img.replaced:
                print(f"The image {tag} already exists, renaming the old one with ID "
                      f"{old} to empty string")
            if img.tags:
                for tag in img.tags:
                    print(f"Loaded image: {tag}")
            else:
                print(f"Loaded image ID: {img.id}")
    return 0


def _add_import(sub, name: str) -> None:
    p = sub.add_parser(name, help="Import the contents from a tarball to create a "
                                  "filesystem image")
    p.add_argument("source", metavar="file|URL|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-c", "--change", action="append", default=[],
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", help="Set commit message for imported image")
    p.add_argument("--platform", help="Set platform if server is multi-platform capable")
    p.set_defaults(func=cmd_import)


def cmd_import(args, ctx) -> int:
    from dockyard.image.importer import ImportOptions
    from dockyard.image.manifest import Platform

    opts = ImportOptions(args.reference, tuple(args.change), args.message,
                         Platform.parse(args.platform) if args.platform else None)
    svc = ctx.image_service()
    try:
        rec = svc.import_image(args.source, opts, sys.stdin.buffer)
    finally:
        svc.close()
    print(rec.id)
    return 0


def _add_bootstrap(sub, name: str) -> None:
    p = sub.add_parser(name, help="Make a base image without a network")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    b = kinds.add_parser("busybox", help="From the host's static busybox")
    b.add_argument("--tag", default="busybox:latest")
    b.add_argument("--busybox", help="Path of a static busybox binary")
    b.set_defaults(func=cmd_bootstrap)
    d = kinds.add_parser("debian", help="With debootstrap (needs a Debian mirror)")
    d.add_argument("--suite", default="bookworm")
    d.add_argument("--tag")
    d.add_argument("--mirror", default="http://deb.debian.org/debian")
    d.set_defaults(func=cmd_bootstrap)


def cmd_bootstrap(args, ctx) -> int:
    svc = ctx.image_service()
    try:
        if args.kind == "busybox":
            rec = svc.bootstrap_busybox(args.tag, args.busybox)
        else:
            rec = svc.bootstrap_debian(args.suite, args.tag, args.mirror)
    finally:
        svc.close()
    print(rec.id)
    return 0


# --- system df / check --------------------------------------------------------------------


def _add_df(verbs) -> None:
    p = verbs.add_parser("df", help="Show dockyard disk usage")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--format")
    p.set_defaults(func=cmd_df)


def cmd_df(args, ctx) -> int:
    svc = ctx.image_service()
    try:
        du = svc.disk_usage()
    finally:
        svc.close()
    pct = f" ({100 * du.reclaimable // du.images_size}%)" if du.images_size else ""
    rows = [
        {"Type": "Images", "TotalCount": str(du.images), "Active": str(du.active_images),
         "Size": human_size(du.images_size),
         "Reclaimable": human_size(du.reclaimable) + pct},
        {"Type": "Containers", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
        {"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
    ]
    fmt = args.format or "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t" \
                         "{{.Reclaimable}}"
    print(gotemplate.render_rows(fmt, rows, {"Type": "TYPE", "TotalCount": "TOTAL",
                                             "Active": "ACTIVE", "Size": "SIZE",
                                             "Reclaimable": "RECLAIMABLE"}), end="")
    if args.verbose:
        print(f"\nBlobs in the content store: {human_size(du.layers_size)}")
    return 0


def _add_check(verbs) -> None:
    p = verbs.add_parser("check", help="Verify the image store; report and clean damage")
    p.add_argument("--no-clean", action="store_true",
                   help="Only report: keep abandoned ingest entries and extract snapshots")
    p.add_argument("--quick", action="store_true", help="Do not re-hash every blob")
    p.set_defaults(func=cmd_check)


def cmd_check(args, ctx) -> int:
    from dockyard.image.check import check

    svc = ctx.image_service()
    try:
        report = check(svc, clean=not args.no_clean, rehash=not args.quick)
    finally:
        svc.close()
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


_ADDERS = {
    "ls": _add_ls, "list": _add_ls, "images": _add_ls,
    "inspect": _add_inspect, "history": _add_history, "tag": _add_tag,
    "rm": _add_rm, "remove": _add_rm, "rmi": _add_rm, "prune": _add_prune,
    "save": _add_save, "load": _add_load, "import": _add_import, "bootstrap": _add_bootstrap,
}

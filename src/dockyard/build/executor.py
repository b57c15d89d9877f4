"""The build executor: a :class:`BuildPlan` to an image in the store.

Only the stages ``--target`` needs are built; :meth:`BuildPlan.levels` gives
waves of independent stages, and a wave of several runs in parallel threads.
Each step turns a :class:`State` into the next one:

* metadata instructions fold into the config (``config.apply``) and add a
  history entry with ``empty_layer``;
* RUN, COPY, ADD and WORKDIR work on an active overlay snapshot on the current
  layers (``steps.py``); a non-empty diff becomes a layer (``image/diff.py``),
  committed under its chain id, and an intermediate image is recorded so the
  image store's GC keeps it (docker's legacy builder does the same); an empty
  diff is an ``empty_layer`` history entry, as docker records it.

Every step first looks in the cache (``cache.py``) under a key made of the
previous state's key, the instruction and the content digests of what it reads.

Progress goes to ``emit`` as docker's JSON messages (``{"stream": ...}``,
``{"aux": {"ID": ...}}``), which the API forwards as they are and the CLI
renders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dockyard.build import instructions as ins
from dockyard.build.cache import BuildCache, step_key
from dockyard.build.config import ImageConfigState, apply, start_stage
from dockyard.build.context import BuildContext
from dockyard.build.stages import BuildPlan, Stage, Step, parse_dockerfile
from dockyard.build.stale import clean_stale, scratch_prefix
from dockyard.build.state import Layer, State, config_from_image, image_doc, now_rfc3339
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image import mediatypes as mt
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.store import BlobRef, LayerRecord, NewImage

Emit = Callable[[dict[str, Any]], None]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"          # path in the context (or absolute)
    dockerfile_text: str | None = None      # given directly (stdin, API "-")
    tags: tuple[str, ...] = ()
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    secrets: dict[str, str] = field(default_factory=dict)   # id -> host file
    platform: str | None = None
    network: str = "default"                # RUN's default network
    memo_hashes: bool = True                # remember file digests by inode+ctime
    quiet: bool = False
    dockerfile_anywhere: bool = False      # an absolute -f path outside the context


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]
    runs: int            # RUN steps executed (0 for a fully cached build)
    cached: int          # steps taken from the cache
    steps: int
    warnings: tuple[str, ...] = ()


def describe(i: ins.Instruction) -> dict[str, Any]:
    """An instruction's cache identity: its kind and expanded fields, no location."""
    d: dict[str, Any] = {"kind": type(i).__name__}
    for f in fields(i):
        if f.name not in ("loc", "trigger"):
            d[f.name] = repr(getattr(i, f.name))
    return d


def short(image_id: str | None) -> str:
    if not image_id:
        return "<none>"
    return image_id.split(":", 1)[-1][:12]


class Builder:
    """Builds images into one image store; one instance per build request."""

    def __init__(self, images, exec_root: str | os.PathLike[str],
                 emit: Emit | None = None) -> None:
        self.svc = images
        self.store = images.store
        self.cache = BuildCache(images.root)
        self.exec_root = Path(exec_root)
        self.emit = emit or (lambda _m: None)
        self._lock = threading.RLock()
        self._bases: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.runs = 0
        self.cached = 0
        self.lease = None
        self.opts = BuildOptions()
        self.ctx: BuildContext | None = None
        self.results: dict[int, State] = {}
        self.stage_names: dict[str, int] = {}

    def close(self) -> None:
        self.cache.close()

    @property
    def snap(self):
        return self.svc.snapshotter

    def say(self, text: str) -> None:
        self.emit({"stream": text if text.endswith("\n") else text + "\n"})

    # --- base images ------------------------------------------------------------------
    def base(self, name: str) -> tuple[Any, dict[str, Any]]:
        """(record, raw config) of a base image, pulled when missing (or --pull)."""
        with self._lock:
            if name in self._bases:
                return self._bases[name]
            rec = None
            if not self.opts.pull:
                try:
                    rec = self.store.resolve(name)
                except NotFound:
                    rec = None
            if rec is None:
                rec = self._pull(name)
            import json

            raw = json.loads(self.store.content.read_bytes(rec.id))
            self._bases[name] = (rec, raw)
            return rec, raw

    def _pull(self, name: str):
        import asyncio

        try:
            from dockyard.registry.pull import pull, snapshot_unpacker
        except ImportError as e:   # a build without the registry room
            raise NotFound(f"pull access denied for {name}: no registry client ({e})"
                           ) from None
        self.say(f"Pulling {name}")
        unpack, worker = snapshot_unpacker(str(self.svc.root), self.snap)
        try:
            results = asyncio.run(pull(name, self.store, unpack=unpack))
        except DockyardError as e:
            try:
                return self.store.resolve(name)   # --pull offline: use what is here
            except NotFound:
                raise NotFound(f"pull access denied for {name}, repository does not exist "
                               f"or may require 'docker login': {e.message}") from None
        except OSError as e:
            try:
                return self.store.resolve(name)
            except NotFound:
                raise NotFound(f"pull access denied for {name}: {e}") from None
        finally:
            worker.close()
        return self.store.get(results[-1].image_id)

    # --- the build ----------------------------------------------------------------------
    def build(self, ctx: BuildContext, opts: BuildOptions) -> BuildResult:
        self.opts = opts
        self.ctx = ctx
        if opts.platform:
            want = mf.Platform.parse(opts.platform).normalized()
            host = mf.Platform.host().normalized()
            if not host.matches(want):
                raise InvalidArgument(f"platform {opts.platform} cannot be built here: "
                                      f"only this host's ({host}) runs RUN steps")
        text, filename = self._dockerfile(ctx, opts)
        plan = parse_dockerfile(
            text, filename=filename, build_args=opts.build_args, target=opts.target,
            base_env=lambda image: config_from_image(self.base(image)[1]).env_dict(),
            base_onbuild=lambda image: tuple((self.base(image)[1].get("config") or {})
                                             .get("OnBuild") or ()),
            target_platform=opts.platform)
        for w in plan.warnings:
            self.say(f"[WARNING]: {w}")
        (self.exec_root / "build").mkdir(parents=True, exist_ok=True, mode=0o700)
        clean_stale(self.exec_root / "build")
        numbers, total = self._numbering(plan, opts)
        results: dict[int, State] = {}
        self.results = results
        self.stage_names = {s.name: s.index for s in plan.stages if s.name}
        with self.store.lease() as lease:
            self.lease = lease
            for wave in plan.levels():
                if len(wave) == 1:
                    results[wave[0]] = self._stage(plan, plan.stages[wave[0]], results,
                                                   numbers, total)
                    continue
                with ThreadPoolExecutor(len(wave)) as pool:
                    futs = {k: pool.submit(self._stage, plan, plan.stages[k], results,
                                           numbers, total) for k in wave}
                    for k, fut in futs.items():
                        results[k] = fut.result()
            final = results[plan.target]
            if opts.labels:
                label = ins.Label(ins.Location(filename, 0, 0, ""),
                                  tuple(sorted(opts.labels.items())))
                final = self._meta(final, label, "LABEL " + " ".join(
                    f'"{k}"="{v}"' for k, v in sorted(opts.labels.items())))
            image_id = self._finish(final, opts.tags)
        self.say(f"Successfully built {short(image_id)}")
        for t in opts.tags:
            self.say(f"Successfully tagged {refs.parse(t).with_default_tag().familiar()}")
        self.emit({"aux": {"ID": image_id}})
        return BuildResult(image_id, opts.tags, self.runs, self.cached, total,
                           plan.warnings)

    def _dockerfile(self, ctx: BuildContext, opts: BuildOptions) -> tuple[str, str]:
        if opts.dockerfile_text is not None:
            return opts.dockerfile_text, "Dockerfile"
        if ctx.dockerfile_text is not None:
            return ctx.dockerfile_text, "Dockerfile"
        path = opts.dockerfile
        if opts.dockerfile_anywhere and os.path.isabs(path):
            host = path          # the CLI's -f: the user's own file
        else:
            # from the API: always inside the context (never a file of the daemon's)
            try:
                host = ctx.resolve(path)
            except DockyardError:
                raise InvalidArgument(f"the Dockerfile ({path}) must be within the build "
                                      "context") from None
        try:
            with open(host, "rb") as f:
                data = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"Cannot locate specified Dockerfile: {path}") from None
        try:
            return data.decode("utf-8").removeprefix("\ufeff"), os.path.basename(path)
        except UnicodeDecodeError as e:
            raise InvalidArgument(f"{os.path.basename(path)}: not UTF-8 text (byte "
                                  f"{e.start})") from None

    @staticmethod
    def _numbering(plan: BuildPlan, opts: BuildOptions) -> tuple[dict[int, int], int]:
        numbers: dict[int, int] = {}
        n = 0
        for k in plan.needed:
            numbers[k] = n + 1
            n += 1 + sum(1 for s in plan.stages[k].steps if not s.trigger)
        return numbers, n

    # --- stages ---------------------------------------------------------------------------
    def _stage(self, plan: BuildPlan, stage: Stage, results: dict[int, State],
               numbers: dict[int, int], total: int) -> State:
        n = numbers[stage.index]
        self.say(f"Step {n}/{total} : {stage.from_.loc.original.strip()}")
        state = self._from(stage, results)
        self.say(f" ---> {short(state.image_id or state.key)}")
        for step in stage.steps:
            i = step.instruction
            if step.trigger:
                self.say(f"# Executing build trigger: {i.loc.original.strip()}")
            else:
                n += 1
                self.say(f"Step {n}/{total} : {i.loc.original.strip()}")
            state = self._step(state, step, results)
        return state

    def _from(self, stage: Stage, results: dict[int, State]) -> State:
        if stage.base_stage is not None:
            prev = results[stage.base_stage]
            return replace(prev, config=start_stage(prev.config),
                           key=step_key(prev.key, "FROM-stage"))
        if stage.base == "scratch":
            plat = mf.Platform.host().normalized()
            return State(step_key("scratch", str(plat)), start_stage(ImageConfigState()),
                         platform=(plat.os, plat.architecture, plat.variant or ""))
        rec, raw = self.base(stage.base)
        from dockyard.image.unpack import layer_specs

        specs = layer_specs(self.store, rec)
        layers = tuple(Layer(str(s.blob), s.media_type, self.store.content.info(s.blob).size,
                             str(s.diff_id)) for s in specs)
        return State(step_key("image", str(rec.id)), start_stage(config_from_image(raw)),
                     layers, tuple(raw.get("history") or ()), str(rec.id),
                     (raw.get("os") or "linux", raw.get("architecture") or "amd64",
                      raw.get("variant") or ""))

    def _step(self, state: State, step: Step, results: dict[int, State]) -> State:
        """One step; errors other than the located kinds get the step's location."""
        from dockyard.build.errors import DockerfileError, StepFailed

        try:
            return self._dispatch(state, step, results)
        except (DockerfileError, StepFailed):
            raise
        except DockyardError as e:
            i = step.instruction
            where = f"{i.loc.filename}:{i.loc.line}"
            text = i.loc.original.strip().split("\n")[0]
            try:
                located = type(e)(f"{where}: {text}: {e.message}")
            except TypeError:
                raise e from None
            raise located from None

    def _dispatch(self, state: State, step: Step, results: dict[int, State]) -> State:
        from dockyard.build import steps

        i = step.instruction
        if isinstance(i, ins.Run):
            return steps.run_step(self, state, step)
        if isinstance(i, ins.Copy | ins.Add):
            return steps.copy_step(self, state, step, results)
        if isinstance(i, ins.Workdir):
            return steps.workdir_step(self, state, step)
        return self._meta(state, i, i.loc.original.strip())

    # --- metadata steps and cache ---------------------------------------------------------
    def hit(self, key: str) -> State | None:
        if self.opts.no_cache:
            return None
        got = self.cache.get(key)
        if got is None:
            return None
        try:
            state = State.from_json(got)
        except (KeyError, TypeError, ValueError):
            self.cache.forget(key)
            return None
        for layer in state.layers:
            if not self.store.content.exists(Digest.parse(layer.blob)):
                self.cache.forget(key)
                return None
        if state.image_id and not self.store.exists(Digest.parse(state.image_id)):
            state = replace(state, image_id=None)
        self.cached += 1
        self.say(" ---> Using cache")
        self.say(f" ---> {short(state.image_id if state.layers and state.image_id else key)}")
        return state

    def _meta(self, state: State, i: ins.Instruction, text: str) -> State:
        key = step_key(state.key, describe(i))
        got = self.hit(key)
        if got is not None:
            return got
        config = apply(state.config, i)
        entry = {"created": now_rfc3339(), "created_by": f"/bin/sh -c #(nop)  {text}",
                 "empty_layer": True}
        new = replace(state, key=key, config=config, history=(*state.history, entry))
        self.cache.put(key, new.to_json())
        self.say(f" ---> {short(key)}")
        return new

    # --- snapshots and layers -----------------------------------------------------------
    def top_snapshot(self, state: State) -> str | None:
        """Make sure the state's layers are unpacked; the top snapshot's name."""
        if not state.layers:
            return None
        from dockyard.image.importer import LayerSpec
        from dockyard.image.unpack import unpack_layers

        specs = [LayerSpec(Digest.parse(x.blob), x.media_type, Digest.parse(x.diff_id))
                 for x in state.layers]
        with self._lock:
            rows = unpack_layers(self.store, self.snap, specs, self.lease)
        return rows[-1].snapshot

    @contextlib.contextmanager
    def active(self, state: State) -> Iterator[tuple[str, str, str]]:
        """An active snapshot on ``state`` mounted at ``<bundle>/rootfs``: yields
        (snapshot key, rootfs, bundle). On error the snapshot is removed; on success
        the caller commits it with :meth:`commit` (or removes it)."""
        from dockyard.image.mount import mount_all, unmount

        parent = self.top_snapshot(state)
        key = f"build-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self.lease.add_snapshot(key)
            mounts = self.snap.prepare(key, parent)
        bundle = tempfile.mkdtemp(prefix=scratch_prefix("b"), dir=self.exec_root / "build")
        rootfs = os.path.join(bundle, "rootfs")
        os.mkdir(rootfs, 0o755)
        try:
            mount_all(mounts, rootfs)
            try:
                yield key, rootfs, bundle
            finally:
                unmount(rootfs, mounts)
        except BaseException:
            with contextlib.suppress(DockyardError):
                self.snap.remove(key)
            raise
        finally:
            shutil.rmtree(bundle, ignore_errors=True)

    def upperdir(self, snap_key: str, state: State) -> str | None:
        """The overlay upperdir of an active snapshot on layers (None otherwise:
        then the mount itself is the place to write)."""
        from dockyard.image.snapshots import OverlaySnapshotter

        if not state.layers or not isinstance(self.snap, OverlaySnapshotter):
            return None
        return self.snap.layer_target(snap_key).path

    @contextlib.contextmanager
    def view(self, state: State) -> Iterator[str]:
        """A read-only mount of a state's filesystem (COPY --from, bind mounts)."""
        from dockyard.image.mount import mount_all, unmount

        top = self.top_snapshot(state)
        bundle = tempfile.mkdtemp(prefix=scratch_prefix("v"), dir=self.exec_root / "build")
        if top is None:
            try:
                yield bundle
            finally:
                shutil.rmtree(bundle, ignore_errors=True)
            return
        key = f"buildview-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self.lease.add_snapshot(key)
            mounts = self.snap.view(key, top)
        try:
            mount_all(mounts, bundle)
            try:
                yield bundle
            finally:
                unmount(bundle, mounts)
        finally:
            with contextlib.suppress(DockyardError):
                self.snap.remove(key)
            shutil.rmtree(bundle, ignore_errors=True)

    def commit(self, state: State, snap_key: str, key: str, config: ImageConfigState,
               created_by: str) -> State:
        """Diff the active snapshot into a layer (or an empty_layer entry when nothing
        changed) and return the new state, recorded as an intermediate image."""
        from dockyard.image.diff import DiffOptions

        entry: dict[str, Any] = {"created": now_rfc3339(), "created_by": created_by}
        try:
            with self._lock, self.store.content.writer() as w:
                stats = self.snap.diff(snap_key, w, DiffOptions(compression="none"))
                if stats.entries == 0:
                    self.snap.remove(snap_key)
                    entry["empty_layer"] = True
                    new = replace(state, key=key, config=config,
                                  history=(*state.history, entry))
                    self.cache.put(key, new.to_json())
                    self.say(f" ---> {short(key)}")
                    return new
                self.lease.add_blob(stats.digest)
                info = w.commit(stats.digest, stats.compressed_size)
                diff_ids = [*state.diff_ids, stats.diff_id]
                chains = mf.chain_ids(diff_ids)
                name = str(chains[-1])
                self.lease.add_snapshot(name)
                try:
                    self.snap.commit(name, snap_key)
                except Conflict:
                    self.snap.remove(snap_key)   # the same layer exists already
                if self.store.get_layer(chains[-1]) is None:
                    self.store.add_layer(LayerRecord(chains[-1], stats.diff_id,
                                                     chains[-2] if len(chains) > 1 else None,
                                                     stats.size, name))
        except BaseException:
            with contextlib.suppress(DockyardError):
                if self.snap.exists(snap_key):
                    self.snap.remove(snap_key)
            raise
        layer = Layer(str(info.digest), mt.OCI_LAYER, info.size, str(stats.diff_id),
                      stats.size)
        new = replace(state, key=key, config=config, layers=(*state.layers, layer),
                      history=(*state.history, entry))
        image_id = self.record(new)
        new = replace(new, image_id=image_id)
        self.cache.put(key, new.to_json())
        self.say(f" ---> {short(image_id)}")
        return new

    def record(self, state: State, tags: tuple[str, ...] = ()) -> str:
        """Store config + manifest for a state and record the image (with tags)."""
        import json

        doc = image_doc(state, now_rfc3339())
        cfg = json.dumps(doc, separators=(",", ":")).encode()
        cfg_digest = Digest.of_bytes(cfg)
        descs = [mf.Descriptor(x.media_type, Digest.parse(x.blob), x.size)
                 for x in state.layers]
        with self._lock:
            self.lease.add_blob(cfg_digest)
            self.store.content.put_bytes(cfg, cfg_digest)
            man = mf.new_manifest(mf.Descriptor(mt.OCI_CONFIG, cfg_digest, len(cfg)), descs)
            man_bytes = man.to_bytes()
            man_digest = Digest.of_bytes(man_bytes)
            self.lease.add_blob(man_digest)
            self.store.content.put_bytes(man_bytes, man_digest)
            os_, arch, variant = state.platform
            new = NewImage(cfg_digest, man_digest, man.media_type,
                           mf.chain_ids(state.diff_ids),
                           (BlobRef(man_digest, "manifest"), BlobRef(cfg_digest, "config"),
                            *(BlobRef(d.digest, "layer") for d in descs)),
                           "/".join(p for p in (os_, arch, variant) if p), doc["created"],
                           sum(x.unpacked or x.size for x in state.layers),
                           parent=Digest.parse(state.image_id) if state.image_id else None)
            parsed = []
            for t in tags:
                try:
                    parsed.append(refs.parse(t))
                except InvalidArgument as e:
                    raise InvalidArgument(f"invalid tag {t!r}: {e.message}") from None
            self.store.add_image_tagged(new, parsed)
        return str(cfg_digest)

    def _finish(self, state: State, tags: tuple[str, ...]) -> str:
        """The final image: the cached one for this exact state, else a new record."""
        final_key = "final:" + state.key
        got = None if self.opts.no_cache else self.cache.get(final_key)
        if got and self.store.exists(Digest.parse(got["image_id"])):
            image_id = got["image_id"]
            with self._lock:
                for t in tags:
                    self.store.tag(refs.parse(t).with_default_tag(), Digest.parse(image_id))
            return image_id
        if state.image_id and state.history and not state.history[-1].get("empty_layer") \
                and self.store.exists(Digest.parse(state.image_id)) and \
                self._same_record(state):
            image_id = state.image_id
            with self._lock:
                for t in tags:
                    self.store.tag(refs.parse(t).with_default_tag(), Digest.parse(image_id))
        else:
            image_id = self.record(state, tags)
        self.cache.put(final_key, {"image_id": image_id})
        return image_id

    def _same_record(self, state: State) -> bool:
        """The state's intermediate image already is this state (last step a layer)."""
        import json

        raw = json.loads(self.store.content.read_bytes(Digest.parse(state.image_id or "")))
        return raw.get("history") == list(state.history) and \
            raw.get("config") == image_doc(state, "")["config"]


__all__ = ["BuildOptions", "BuildResult", "Builder", "describe"]

"""docker cp's engine side on a real busybox rootfs: stat, get, put, export, hostile tars.

The view has a "volume" (a host directory) at /data and a read-only bind at /ro,
resolved by path routing as the engine's fs_view gives them (no container runs).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.engine.archive import (
    MODE_DIR,
    MODE_SYMLINK,
    export_rootfs,
    get_archive,
    put_archive,
    stat_path,
    unix_mode,
)
from dockyard.engine.fsview import FsView
from dockyard.engine.mounts import MountPlan
from dockyard.errors import Forbidden, InvalidArgument, NotFound, UnsafeContent


@pytest.fixture
def view(busybox_rootfs: Path, tmp_path: Path) -> FsView:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "inv").write_text("in the volume\n")
    ro = tmp_path / "robind"
    ro.mkdir()
    (busybox_rootfs / "data").mkdir(exist_ok=True)
    (busybox_rootfs / "data" / "hidden").write_text("under the mount\n")
    (busybox_rootfs / "ro").mkdir(exist_ok=True)
    return FsView(busybox_rootfs, [
        MountPlan("volume", str(vol), "/data", name="v1", driver="local"),
        MountPlan("bind", str(ro), "/ro", read_only=True),
        MountPlan("tmpfs", "", "/tmp"),
    ], container="ctr")


def _tar(build) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        build(t)
    return buf.getvalue()


def _add_file(t: tarfile.TarFile, name: str, data: bytes = b"x", **kw) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = kw.get("mode", 0o644)
    info.uid, info.gid = kw.get("uid", 0), kw.get("gid", 0)
    t.addfile(info, io.BytesIO(data))


def _add(t: tarfile.TarFile, name: str, kind: bytes, linkname: str = "", **kw) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = kw.get("mode", 0o755)
    info.devmajor, info.devminor = kw.get("dev", (0, 0))
    t.addfile(info)


def _members(chunks) -> list[tarfile.TarInfo]:
    data = b"".join(chunks)
    return tarfile.open(fileobj=io.BytesIO(data)).getmembers()


def test_stat_modes_names_and_link_targets(view: FsView):
    d = stat_path(view, "/data")
    assert d["name"] == "data" and d["mode"] & MODE_DIR
    assert stat.S_ISDIR(unix_mode(d["mode"]))
    assert stat_path(view, "/data/.")["name"] == "."
    assert stat_path(view, "/data/")["name"] == "data"
    f = stat_path(view, "/data/inv")
    assert f["size"] == len("in the volume\n") and f["mode"] == 0o644
    assert f["mtime"].endswith("Z") and "T" in f["mtime"]
    sh = stat_path(view, "/bin/sh")
    assert sh["mode"] == MODE_SYMLINK | 0o777 and sh["linkTarget"] == "/bin/busybox"
    assert stat_path(view, "/")["name"] == "/"
    assert stat_path(view, "rel/../etc")["name"] == "etc"
    with pytest.raises(NotFound, match=r"^Could not find the file /nope in container ctr$"):
        stat_path(view, "/nope")
    with pytest.raises(NotFound):
        stat_path(view, "/etc/passwd/x")
    with pytest.raises(InvalidArgument):
        stat_path(view, "")


def test_symlinks_resolve_inside_the_container(view: FsView, busybox_rootfs: Path):
    os.symlink("../../../../../../", busybox_rootfs / "up")
    os.symlink("/etc", busybox_rootfs / "data-etc")
    # the host's /etc/shadow is never what "/up/etc/shadow" names
    with pytest.raises(NotFound):
        stat_path(view, "/up/etc/shadow")
    size = (busybox_rootfs / "etc/passwd").stat().st_size
    assert stat_path(view, "/up/etc/passwd")["size"] == size
    names = [m.name for m in _members(get_archive(view, "/data-etc/"))]
    assert "data-etc/passwd" in names
    # a symlink inside the volume pointing at / means the container's root
    os.symlink("/", Path(view.mounts[0].source) / "root")
    assert stat_path(view, "/data/root/etc/passwd")["name"] == "passwd"


def test_get_archive_shapes_like_dockerd(view: FsView):
    assert [(m.name, m.isdir()) for m in _members(get_archive(view, "/data"))] == [
        ("data", True), ("data/inv", False)]
    assert [m.name for m in _members(get_archive(view, "/data/."))] == [".", "./inv"]
    [link] = _members(get_archive(view, "/bin/sh"))
    assert link.issym() and link.name == "sh" and link.linkname == "../bin/busybox"
    [passwd] = _members(get_archive(view, "/etc/passwd"))
    assert passwd.name == "passwd" and passwd.size > 0
    # the volume's content is what the container sees at /data, not the rootfs dir
    everything = [m.name for m in _members(get_archive(view, "/"))]
    # dockerd's naming: "/", "/bin/", ... (tarfile shows the first as "")
    assert everything[0] == "" and all(n.startswith("/") for n in everything[1:])
    assert "/data/inv" in everything and "/data/hidden" not in everything
    with pytest.raises(NotFound):
        get_archive(view, "/nope")


def test_export_is_the_rootfs_without_mounts(view: FsView):
    names = [m.name for m in _members(export_rootfs(view))]
    assert "bin/busybox" in names and "etc/passwd" in names
    assert "data/hidden" in names and "data/inv" not in names


def test_put_round_trip_into_volume_and_rootfs(view: FsView, tmp_path: Path):
    src = tmp_path / "src"
    (src / "d" / "sub").mkdir(parents=True)
    (src / "d" / "a").write_text("alpha")
    (src / "d" / "sub" / "b").write_text("beta")
    os.chown(src / "d" / "a", 1000, 100)   # before chmod: chown clears setuid
    os.chmod(src / "d" / "a", 0o4750)
    os.symlink("sub/b", src / "d" / "lnk")
    os.link(src / "d" / "a", src / "d" / "hard")

    def build(t):
        t.add(src / "d", arcname="d")
    put_archive(view, "/data", [_tar(build)])
    vol = Path(view.mounts[0].source)
    assert (vol / "d" / "a").read_text() == "alpha"
    st = os.lstat(vol / "d" / "a")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 100, 0o4750)
    assert os.readlink(vol / "d" / "lnk") == "sub/b"
    assert os.stat(vol / "d" / "hard").st_ino == st.st_ino
    # out again: the same tree
    got = {m.name: m for m in _members(get_archive(view, "/data/d"))}
    assert set(got) == {"d", "d/a", "d/sub", "d/sub/b", "d/lnk", "d/hard"}
    # into "/": entries below /data land in the volume, others in the rootfs
    put_archive(view, "/", [_tar(lambda t: (_add_file(t, "data/top", b"v"),
                                            _add_file(t, "etc/newfile", b"r")))])
    assert (vol / "top").read_bytes() == b"v"
    assert not (view.rootfs / "data" / "top").exists()
    assert (view.rootfs / "etc" / "newfile").read_bytes() == b"r"


def test_put_accepts_compressed_bodies_in_chunks(view: FsView):
    body = gzip.compress(_tar(lambda t: _add_file(t, "z.txt", b"zipped")))
    put_archive(view, "/etc", [body[i:i + 7] for i in range(0, len(body), 7)])
    assert (view.rootfs / "etc" / "z.txt").read_bytes() == b"zipped"


def test_put_errors(view: FsView):
    tar = _tar(lambda t: _add_file(t, "f"))
    with pytest.raises(NotFound, match="Could not find the file /nope in container ctr"):
        put_archive(view, "/nope", [tar])
    with pytest.raises(InvalidArgument, match=r"^extraction point is not a directory$"):
        put_archive(view, "/etc/passwd", [tar])
    with pytest.raises(Forbidden, match=r"^mounted volume is marked read-only$"):
        put_archive(view, "/ro", [tar])
    with pytest.raises(Forbidden, match=r"^mounted volume is marked read-only$"):
        put_archive(view, "/", [_tar(lambda t: _add_file(t, "ro/f"))])
    ro_root = FsView(view.rootfs, view.mounts, read_only=True, container="ctr")
    with pytest.raises(Forbidden, match=r"^container rootfs is marked read-only$"):
        put_archive(ro_root, "/etc", [tar])
    put_archive(ro_root, "/data", [tar])   # the volume is still writable


def test_no_overwrite_dir_non_dir(view: FsView):
    (view.rootfs / "etc" / "adir").mkdir()
    with pytest.raises(InvalidArgument, match="cannot overwrite directory"):
        put_archive(view, "/etc", [_tar(lambda t: _add_file(t, "adir"))],
                    no_overwrite_dir_non_dir=True)
    with pytest.raises(InvalidArgument, match="cannot overwrite non-directory"):
        put_archive(view, "/etc", [_tar(lambda t: _add(t, "passwd", tarfile.DIRTYPE))],
                    no_overwrite_dir_non_dir=True)
    assert (view.rootfs / "etc" / "adir").is_dir()
    put_archive(view, "/etc", [_tar(lambda t: _add_file(t, "adir"))])   # allowed without
    assert (view.rootfs / "etc" / "adir").is_file()


def test_copy_uid_gid_uses_the_container_user(view: FsView):
    tar = _tar(lambda t: _add_file(t, "owned", uid=4242, gid=4243))
    put_archive(view, "/etc", [tar], copy_uid_gid=True, user="user")
    st = os.lstat(view.rootfs / "etc" / "owned")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    put_archive(view, "/etc", [tar])
    st = os.lstat(view.rootfs / "etc" / "owned")
    assert (st.st_uid, st.st_gid) == (4242, 4243)


@pytest.mark.parametrize("build,message", [
    (lambda t: _add_file(t, "../../escape"), "is outside of"),
    (lambda t: _add(t, "lnk", tarfile.SYMTYPE, "/../../../tmp"), "invalid symlink"),
    (lambda t: _add(t, "lnk", tarfile.SYMTYPE, "../../.."), "invalid symlink"),
    (lambda t: _add(t, "hl", tarfile.LNKTYPE, "../../etc/shadow"), "invalid hardlink"),
    (lambda t: _add(t, "null", tarfile.CHRTYPE, dev=(1, 3)), "device nodes"),
    (lambda t: _add(t, "sda", tarfile.BLKTYPE, dev=(8, 0)), "device nodes"),
])
def test_hostile_tars_are_refused(view: FsView, tmp_path: Path, build, message):
    before = set(os.listdir(tmp_path))
    with pytest.raises(UnsafeContent, match=message):
        put_archive(view, "/data", [_tar(build)])
    assert set(os.listdir(tmp_path)) == before
    assert not os.path.exists("/escape") and not os.path.exists("/tmp/escape")


def test_symlink_planted_then_written_through_stays_inside(view: FsView, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()

    def build(t):
        _add(t, "lnk", tarfile.SYMTYPE, "/")       # docker allows it: it is dest-relative
        _add_file(t, "lnk/pwned", b"p")
    put_archive(view, "/data", [_tar(build)])
    vol = Path(view.mounts[0].source)
    assert (vol / "pwned").read_bytes() == b"p"
    assert not (Path("/") / "pwned").exists() and not list(outside.iterdir())
    # a symlink in the container naming a host directory is resolved in-root: the
    # host directory is not there, so there is nothing to extract into
    os.symlink(str(outside), view.rootfs / "evil")
    with pytest.raises(NotFound):
        put_archive(view, "/evil", [_tar(lambda t: _add_file(t, "x", b"x"))])
    with pytest.raises(NotFound):
        get_archive(view, "/evil/")
    assert not list(outside.iterdir())


def test_bind_mounted_files_are_read_and_never_replaced(view: FsView, tmp_path: Path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    v = FsView(view.rootfs, [*view.mounts, MountPlan("bind", str(hosts), "/etc/hosts")],
               container="ctr")
    [m] = _members(get_archive(v, "/etc/hosts"))
    assert m.name == "hosts" and m.size == hosts.stat().st_size
    assert "etc/hosts" in {x.name for x in _members(get_archive(v, "/etc"))}
    with pytest.raises(InvalidArgument, match="mounted from the host"):
        put_archive(v, "/etc", [_tar(lambda t: _add_file(t, "hosts", b"evil"))])
    assert hosts.read_text() == "127.0.0.1 localhost\n"

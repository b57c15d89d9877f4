"""RUN, COPY/ADD and errors through the executor, in real containers."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from dockyard.build.errors import DockerfileError, StepFailed
from dockyard.errors import DigestMismatch, InvalidArgument, NotFound, UnsafeContent
from tests.integration.build.conftest import write


def test_failing_run_reports_command_code_and_output(build, tmp_path: Path,
                                                     build_root: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest\nRUN echo fine\n"
        "RUN for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; exit 3\n")})
    with pytest.raises(StepFailed) as info:
        build(ctx)
    e = info.value
    assert e.code == 3
    assert e.command.endswith("exit 3") and e.command.startswith("/bin/sh -c for i")
    assert "line-5" in e.tail and "oops" in e.tail
    assert "Dockerfile:3" in e.message and "returned a non-zero code: 3" in e.message
    # nothing left behind: no active build snapshot, no bundle
    from dockyard.image.service import ImageService
    svc = ImageService(build_root / "data")
    try:
        assert not [s.name for s in svc.snapshotter.walk() if s.name.startswith("build")]
    finally:
        svc.close()
    assert not list((build_root / "exec" / "build").glob("b-*"))


def test_run_environment_user_and_workdir(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest\nARG A=from-arg\nENV B=from-env\nWORKDIR /w\n"
        "USER nobody\nRUN echo \"$A $B $(pwd) $(id -u) $HOME\" > /tmp/out\n"
        'RUN ["/bin/sh", "-c", "echo exec > /tmp/exec"]\n')})
    r = build(ctx)
    assert image_file(r.result.image_id, "/tmp/out") == \
        b"from-arg from-env /w 65534 /nonexistent\n"
    assert image_file(r.result.image_id, "/tmp/exec") == b"exec\n"


def test_run_mounts_tmpfs_bind_secret(build, image_file, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t")
    ctx = write(tmp_path / "ctx", {"data/in.txt": "bound\n", "Dockerfile": (
        "FROM busybox:latest\n"
        "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/x && "
        "grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs-ok > /tmpfs\n"
        "RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/in.txt > /bound\n"
        "RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /secret-len\n"
        "RUN --mount=type=secret,id=token,env=TOKEN echo ${#TOKEN} > /secret-env\n")})
    r = build(ctx, secrets={"token": str(secret)})
    img = r.result.image_id
    assert image_file(img, "/tmpfs") == b"tmpfs-ok\n"
    assert image_file(img, "/scratch") is None and image_file(img, "/mnt/data") is None
    assert image_file(img, "/bound") == b"bound\n"
    assert image_file(img, "/secret-len").strip() == b"6"
    assert image_file(img, "/secret-env").strip() == b"6"
    assert image_file(img, "/run/secrets/token") is None
    # a changed bind source is a new key; a missing required secret is an error
    (ctx / "data" / "in.txt").write_text("changed\n")
    assert image_file(build(ctx, secrets={"token": str(secret)}).result.image_id,
                      "/bound") == b"changed\n"
    write(ctx, {"Dockerfile": "FROM busybox:latest\n"
                "RUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n"})
    with pytest.raises(NotFound, match="secret nope"):
        build(ctx)


def test_run_network_none_has_only_loopback(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest\nRUN --network=none ls /sys/class/net > /nets\n")})
    r = build(ctx)
    assert image_file(r.result.image_id, "/nets") == b"lo\n"


def test_add_url_with_checksum(build, image_file, tmp_path: Path) -> None:
    payload = b"downloaded content\n"
    digest = hashlib.sha256(payload).hexdigest()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/data.txt"
        ctx = write(tmp_path / "ctx", {"Dockerfile": (
            f"FROM busybox:latest\nADD --checksum=sha256:{digest} {url} /dl/\n"
            f"ADD {url} /renamed.txt\nRUN stat -c '%a %u' /dl/data.txt > /mode\n")})
        r = build(ctx)
        assert image_file(r.result.image_id, "/dl/data.txt") == payload
        assert image_file(r.result.image_id, "/renamed.txt") == payload
        assert image_file(r.result.image_id, "/mode") == b"600 0\n"
        write(ctx, {"Dockerfile": f"FROM busybox:latest\nADD --checksum=sha256:{'0' * 64} "
                    f"{url} /dl/\n"})
        with pytest.raises(DigestMismatch, match="Dockerfile:2"):
            build(ctx)
    finally:
        server.shutdown()
        server.server_close()


def test_add_local_tar_extracts(build, image_file, tmp_path: Path) -> None:
    import io
    import tarfile

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "a.tar.gz", "w:gz") as tar:
        data = b"in the tar\n"
        info = tarfile.TarInfo("pkg/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    write(ctx, {"Dockerfile": "FROM busybox:latest\nADD a.tar.gz /opt/\nCOPY a.tar.gz /raw/\n"})
    r = build(ctx)
    assert image_file(r.result.image_id, "/opt/pkg/file.txt") == b"in the tar\n"
    assert image_file(r.result.image_id, "/raw/a.tar.gz") is not None


def test_parallel_independent_stages(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest AS a\nRUN sleep 2; echo a > /a\n"
        "FROM busybox:latest AS b\nRUN sleep 2; echo b > /b\n"
        "FROM busybox:latest AS unused\nRUN exit 1\n"
        "FROM busybox:latest\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n")})
    import time
    t0 = time.monotonic()
    r = build(ctx, no_cache=True)
    elapsed = time.monotonic() - t0
    assert image_file(r.result.image_id, "/a") == b"a\n"
    assert image_file(r.result.image_id, "/b") == b"b\n"
    assert r.result.runs == 2          # the unused stage never ran
    assert elapsed < 3.7, f"stages a and b did not overlap ({elapsed:.1f}s)"


@pytest.mark.parametrize(("dockerfile", "kind", "needle"), [
    ("FROM busybox:latest\nCOPY ../outside /x\n", UnsafeContent,
     "Dockerfile:2: COPY ../outside /x: forbidden path outside the build context"),
    ("FROM busybox:latest\nCOPY missing.txt /x\n", NotFound, "Dockerfile:2"),
    ("FROM busybox:latest\nFORM busybox\n", DockerfileError,
     "Dockerfile:2: unknown instruction: FORM"),
    ("FROM busybox:latest AS a\nCOPY --from=b /x /x\nFROM busybox:latest AS b\n"
     "COPY --from=a /y /y\n", DockerfileError, "circular dependency"),
    ("FROM $NOPE\n", DockerfileError, "Dockerfile:1: FROM $NOPE: build arg NOPE is not set"),
    ('FROM busybox:latest\nCMD ["unterminated\nRUN echo\n', None, None),
    ("FROM busybox:latest\nCOPY --from=nosuchstage /x /y\n", NotFound, "nosuchstage"),
])
def test_bad_input_is_located(build, tmp_path: Path, dockerfile: str, kind, needle) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile})
    if kind is None:   # invalid JSON is shell form for docker: builds fine
        build(ctx)
        return
    with pytest.raises(kind) as info:
        build(ctx)
    assert needle in str(info.value), str(info.value)


def test_unknown_target_is_an_error(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:latest AS base\n"})
    with pytest.raises(InvalidArgument, match="target stage 'nope' could not be found"):
        build(ctx, target="nope")


def test_heredocs_and_copy_exclude(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"src/keep.txt": "k\n", "src/drop.tmp": "d\n",
                                   "Dockerfile": (
        "FROM busybox:latest\n"
        "COPY <<EOF /etc/motd\nhello $HOSTNAME-free\nEOF\n"
        "RUN <<EOF\necho from-heredoc > /ran\necho second-line >> /ran\nEOF\n"
        "COPY --exclude=*.tmp src/ /dst/\n")})
    r = build(ctx)
    img = r.result.image_id
    assert image_file(img, "/etc/motd") == b"hello -free\n"
    assert image_file(img, "/ran") == b"from-heredoc\nsecond-line\n"
    assert image_file(img, "/dst/keep.txt") == b"k\n"
    assert image_file(img, "/dst/drop.tmp") is None


def test_api_dockerfile_cannot_leave_the_context(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:latest\n"})
    (tmp_path / "outside.df").write_text("FROM busybox:latest\n")
    with pytest.raises(InvalidArgument, match="must be within the build context"):
        build(ctx, dockerfile="../outside.df")
    # an absolute path names a file in the context, as docker's daemon reads it
    with pytest.raises(NotFound, match="Cannot locate specified Dockerfile"):
        build(ctx, dockerfile=str(tmp_path / "outside.df"))


def test_run_bind_mount_from_a_stage(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest AS tools\nRUN echo tool-data > /data.txt\n"
        "FROM busybox:latest\n"
        "RUN --mount=type=bind,from=tools,source=/data.txt,target=/mnt/d.txt "
        "cat /mnt/d.txt > /copied\n")})
    r = build(ctx)
    assert image_file(r.result.image_id, "/copied") == b"tool-data\n"
    assert image_file(r.result.image_id, "/mnt/d.txt") is None
    # a change in the stage the mount reads invalidates the RUN that reads it
    write(ctx, {"Dockerfile": (ctx / "Dockerfile").read_text().replace("tool-data",
                                                                        "tool-data-2")})
    again = build(ctx)
    assert image_file(again.result.image_id, "/copied") == b"tool-data-2\n"


def host_platform_() -> str:
    from dockyard.build.stages import host_platform

    return host_platform()


def test_foreign_platform_is_refused(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:latest\n"})
    with pytest.raises(InvalidArgument, match="cannot be built here"):
        build(ctx, platform="linux/s390x" if "s390x" not in host_platform_() else "linux/arm64")
    from dockyard.build.stages import host_platform

    build(ctx, platform=host_platform())


def test_dockerfile_must_be_text(build, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_bytes(b"\xff\xfeFROM busybox\n")
    with pytest.raises(InvalidArgument, match="not UTF-8 text"):
        build(ctx)
    (ctx / "Dockerfile").write_bytes(b"\xef\xbb\xbfFROM busybox:latest\nENV BOM=ok\n")
    build(ctx)


def test_run_gets_writable_etc_files_that_leave_no_trace(build, image_file, image_config,
                                                         tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest\n"
        "RUN echo '10.9.8.7 extra-host' >> /etc/hosts && grep -q extra-host /etc/hosts "
        "&& grep -q localhost /etc/hosts && test -f /etc/resolv.conf && "
        "cat /etc/hostname > /tmp/hn\n"
        "RUN true\n")})
    r = build(ctx, no_cache=True)
    img = r.result.image_id
    assert image_file(img, "/etc/resolv.conf") is None
    hosts = image_file(img, "/etc/hosts")
    assert hosts is None or b"extra-host" not in hosts
    assert image_file(img, "/tmp/hn")
    # the mount points (and /etc's copy-up) are not changes: RUN true has no layer
    history = image_config(img)["history"]
    assert history[-1]["created_by"].endswith("true")
    assert history[-1].get("empty_layer") is True

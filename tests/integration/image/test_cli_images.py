"""The image commands end to end through ``dockyard`` (in-process main())."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dockyard.cli import main
from tests.conftest import require_root
from tests.unit.image.archive_helpers import layer_tar


@pytest.fixture
def dy(tmp_path, capsys):
    require_root()
    root = str(tmp_path / "root")

    def run(*args: str, status: int = 0) -> str:
        rc = main.main(["--data-root", root, *args])
        out, err = capsys.readouterr()
        assert rc == status, f"dockyard {args}: rc {rc}\n{out}\n{err}"
        return out if status == 0 else err

    run("image", "bootstrap", "busybox")
    return run


def _rootfs_tar(tmp_path, files: dict[str, bytes]) -> str:
    p = tmp_path / "rootfs.tar"
    p.write_bytes(layer_tar(files))
    return str(p)


def test_images_listing_quiet_digests_format(dy):
    out = dy("images")
    assert out.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED",
                                           "SIZE"]
    assert out.splitlines()[1].split()[:2] == ["busybox", "latest"]
    image_id = dy("images", "-q").strip()
    assert len(image_id) == 12
    assert dy("images", "--no-trunc", "-q").strip().startswith("sha256:" + image_id)
    assert "DIGEST" in dy("images", "--digests")
    row = json.loads(dy("images", "--format", "{{json .}}"))
    assert row["Repository"] == "busybox" and row["Tag"] == "latest" and row["ID"] == image_id


def test_tag_rmi_semantics(dy):
    dy("tag", "busybox", "me/app:1")
    dy("tag", "busybox", "other/x")
    image_id = dy("images", "-q").strip().splitlines()[0]
    # By id with names in several repositories: must be forced.
    err = dy("rmi", image_id, status=1)
    assert "must be forced" in err
    # By name with other names left: only untag.
    assert dy("rmi", "me/app:1").strip() == "Untagged: me/app:1"
    assert dy("images", "--format", "{{.Repository}}:{{.Tag}}").split() == \
        ["busybox:latest", "other/x:latest"]
    out = dy("rmi", "-f", image_id)
    assert "Untagged: busybox:latest" in out and "Untagged: other/x:latest" in out
    assert f"Deleted: sha256:{image_id}" in out
    assert dy("images", "-q").strip() == ""
    assert "No such image" in dy("rmi", "busybox", status=1)


def test_import_with_changes_and_filters(dy, tmp_path):
    tar = _rootfs_tar(tmp_path, {"hello": b"hi"})
    new_id = dy("import", "-c", 'CMD ["/hello"]', "-c", "ENV A=1 B=2", "-c",
                "LABEL team=img stage=test", "-c", "EXPOSE 80", "-c", "WORKDIR /w",
                "-m", "my import", tar, "imp:1").strip()
    doc = json.loads(dy("image", "inspect", "imp:1"))[0]
    assert doc["Id"] == new_id
    assert doc["Config"]["Cmd"] == ["/hello"]
    assert doc["Config"]["Env"] == ["A=1", "B=2"]
    assert doc["Config"]["Labels"] == {"team": "img", "stage": "test"}
    assert doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert doc["Config"]["WorkingDir"] == "/w"
    assert doc["Comment"] == "my import"
    assert doc["RepoTags"] == ["imp:1"]
    assert len(doc["RootFS"]["Layers"]) == 1
    fmt = "{{.Repository}}"
    assert dy("images", "--filter", "label=team=img", "--format", fmt).split() == ["imp"]
    assert dy("images", "--filter", "label=team", "--format", fmt).split() == ["imp"]
    assert dy("images", "--filter", "label=team=x", "--format", fmt).split() == []
    assert dy("images", "--filter", "reference=busy*", "--format", fmt).split() == ["busybox"]
    assert dy("images", "busybox", "--format", fmt).split() == ["busybox"]
    assert dy("images", "--filter", "since=busybox", "--format", fmt).split() == ["imp"]
    assert dy("images", "--filter", "before=imp:1", "--format", fmt).split() == ["busybox"]
    assert "invalid filter" in dy("images", "--filter", "color=red", status=1)
    # Re-import to the same tag: the old image becomes dangling.
    dy("import", "-c", "CMD sh", _rootfs_tar(tmp_path, {"x": b"2"}), "imp:1")
    dangling = dy("images", "--filter", "dangling=true", "--format", "{{.ID}}").split()
    assert dangling == [new_id[7:19]]
    out = dy("image", "prune", "-f")
    assert f"deleted: {new_id}" in out
    assert dy("images", "--filter", "dangling=true", "-q").strip() == ""


def test_import_refuses_non_tar_and_bad_change(dy, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 10 + b"definitely not a tar" * 50)
    dy("import", str(junk), "junk:1", status=1)
    assert "not a valid change command" in dy("import", "-c", "RUN echo", str(junk),
                                               status=1)
    assert "junk" not in dy("images")
    assert "no damage found" in dy("system", "check")


def test_import_from_stdin(dy, tmp_path, monkeypatch):
    data = layer_tar({"f": b"1"})

    class _Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr("sys.stdin", _Stdin)
    dy("import", "-", "fromstdin:1")
    assert "fromstdin" in dy("images")


def test_history_inspect_check_save_load(dy, tmp_path):
    hist = dy("history", "busybox").splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"]
    assert len(hist) == 2 and "bootstrap" in hist[1]
    assert dy("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox").strip() \
        == "linux/amd64"
    # (`system df` asks the daemon now: tests/integration/cli covers it)
    assert "no damage found" in dy("system", "check")
    out = tmp_path / "bb.tar"
    dy("save", "-o", str(out), "busybox")
    with tarfile.open(out) as t:
        assert {"manifest.json", "index.json", "oci-layout"} <= set(t.getnames())
    dy("rmi", "busybox")
    assert dy("load", "-i", str(out)).strip() == "Loaded image: busybox:latest"
    assert "Loaded image: busybox:latest" in dy("load", "-i", str(out))


def test_import_from_url(dy, tmp_path):
    import functools
    import http.server
    import threading

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "rootfs.tar").write_bytes(layer_tar({"from-url": b"1"}))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path / "www"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        dy("import", f"{url}/rootfs.tar", "fromurl:1")
        assert "fromurl" in dy("images")
        doc = json.loads(dy("image", "inspect", "fromurl:1"))[0]
        assert doc["Comment"] == ""
        hist = dy("history", "--no-trunc", "--format", "{{.Comment}}", "fromurl:1")
        assert hist.strip() == f"Imported from {url}/rootfs.tar"
        assert "Error" in dy("import", f"{url}/missing.tar", "x:1", status=1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_rmi_by_name_with_force_still_only_untags_that_name(dy):
    dy("tag", "busybox", "me/app:1")
    assert dy("rmi", "-f", "me/app:1").strip() == "Untagged: me/app:1"
    assert dy("images", "--format", "{{.Repository}}").split() == ["busybox"]

"""The build cache's keys and storage (no kernel objects)."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.build.cache import BuildCache, step_key
from dockyard.build.config import HealthConfig, ImageConfigState
from dockyard.build.state import Layer, State


def test_step_key_is_stable_and_sensitive() -> None:
    a = step_key("parent", {"kind": "Run", "x": 1}, ["A=1"])
    assert a == step_key("parent", {"x": 1, "kind": "Run"}, ["A=1"])
    assert a != step_key("parent2", {"kind": "Run", "x": 1}, ["A=1"])
    assert a != step_key("parent", {"kind": "Run", "x": 1}, ["A=2"])
    assert len(a) == 64


def test_put_get_forget_clear_and_persistence(tmp_path: Path) -> None:
    c = BuildCache(tmp_path)
    c.put("k1", {"v": 1})
    assert c.get("k1") == {"v": 1}
    assert c.get("nope") is None
    c.close()
    c = BuildCache(tmp_path)   # a new process sees it (SQLite file under data root)
    assert c.get("k1") == {"v": 1}
    c.forget("k1")
    assert c.get("k1") is None
    c.put("k2", {})
    assert c.clear() == ["k2"]
    assert c.entries() == []
    c.close()
    assert (tmp_path / "build" / "cache.db").exists()


def test_file_digest_follows_content_not_mtime(tmp_path: Path) -> None:
    c = BuildCache(tmp_path / "root")
    f = tmp_path / "f"
    f.write_text("one")
    d1 = c.file_digest(str(f), os.stat(f))
    os.utime(f, (1, 1))
    assert c.file_digest(str(f), os.stat(f)) == d1          # touched: same content
    st = os.stat(f)
    f.write_text("two")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))        # mtime restored, ctime moved
    assert c.file_digest(str(f), os.stat(f)) != d1
    c.close()


def test_state_round_trips_through_json() -> None:
    cfg = ImageConfigState(env=("A=1",), cmd=("sh",), entrypoint=None, working_dir="/w",
                           user="u", exposed_ports=("80/tcp",), volumes=("/v",),
                           labels=(("a", "b"),), stop_signal="SIGINT",
                           healthcheck=HealthConfig(("CMD", "true"), 1, 2, 3, 4, 5),
                           on_build=("RUN x",), shell=("/bin/sh", "-c"), author="me")
    s = State("key", cfg, (Layer("sha256:" + "a" * 64, "mt", 10, "sha256:" + "b" * 64, 20),),
              ({"created_by": "x", "empty_layer": True},), "sha256:" + "c" * 64,
              ("linux", "amd64", ""))
    back = State.from_json(s.to_json())
    assert back == s

"""VolumeService: the local driver's store, docker's shapes and messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dockyard.engine.volumes import VolumeService, dir_size
from dockyard.errors import Conflict, InvalidArgument, NotFound


@pytest.fixture
def vols(tmp_path: Path) -> VolumeService:
    return VolumeService(tmp_path / "volumes")


def test_create_named_volume_lays_out_data_and_opts(vols: VolumeService):
    doc = vols.create({"Name": "myvol", "Labels": {"a": "b"}})
    assert doc["Name"] == "myvol"
    assert doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"a": "b"} and doc["Options"] is None
    assert doc["Mountpoint"] == str(vols.root / "myvol" / "_data")
    assert (vols.root / "myvol" / "_data").is_dir()
    meta = json.loads((vols.root / "myvol" / "opts.json").read_text())
    assert meta["Name"] == "myvol" and meta["Anonymous"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["CreatedAt"])
    assert vols.inspect("myvol") == doc


def test_create_without_name_is_anonymous_64_hex(vols: VolumeService):
    doc = vols.create({})
    assert re.fullmatch(r"[0-9a-f]{64}", doc["Name"])
    assert doc["Labels"] is None and doc["Options"] is None
    assert vols.is_anonymous(doc["Name"])


def test_create_is_idempotent_and_keeps_the_first_labels(vols: VolumeService):
    first = vols.create({"Name": "v1", "Labels": {}})
    again = vols.create({"Name": "v1", "Labels": {"x": "y"}})
    assert again == first


@pytest.mark.parametrize("body,message", [
    ({"Name": "x"}, "create x: volume name is too short, names should be at least two "
                    "alphanumeric characters"),
    ({"Name": "x/y"}, 'create x/y: "x/y" includes invalid characters for a local volume '
                      'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended '
                      "to pass a host directory, use absolute path"),
    ({"Name": "ab", "DriverOpts": {"o": "x"}}, 'create ab: missing required option: "device"'),
    ({"Name": "ab", "DriverOpts": {"type": "tmpfs"}},
     'create ab: missing required option: "device"'),
    ({"Name": "ab", "DriverOpts": {"device": "tmpfs"}},
     'create ab: missing required option: "type"'),
    ({"Name": "ab", "DriverOpts": {"foo": "x"}}, 'create ab: invalid option: "foo"'),
])
def test_create_refuses_bad_input_with_dockers_words(vols, body, message):
    with pytest.raises(InvalidArgument) as e:
        vols.create(body)
    assert e.value.message == message
    assert vols.list()["Volumes"] == []


def test_create_with_an_unknown_driver_is_not_found(vols: VolumeService):
    with pytest.raises(NotFound, match=r'plugin "nfsx" not found'):
        vols.create({"Name": "ab", "Driver": "nfsx"})


def test_inspect_and_remove_missing_volume(vols: VolumeService):
    with pytest.raises(NotFound, match=r"^get nosuch: no such volume$"):
        vols.inspect("nosuch")
    with pytest.raises(NotFound, match=r"^get nosuch: no such volume$"):
        vols.remove("nosuch")
    vols.remove("nosuch", force=True)   # force hides not-found, as dockerd does


def test_remove_refuses_a_volume_in_use_even_with_force(vols: VolumeService):
    vols.create({"Name": "busy"})
    for force in (False, True):
        with pytest.raises(Conflict) as e:
            vols.remove("busy", force=force, in_use=lambda n: ["abc", "def"])
        assert e.value.message == "remove busy: volume is in use - [abc, def]"
    vols.remove("busy", in_use=lambda n: [])
    assert not (vols.root / "busy").exists()


def test_holders_count_as_use_without_a_callback(vols: VolumeService):
    vols.create({"Name": "held"})
    vols.acquire("held")
    with pytest.raises(Conflict, match="volume is in use"):
        vols.remove("held")
    assert [v["Name"] for v in vols.list({"dangling": ["false"]})["Volumes"]] == ["held"]
    vols.release("held")
    assert [v["Name"] for v in vols.list({"dangling": ["true"]})["Volumes"]] == ["held"]
    vols.remove("held")


def test_list_filters(vols: VolumeService):
    vols.create({"Name": "alpha", "Labels": {"env": "prod", "tier": "db"}})
    vols.create({"Name": "beta", "Labels": {"env": "dev"}})
    vols.create({"Name": "gamma"})
    used = {"beta": ["c1"]}

    def names(filters):
        return [v["Name"] for v in vols.list(filters, in_use=lambda n: used.get(n, []))
                ["Volumes"]]

    assert names({}) == ["alpha", "beta", "gamma"]
    assert names({"label": ["env"]}) == ["alpha", "beta"]
    assert names({"label": ["env=prod"]}) == ["alpha"]
    assert names({"label": ["env=prod", "tier=db"]}) == ["alpha"]
    assert names({"name": ["al"]}) == ["alpha"]
    assert names({"name": ["^b"]}) == ["beta"]
    assert names({"driver": ["local"]}) == ["alpha", "beta", "gamma"]
    assert names({"driver": ["other"]}) == []
    assert names({"dangling": ["true"]}) == ["alpha", "gamma"]
    assert names({"dangling": ["0"]}) == ["beta"]
    assert vols.list()["Warnings"] is None
    with pytest.raises(InvalidArgument, match=r"^Invalid filter 'foo'$"):
        vols.list({"foo": ["x"]})
    with pytest.raises(InvalidArgument, match=r"^Invalid filter 'dangling=\[x\]'$"):
        vols.list({"dangling": ["x"]})


def test_prune_removes_unused_named_and_anonymous_and_honours_labels(vols: VolumeService):
    vols.create({"Name": "keep", "Labels": {"keep": "1"}})
    vols.create({"Name": "used"})
    anon = vols.create({})["Name"]
    vols.create({"Name": "big"})
    (vols.data_dir("big") / "f").write_bytes(b"x" * 5000)
    in_use = {"used": ["c1"]}
    out = vols.prune({"label!": ["keep"]}, in_use=lambda n: in_use.get(n, []))
    assert sorted(out["VolumesDeleted"]) == sorted(["big", anon])
    assert out["SpaceReclaimed"] == 5000
    assert [v["Name"] for v in vols.list()["Volumes"]] == ["keep", "used"]
    assert vols.prune({"label": ["nomatch"]})["VolumesDeleted"] is None
    with pytest.raises(InvalidArgument):
        vols.prune({"bogus": ["1"]})


def test_disk_usage_reports_size_and_refcount(vols: VolumeService):
    vols.create({"Name": "dv"})
    (vols.data_dir("dv") / "a").write_bytes(b"y" * 100)
    (vols.data_dir("dv") / "sub").mkdir()
    (vols.data_dir("dv") / "sub" / "b").write_bytes(b"z" * 23)
    (vols.data_dir("dv") / "hard").hardlink_to(vols.data_dir("dv") / "a")
    [doc] = vols.disk_usage(in_use=lambda n: ["c1", "c2"])
    assert doc["UsageData"] == {"Size": 123, "RefCount": 2}
    assert vols.usage("dv") == 123 == dir_size(vols.data_dir("dv"))


def test_volume_names_never_leave_the_root(vols: VolumeService):
    for bad in ("../x", "..", "/etc", "a/../../b"):
        with pytest.raises((NotFound, InvalidArgument)):
            vols.inspect(bad)
        with pytest.raises((NotFound, InvalidArgument)):
            vols.remove(bad)


def test_force_drops_holds_no_container_accounts_for(vols: VolumeService):
    vols.create({"Name": "stale"})
    vols.acquire("stale")      # a create that crashed before its record was stored
    with pytest.raises(Conflict, match="being created"):
        vols.remove("stale", in_use=lambda n: [])
    vols.remove("stale", force=True, in_use=lambda n: [])
    assert not vols.exists("stale")

"""Mount requests and plans: docker's -v grammar, --mount checks, plans and their shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.engine.mounts import (
    MountPlan,
    inspect_mounts,
    plan_mounts,
    release_mounts,
)
from dockyard.engine.mountspec import (
    merge_tmpfs_options,
    parse_bind,
    parse_mount,
    tmpfs_size_option,
    valid_mode,
)
from dockyard.engine.volumes import VolumeService
from dockyard.errors import InvalidArgument, NotFound


@pytest.fixture
def vols(tmp_path: Path) -> VolumeService:
    return VolumeService(tmp_path / "volumes")


@pytest.mark.parametrize("raw,kind,source,target,ro,mode,prop,nocopy", [
    ("/tmp:/x", "bind", "/tmp", "/x", False, "", "rprivate", False),
    ("/tmp/:/x/", "bind", "/tmp", "/x", False, "", "rprivate", False),
    ("/h:/x:ro", "bind", "/h", "/x", True, "ro", "rprivate", False),
    ("/h:/x:ro,rslave", "bind", "/h", "/x", True, "ro,rslave", "rslave", False),
    ("/h:/x:Z,shared", "bind", "/h", "/x", False, "Z,shared", "shared", False),
    ("/h:/x:rw,cached", "bind", "/h", "/x", False, "rw,cached", "rprivate", False),
    ("myvol:/data", "volume", "myvol", "/data", False, "", "", False),
    ("myvol:/data:ro,nocopy", "volume", "myvol", "/data", True, "ro,nocopy", "", True),
    ("/anon", "volume", "", "/anon", False, "", "", False),
])
def test_bind_spec_table(raw, kind, source, target, ro, mode, prop, nocopy):
    req = parse_bind(raw)
    assert (req.type, req.source, req.target, req.read_only, req.mode, req.propagation,
            req.nocopy) == (kind, source, target, ro, mode, prop, nocopy)


@pytest.mark.parametrize("raw,message", [
    ("/tmp:/x:bogus", "invalid mode: bogus"),
    ("/tmp:/x:ro,rw", "invalid mode: ro,rw"),
    ("/tmp:/x:z,Z", "invalid mode: z,Z"),
    ("/tmp:/x:a:b", "invalid volume specification: '/tmp:/x:a:b'"),
    ("/x:rw", "invalid volume specification: '/x:rw'"),
    (":/x", "invalid volume specification: ':/x'"),
    ("/tmp:rel", "invalid volume specification: '/tmp:rel': invalid mount config for type "
                 "\"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ("/tmp:/", "invalid volume specification: '/tmp:/': invalid mount config for type "
               "\"bind\": invalid specification: destination can't be '/'"),
    ("rel", "invalid volume specification: 'rel': invalid mount config for type "
            "\"volume\": invalid mount path: 'rel' mount path must be absolute"),
])
def test_bind_spec_errors(raw, message):
    with pytest.raises(InvalidArgument) as e:
        parse_bind(raw)
    assert e.value.message == message


def test_valid_mode_groups():
    assert valid_mode("") and valid_mode("ro,z,rslave,nocopy")
    assert not valid_mode("ro,ro") and not valid_mode("shared,slave") and not valid_mode("x")


@pytest.mark.parametrize("m,message", [
    ({"Type": "bind", "Source": "/nonexistent-dockyard-src", "Target": "/x"},
     'invalid mount config for type "bind": bind source path does not exist: '
     '/nonexistent-dockyard-src'),
    ({"Type": "bind", "Source": "/tmp"},
     'invalid mount config for type "bind": field Target must not be empty'),
    ({"Type": "bind", "Target": "/x"},
     'invalid mount config for type "bind": field Source must not be empty'),
    ({"Type": "bind", "Source": "rel", "Target": "/x"},
     "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be "
     "absolute"),
    ({"Type": "bind", "Source": "/tmp", "Target": "/x", "VolumeOptions": {}},
     'invalid mount config for type "bind": field VolumeOptions must not be specified'),
    ({"Type": "bind", "Source": "/tmp", "Target": "/x",
      "BindOptions": {"Propagation": "bogus"}},
     'invalid mount config for type "bind": invalid propagation mode: bogus'),
    ({"Type": "tmpfs", "Source": "/tmp", "Target": "/x"},
     'invalid mount config for type "tmpfs": field Source must not be specified'),
    ({"Type": "volume", "Source": "ab", "Target": "/x", "BindOptions": {}},
     'invalid mount config for type "volume": field BindOptions must not be specified'),
    ({"Type": "volume", "Target": "/x", "ReadOnly": True},
     'invalid mount config for type "volume": must not set ReadOnly mode when using '
     'anonymous volumes'),
    ({"Type": "foo", "Target": "/x"}, 'invalid mount config for type "foo": mount type unknown'),
])
def test_mount_api_errors(m, message):
    with pytest.raises(InvalidArgument) as e:
        parse_mount(m)
    assert e.value.message == message


def test_tmpfs_options_render_like_dockerd():
    req = parse_mount({"Type": "tmpfs", "Target": "/t",
                       "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1700}})
    assert req.tmpfs_options == ("size=1m", "mode=1700")
    assert tmpfs_size_option(1000000) == "size=1000000"
    assert tmpfs_size_option(3 << 30) == "size=3g"
    assert tmpfs_size_option(8192) == "size=8k"
    assert merge_tmpfs_options(("exec", "mode=1777", "size=1m")) == (
        "nosuid", "nodev", "exec", "mode=1777", "size=1m")


def _hc(**kw):
    return {"Binds": kw.get("binds"), "Mounts": kw.get("mounts"), "Tmpfs": kw.get("tmpfs")}


@pytest.mark.parametrize("hc", [
    _hc(binds=["/tmp:/x", "/var:/x"]),
    _hc(binds=["/tmp:/x"], mounts=[{"Type": "bind", "Source": "/var", "Target": "/x"}]),
    _hc(binds=["/tmp:/x"], tmpfs={"/x": ""}),
    _hc(mounts=[{"Type": "tmpfs", "Target": "/x/"}], tmpfs={"/x": "size=1m"}),
])
def test_duplicate_mount_points(vols, hc):
    with pytest.raises(InvalidArgument, match=r"^Duplicate mount point: /x$"):
        plan_mounts({}, hc, None, vols)
    assert vols.list()["Volumes"] == []


def test_plan_creates_named_and_anonymous_volumes_and_skips_covered_image_volumes(
        vols, tmp_path):
    src = tmp_path / "hostdir" / "sub"
    hc = _hc(binds=["named:/data", f"{src}:/h:ro,rslave", "/anonbind"],
             mounts=[{"Type": "volume", "Source": "mv2", "Target": "/m2",
                      "VolumeOptions": {"NoCopy": True, "Labels": {"l": "v"}}},
                     {"Type": "tmpfs", "Target": "/t",
                      "TmpfsOptions": {"SizeBytes": 1000000, "Mode": 0o1700}}],
             tmpfs={"/t2": "size=1m,exec"})
    plans = plan_mounts({"Volumes": {"/cfgvol": {}}}, hc,
                        {"Volumes": {"/data": {}, "/imgvol/": {}, "/t2": {}}}, vols)
    assert src.is_dir()   # Binds creates a missing source, like dockerd
    by_dst = {p.destination: p for p in plans}
    assert sorted(by_dst) == ["/anonbind", "/cfgvol", "/data", "/h", "/imgvol", "/m2", "/t",
                              "/t2"]
    named = by_dst["/data"]
    assert (named.type, named.name, named.mode, named.copy_up, named.anonymous) == (
        "volume", "named", "z", True, False)
    assert named.source == str(vols.data_dir("named"))
    assert by_dst["/m2"].copy_up is False and vols.inspect("mv2")["Labels"] == {"l": "v"}
    assert by_dst["/anonbind"].anonymous and by_dst["/anonbind"].mode == "z"
    assert by_dst["/imgvol"].anonymous and by_dst["/imgvol"].mode == ""
    assert by_dst["/cfgvol"].anonymous
    assert vols.refs("named") == 1
    bind = by_dst["/h"]
    assert bind.to_inspect() == {"Type": "bind", "Source": str(src), "Destination": "/h",
                                 "Mode": "ro,rslave", "RW": False, "Propagation": "rslave"}
    assert bind.to_oci() == {"destination": "/h", "type": "bind", "source": str(src),
                             "options": ["rbind", "ro", "rslave"]}
    assert named.to_inspect() == {
        "Type": "volume", "Name": "named", "Source": named.source, "Destination": "/data",
        "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}
    assert named.to_oci()["options"] == ["rbind", "rw", "rprivate"]
    t = by_dst["/t"]
    assert t.to_oci() == {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                          "options": ["noexec", "nosuid", "nodev", "size=1000000",
                                      "mode=1700"]}
    assert by_dst["/t2"].to_oci()["options"] == ["nosuid", "nodev", "mode=755", "size=1m",
                                                 "exec"]
    shown = [m["Destination"] for m in inspect_mounts(plans)]
    assert "/t2" not in shown and "/t" in shown
    for p in plans:
        assert MountPlan.from_dict(p.to_dict()) == p
    anon = [p.name for p in plans if p.anonymous]
    release_mounts(plans, vols, remove_anonymous=True)
    names = [v["Name"] for v in vols.list()["Volumes"]]
    assert sorted(names) == ["mv2", "named"]
    assert not set(anon) & set(names)
    assert vols.refs("named") == 0


def test_release_without_v_keeps_anonymous_volumes(vols):
    plans = plan_mounts({}, _hc(binds=["/anon"]), None, vols)
    release_mounts(plans, vols, remove_anonymous=False)
    assert [v["Name"] for v in vols.list()["Volumes"]] == [plans[0].name]


def test_a_failing_plan_leaves_nothing_behind(vols, tmp_path):
    hc = _hc(binds=["first:/a", "/b"],
             mounts=[{"Type": "volume", "Source": "x/y", "Target": "/c"}])
    with pytest.raises(InvalidArgument, match="includes invalid characters"):
        plan_mounts({}, hc, None, vols)
    assert vols.list()["Volumes"] == []
    hc = _hc(mounts=[{"Type": "volume", "Source": "ok1", "Target": "/c",
                      "VolumeOptions": {"DriverConfig": {"Name": "nfsx"}}}])
    with pytest.raises(NotFound, match="nfsx"):
        plan_mounts({}, hc, None, vols)
    assert vols.list()["Volumes"] == []


def test_existing_volume_is_reused_and_not_removed_by_rollback(vols):
    vols.create({"Name": "pre"})
    plans = plan_mounts({}, _hc(binds=["pre:/p"]), None, vols)
    assert plans[0].name == "pre" and not plans[0].anonymous
    release_mounts(plans, vols, remove_anonymous=True)
    assert vols.exists("pre")


def test_volumes_from_shares_the_other_containers_mounts(vols, tmp_path):
    first = plan_mounts({}, _hc(binds=["shared:/data", f"{tmp_path}:/h", "/anon"],
                                tmpfs={"/t": ""}), None, vols)
    others = {"first": first}

    def mounts_of(ref):
        if ref not in others:
            raise NotFound(f"No such container: {ref}")
        return others[ref]

    hc = {"VolumesFrom": ["first:ro"], "Binds": ["/override:/h"]}
    second = plan_mounts({}, hc, {"Volumes": {"/data": {}}}, vols, mounts_of=mounts_of)
    by_dst = {p.destination: p for p in second}
    assert sorted(by_dst) == ["/anon", "/data", "/h"]        # no tmpfs, no image volume
    assert by_dst["/data"].name == "shared" and by_dst["/data"].read_only
    assert by_dst["/h"].source == "/override"                  # Binds win
    assert vols.refs("shared") == 2
    anon = by_dst["/anon"].name
    release_mounts(second, vols, remove_anonymous=True)
    assert vols.exists(anon) and vols.refs("shared") == 1     # still held by "first"
    release_mounts(first, vols, remove_anonymous=True)
    assert not vols.exists(anon)
    with pytest.raises(NotFound, match="No such container: nope"):
        plan_mounts({}, {"VolumesFrom": ["nope"]}, None, vols, mounts_of=mounts_of)
    with pytest.raises(InvalidArgument):
        plan_mounts({}, {"VolumesFrom": ["first:bogus"]}, None, vols, mounts_of=mounts_of)
    with pytest.raises(InvalidArgument, match="VolumesFrom is not available"):
        plan_mounts({}, {"VolumesFrom": ["first"]}, None, vols)


def test_volume_driver_applies_to_binds_volumes(vols):
    with pytest.raises(NotFound, match='plugin "flocker" not found'):
        plan_mounts({}, {"Binds": ["dv:/d"], "VolumeDriver": "flocker"}, None, vols)
    with pytest.raises(NotFound, match='plugin "flocker" not found'):
        plan_mounts({}, {"Mounts": [{"Type": "volume", "Target": "/a", "VolumeOptions": {
            "DriverConfig": {"Name": "flocker"}}}]}, None, vols)
    assert vols.list()["Volumes"] == []
    plans = plan_mounts({}, {"Binds": ["dv:/d"], "VolumeDriver": "local"}, None, vols)
    assert plans[0].driver == "local"
    release_mounts(plans, vols, remove_anonymous=True)

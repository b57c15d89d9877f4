"""config.json validation: every mistake is named by its JSON path."""

from __future__ import annotations

import copy
import json

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime import spec as specmod
from dockyard.runtime.default_spec import default_spec
from tests.support.shared import SPECS

SCHEMA_DIR = SPECS / "oci-runtime"


def _spec(**changes) -> dict:
    s = default_spec()
    s.update(changes)
    return s


def test_default_spec_is_valid():
    specmod.validate(default_spec())
    specmod.validate(default_spec(rootless=True))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s["linux"]["namespaces"].insert(2, {"type": "foo"}),
     'config.json: linux.namespaces[2].type: unknown namespace "foo"'),
    (lambda s: s["linux"]["namespaces"].append({"type": "pid"}),
     'linux.namespaces[6].type: namespace "pid" listed twice'),
    (lambda s: s.pop("ociVersion"), "config.json: ociVersion: missing required field"),
    (lambda s: s.__setitem__("ociVersion", "invalid"), "ociVersion: unsupported version"),
    (lambda s: s.pop("root"), "config.json: missing required field 'root'"),
    (lambda s: s["process"].__setitem__("args", []), "process.args: must name at least"),
    (lambda s: s["process"]["args"].append(3), "process.args[1]: must be a string"),
    (lambda s: s["process"].__setitem__("cwd", "rel"), "process.cwd: must be an absolute"),
    (lambda s: s["process"]["user"].__setitem__("uid", -1), "process.user.uid: must not be"),
    (lambda s: s["process"]["user"].__setitem__("uid", True),
     "process.user.uid: must be an integer"),
    (lambda s: s["process"].__setitem__("consoleSize", {"height": 1}),
     "process.consoleSize.width: missing required field"),
    (lambda s: s["mounts"][3].__setitem__("options", "ro"),
     "mounts[3].options: must be an array of strings"),
    (lambda s: s.__setitem__("hooks", {"poststart": [{"path": "/x", "timeout": 0}]}),
     "hooks.poststart[0].timeout: must be greater than zero"),
    (lambda s: s.__setitem__("hooks", {"later": []}), "hooks.later: unknown hook phase"),
    (lambda s: s["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 1}]),
     "linux.uidMappings"),
    (lambda s: s["linux"]["namespaces"].append({"type": "user"}),
     "linux.uidMappings: a new user namespace needs uid mappings"),
    (lambda s: s["linux"].__setitem__("namespaces", [{"type": "mount"}]),
     "hostname: setting a hostname needs a uts namespace"),
    (lambda s: s["linux"].__setitem__("timeOffsets", {"monotonic": {"secs": 1}}),
     "linux.timeOffsets: time offsets need a new time namespace"),
    (lambda s: s["linux"]["namespaces"][0].__setitem__("path", "relative"),
     "linux.namespaces[0].path: must be an absolute path"),
    (lambda s: s["linux"].__setitem__("devices", [{"path": "/dev/x", "type": "z"}]),
     "linux.devices[0].type: unknown device type"),
    (lambda s: s.__setitem__("annotations", {"a": 1}), "annotations.a: must be a string"),
])
def test_mistakes_name_their_path(mutate, message):
    s = default_spec()
    mutate(s)
    with pytest.raises(specmod.SpecError) as info:
        specmod.validate(s)
    assert message in info.value.message
    assert info.value.message.startswith("config.json: ")


def test_process_is_optional_and_unknown_fields_are_ignored():
    s = _spec(unknownField="x")
    del s["process"]
    specmod.validate(s)


def test_spec_without_mount_namespace_is_accepted():
    s = default_spec()
    s.pop("hostname")
    s["linux"]["namespaces"] = [{"type": "pid"}]
    specmod.validate(s)


def test_load_bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(default_spec()))
    _spec_doc, rootfs = specmod.load_bundle(str(tmp_path))
    assert rootfs == str(tmp_path / "rootfs")
    (tmp_path / "rootfs").rmdir()
    with pytest.raises(NotFound, match="rootfs"):
        specmod.load_bundle(str(tmp_path))
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        specmod.load_bundle(str(tmp_path))
    with pytest.raises(NotFound, match=r"config\.json"):
        specmod.load_bundle(str(tmp_path / "none"))


def test_default_spec_matches_the_official_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    docs = {p.name: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4))
        for name, doc in docs.items())
    validator = jsonschema.Draft4Validator(docs["config-schema.json"], registry=registry)
    for s in (default_spec(), default_spec(rootless=True)):
        errors = sorted(e.message for e in validator.iter_errors(copy.deepcopy(s)))
        assert errors == []
    broken = default_spec()
    broken["process"]["args"] = "sh"
    assert list(validator.iter_errors(broken)), "the schema check cannot fail"

"""docker's config.json: auths, credsStore, credHelpers; login writes it."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from dockyard.errors import InvalidArgument
from dockyard.registry.credentials import HUB_KEY, Credential, CredentialStore


def test_auths_entry_is_read_and_written(tmp_path):
    path = tmp_path / "config.json"
    store = CredentialStore(path)
    assert store.get("reg:5000") is None
    store.store("reg:5000", Credential("bob", "pw:with:colons"))
    doc = json.loads(path.read_text())
    assert base64.b64decode(doc["auths"]["reg:5000"]["auth"]) == b"bob:pw:with:colons"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get("reg:5000") == Credential("bob", "pw:with:colons")
    store.store("docker.io", Credential("hub", "x"))
    assert HUB_KEY in json.loads(path.read_text())["auths"]
    assert store.get("docker.io") == Credential("hub", "x")
    assert store.erase("reg:5000") is True
    assert store.get("reg:5000") is None and store.get("docker.io") is not None


def test_other_keys_are_preserved(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"psFormat": "x", "auths": {}}))
    CredentialStore(path).store("r", Credential("a", "b"))
    assert json.loads(path.read_text())["psFormat"] == "x"


def test_broken_auth_value_is_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r": {"auth": "!!!"}}}))
    with pytest.raises(InvalidArgument, match="base64"):
        CredentialStore(path).get("r")


def _helper(tmp_path, name: str):
    """A docker-credential-<name> that keeps secrets in a JSON file."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    db = tmp_path / f"{name}.db"
    exe = bindir / f"docker-credential-{name}"
    exe.write_text(f"""#!{os.sys.executable}
import json, sys
db = {str(db)!r}
try:
    data = json.load(open(db))
except FileNotFoundError:
    data = {{}}
verb = sys.argv[1]
raw = sys.stdin.read()
if verb == "store":
    d = json.loads(raw); data[d["ServerURL"]] = [d["Username"], d["Secret"]]
    json.dump(data, open(db, "w"))
elif verb == "get":
    if raw.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    u, s = data[raw.strip()]
    print(json.dumps({{"ServerURL": raw.strip(), "Username": u, "Secret": s}}))
elif verb == "erase":
    data.pop(raw.strip(), None); json.dump(data, open(db, "w"))
""")
    exe.chmod(0o755)
    return bindir, db


def test_creds_store_and_cred_helpers(tmp_path, monkeypatch):
    bindir, db = _helper(tmp_path, "fakestore")
    _helper(tmp_path, "special")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "fakestore",
                                "credHelpers": {"special.io": "special"}}))
    store = CredentialStore(path)
    store.store("reg:5000", Credential("u1", "p1"))
    assert '"auth":' not in path.read_text()   # no secret in the file
    assert json.loads(db.read_text())["reg:5000"] == ["u1", "p1"]
    assert store.get("reg:5000") == Credential("u1", "p1")
    assert store.get("other:1") is None
    store.store("special.io", Credential("u2", "p2"))
    assert json.loads((tmp_path / "special.db").read_text())["special.io"] == ["u2", "p2"]
    assert store.get("special.io") == Credential("u2", "p2")
    store.erase("reg:5000")
    assert store.get("reg:5000") is None

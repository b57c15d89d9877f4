"""Registry credentials the way docker keeps them, in ``~/.docker/config.json``.

Lookup order for a registry: ``credHelpers[registry]``, then ``credsStore``
(both run ``docker-credential-<name>`` with ``get``/``store``/``erase`` and JSON
on stdin/stdout), then the base64 ``auth`` in ``auths``. ``dockyard login`` writes
through the same path, so docker and dockyard share logins. Docker Hub's key is
the historical ``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument, NotFound, Unavailable

HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credential:
    username: str
    secret: str

    @property
    def is_token(self) -> bool:
        """Helpers report identity tokens with the user name ``<token>``."""
        return self.username == "<token>"


def config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def server_key(domain: str) -> str:
    return HUB_KEY if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") \
        else domain


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()

    def _load(self) -> dict:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise InvalidArgument(f"{self.path}: not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{self.path}: expected a JSON object")
        return doc

    def _save(self, doc: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config.json.")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent="\t")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    def _helper_for(self, doc: dict, key: str) -> str | None:
        helpers = doc.get("credHelpers") or {}
        if key in helpers:
            return helpers[key]
        return doc.get("credsStore") or None

    def get(self, domain: str) -> Credential | None:
        key = server_key(domain)
        doc = self._load()
        helper = self._helper_for(doc, key)
        if helper:
            return _helper_get(helper, key)
        entry = (doc.get("auths") or {}).get(key)
        if entry is None and key != domain:
            entry = (doc.get("auths") or {}).get(domain)
        if not entry:
            return None
        if entry.get("identitytoken"):
            return Credential("<token>", entry["identitytoken"])
        raw = entry.get("auth")
        if not raw:
            return None
        try:
            user, sep, pw = base64.b64decode(raw, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidArgument(f"{self.path}: auth for {key} is not valid base64") from None
        if not sep:
            raise InvalidArgument(f"{self.path}: auth for {key} is not USER:PASSWORD")
        return Credential(user, pw)

    def store(self, domain: str, cred: Credential) -> None:
        key = server_key(domain)
        doc = self._load()
        helper = self._helper_for(doc, key)
        if helper:
            _helper_run(helper, "store", json.dumps(
                {"ServerURL": key, "Username": cred.username, "Secret": cred.secret}))
            doc.setdefault("auths", {}).setdefault(key, {})
        else:
            token = base64.b64encode(f"{cred.username}:{cred.secret}".encode()).decode()
            doc.setdefault("auths", {})[key] = {"auth": token}
        self._save(doc)

    def erase(self, domain: str) -> bool:
        key = server_key(domain)
        doc = self._load()
        helper = self._helper_for(doc, key)
        found = key in (doc.get("auths") or {})
        if helper:
            try:
                _helper_run(helper, "erase", key)
                found = True
            except NotFound:
                pass
        if key in (doc.get("auths") or {}):
            del doc["auths"][key]
            self._save(doc)
        return found


def _helper_run(helper: str, verb: str, stdin: str) -> str:
    exe = f"docker-credential-{helper}"
    try:
        out = subprocess.run([exe, verb], input=stdin, capture_output=True, text=True,
                             timeout=60)
    except FileNotFoundError:
        raise Unavailable(f"credential helper {exe} not found in PATH") from None
    if out.returncode != 0:
        msg = (out.stdout.strip() or out.stderr.strip())[:300]
        if "credentials not found" in msg.lower():
            raise NotFound(f"{exe}: {msg}")
        raise Unavailable(f"{exe} {verb} failed: {msg}")
    return out.stdout


def _helper_get(helper: str, key: str) -> Credential | None:
    try:
        out = _helper_run(helper, "get", key)
    except NotFound:
        return None
    try:
        doc = json.loads(out)
        return Credential(doc["Username"], doc["Secret"])
    except (ValueError, KeyError, TypeError):
        raise Unavailable(f"docker-credential-{helper} get: unexpected output") from None


__all__ = ["HUB_KEY", "Credential", "CredentialStore", "config_path", "server_key"]

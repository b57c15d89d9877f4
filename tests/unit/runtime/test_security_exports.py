"""The security package's public face is small and changes only on purpose."""

from __future__ import annotations

import subprocess
import sys

import dockyard.runtime.security as security


def test_public_names_are_pinned():
    assert sorted(security.__all__) == ["docker_profile_to_spec", "features",
                                        "finalize_process", "preload", "validate"]
    for name in security.__all__:
        assert callable(getattr(security, name))


def test_import_stays_light():
    """No dataclasses/typing/libseccomp on the runtime's start-up path (speed)."""
    code = ("import sys, dockyard.runtime.security\n"
            "heavy = [m for m in ('dataclasses', 'typing', 'inspect', 'pyseccomp', "
            "'subprocess', 'jsonschema') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_features_match_the_features_schema_shapes():
    feats = security.features()
    assert feats["capabilities"][0] == "CAP_CHOWN" and len(feats["capabilities"]) == 41
    sc = feats["seccomp"]
    assert sc["enabled"] is True
    assert "SCMP_ACT_ERRNO" in sc["actions"] and "SCMP_ACT_NOTIFY" not in sc["actions"]
    assert "SCMP_CMP_MASKED_EQ" in sc["operators"]
    assert "SCMP_ARCH_X86_64" in sc["archs"]
    assert set(sc["supportedFlags"]) < set(sc["knownFlags"])
    assert isinstance(feats["apparmor"]["enabled"], bool)
    assert isinstance(feats["selinux"]["enabled"], bool)


def test_validate_imports_only_what_the_spec_uses():
    code = ("import sys\nfrom dockyard.runtime import security\n"
            "security.validate({'process': {'args': ['sh'], 'user': {'uid': 0, 'gid': 0}}})\n"
            "mods = ('resource', 'dockyard.runtime.security.seccomp', "
            "'dockyard.runtime.security._bpf', 'pyseccomp')\n"
            "print(','.join(m for m in mods if m in sys.modules))\n"
            "security.validate({'process': {'rlimits': [{'type': 'RLIMIT_CORE', 'soft': 0, "
            "'hard': 0}]}, 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW'}}})\n"
            "print(','.join(m for m in mods if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == ""
    assert out[1] == ("resource,dockyard.runtime.security.seccomp,"
                      "dockyard.runtime.security._bpf,pyseccomp")

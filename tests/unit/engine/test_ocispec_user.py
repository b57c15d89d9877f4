"""process.user: Docker's User string resolved in the container's own passwd/group."""

from __future__ import annotations

import os

import pytest

from dockyard.engine.spec_user import resolve_user
from dockyard.errors import InvalidArgument
from tests.unit.engine.spec_helpers import make_rootfs


@pytest.fixture
def rootfs(tmp_path):
    return str(make_rootfs(tmp_path))


@pytest.mark.parametrize(("user", "uid", "gid", "gids"), [
    ("", 0, 0, [0]),
    ("root", 0, 0, [0]),
    ("user", 1000, 1000, [1000, 10, 100]),       # supplementary groups listing "user"
    ("1000", 1000, 1000, [1000, 10, 100]),       # a uid with a passwd entry is that user
    ("app", 1001, 1001, [1001, 10]),
    ("4242", 4242, 0, [0]),                      # no entry: uid only
    ("user:daemon", 1000, 1, [1]),               # explicit group: no supplementary ones
    ("user:4000", 1000, 4000, [4000]),
    ("0:10", 0, 10, [10]),
    ("5000:5000", 5000, 5000, [5000]),
])
def test_user_forms(rootfs, user, uid, gid, gids):
    r = resolve_user(rootfs, user)
    assert (r.uid, r.gid, list(r.additional_gids)) == (uid, gid, gids)
    assert r.to_oci() == {"uid": uid, "gid": gid, "additionalGids": gids}


def test_group_add_by_name_and_number(rootfs):
    r = resolve_user(rootfs, "user", ["daemon", "4242", "users", "1"])
    assert list(r.additional_gids) == [1000, 10, 100, 1, 4242]


def test_unknown_names_are_errors(rootfs):
    with pytest.raises(InvalidArgument, match="unable to find user nobody2: no matching "
                                              "entries in passwd file"):
        resolve_user(rootfs, "nobody2")
    with pytest.raises(InvalidArgument, match="unable to find group nogroup2: no matching "
                                              "entries in group file"):
        resolve_user(rootfs, "user:nogroup2")
    with pytest.raises(InvalidArgument, match="Unable to find group staff"):
        resolve_user(rootfs, "", ["staff"])


def test_out_of_range_ids(rootfs):
    with pytest.raises(InvalidArgument, match="uids and gids must be in range"):
        resolve_user(rootfs, "4294967296")
    with pytest.raises(InvalidArgument, match="uids and gids must be in range"):
        resolve_user(rootfs, "", ["-5"])


def test_no_passwd_file(tmp_path):
    (tmp_path / "empty").mkdir()
    assert resolve_user(str(tmp_path / "empty"), "").uid == 0
    assert resolve_user(str(tmp_path / "empty"), "123:456").gid == 456
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        resolve_user(str(tmp_path / "empty"), "app")


def test_comments_blank_lines_and_short_lines(tmp_path):
    root = make_rootfs(tmp_path, passwd="# c\n\nweird\nsvc:x:77:88\n",
                       group="grp:x:88:svc\nbad\n")
    r = resolve_user(str(root), "svc")
    assert (r.uid, r.gid, list(r.additional_gids)) == (77, 88, [88])


def test_symlinked_passwd_resolves_inside_the_rootfs(tmp_path):
    """/etc/passwd -> /etc/../../../../etc/passwd must not read the host's file."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "lib" / "passwd").write_text("inside:x:4321:4321::/:/bin/sh\n")
    os.symlink("../../../../../../../../lib/passwd", root / "etc" / "passwd")
    assert resolve_user(str(root), "inside").uid == 4321
    # an absolute target naming a host file is looked up inside the rootfs
    host_file = tmp_path / "host_passwd"
    host_file.write_text("hostonly:x:999:999::/:/bin/sh\n")
    os.unlink(root / "etc" / "passwd")
    os.symlink("/../../../.." + str(host_file), root / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="unable to find user hostonly"):
        resolve_user(str(root), "hostonly")


def test_symlink_loop_is_reported(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="reading /etc/passwd in the container"):
        resolve_user(str(root), "x")


def test_passwd_that_is_a_directory_counts_as_missing(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc" / "passwd").mkdir(parents=True)
    assert resolve_user(str(root), "").uid == 0

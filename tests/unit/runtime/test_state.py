"""Container status checks and the state store (no kernel objects: plain files)."""

from __future__ import annotations

import os

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.runtime import state as st


def test_status_checks():
    st.can_start(st.CREATED)
    for bad in (st.RUNNING, st.STOPPED, st.PAUSED, st.CREATING):
        with pytest.raises(Conflict):
            st.can_start(bad)
    st.can_delete(st.STOPPED, force=False)
    for live in (st.CREATED, st.RUNNING, st.PAUSED):
        with pytest.raises(Conflict, match="not stopped"):
            st.can_delete(live, force=False)
        st.can_delete(live, force=True)
    with pytest.raises(Conflict, match="not running"):
        st.can_kill(st.STOPPED)
    st.can_kill(st.CREATED)
    st.can_pause(st.RUNNING)
    with pytest.raises(Conflict):
        st.can_resume(st.RUNNING)
    st.can_resume(st.PAUSED)
    with pytest.raises(Conflict):
        st.can_exec(st.STOPPED)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", "a b", "x" * 1025])
def test_invalid_ids(bad):
    with pytest.raises(InvalidArgument):
        st.validate_id(bad)


def test_valid_ids():
    for good in ("abc", "a-b_c.d+e", "0123"):
        st.validate_id(good)


def test_store_round_trip_and_current_status(tmp_path):
    store = st.StateStore(str(tmp_path / "root"))
    lock = store.reserve("c1")
    try:
        with pytest.raises(Conflict, match="already exists"):
            store.reserve("c1")
        c = st.ContainerState("c1", "/b", "/b/rootfs", {"annotations": {"k": "v"}},
                              pid=os.getpid(), start_time=st.process_start_time(os.getpid()),
                              status=st.CREATED, created="now")
        store.save(c)
    finally:
        os.close(lock)
    loaded = store.load("c1")
    assert loaded.current_status() == st.CREATED
    oci = loaded.oci()
    assert oci["id"] == "c1" and oci["pid"] == os.getpid()
    assert oci["annotations"] == {"k": "v"}
    assert store.ids() == ["c1"]
    # pid reuse: same pid, other start time -> the container is stopped
    loaded.start_time += 1
    assert loaded.current_status() == st.STOPPED
    assert loaded.oci()["pid"] == 0
    store.remove("c1")
    with pytest.raises(NotFound):
        store.load("c1")
    with pytest.raises(NotFound):
        store.lock("c1")


def test_dead_pid_is_stopped():
    c = st.ContainerState("x", "/b", "/r", {}, pid=2 ** 22 + 7, start_time=1,
                          status=st.RUNNING)
    assert c.current_status() == st.STOPPED
    hook = c.hook_state(st.STOPPED)
    assert set(hook) == {"ociVersion", "id", "status", "pid", "bundle"}

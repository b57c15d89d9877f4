"""The container store: names unique in the database, Docker's lookup order, state
changes written through, records surviving a reopen (a daemon restart)."""

from __future__ import annotations

import threading

import pytest

from dockyard.engine.model import ContainerRecord, ContainerState, new_id, now_rfc3339
from dockyard.engine.store import ContainerStore
from dockyard.errors import Conflict, InvalidArgument, NotFound


def record(name: str, cid: str | None = None, image: str = "sha256:" + "a" * 64
           ) -> ContainerRecord:
    return ContainerRecord(id=cid or new_id(), name=name, created=now_rfc3339(),
                           image_id=image, image_ref="busybox", config={"Image": "busybox"},
                           host_config={}, state=ContainerState())


@pytest.fixture
def store(tmp_path):
    s = ContainerStore(tmp_path / "containers.db", str(tmp_path / "data"),
                       str(tmp_path / "exec"))
    yield s
    s.close()


def test_add_get_and_paths(store, tmp_path):
    rec = record("web")
    store.add(rec)
    got = store.get(rec.id)
    assert got.name == "web" and got.config == {"Image": "busybox"}
    assert got.bundle == tmp_path / "exec" / "containers" / rec.id
    assert got.log_path == tmp_path / "data" / "containers" / rec.id / f"{rec.id}-json.log"


def test_name_conflict_has_dockers_words(store):
    first = record("web")
    store.add(first)
    with pytest.raises(Conflict) as e:
        store.add(record("web"))
    assert e.value.message == (
        f'Conflict. The container name "/web" is already in use by container "{first.id}". '
        "You have to remove (or rename) that container to be able to reuse that name.")
    assert len(store.list()) == 1


def test_concurrent_creates_one_name_one_winner(store):
    wins, losses = [], []

    def add() -> None:
        try:
            store.add(record("race"))
            wins.append(1)
        except Conflict:
            losses.append(1)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7


def test_resolve_order_and_errors(store):
    a = record("alpha", cid="abc" + "0" * 61)
    b = record("beta", cid="abd" + "0" * 61)
    store.add(a)
    store.add(b)
    assert store.resolve(a.id).name == "alpha"
    assert store.resolve("alpha").id == a.id
    assert store.resolve("/beta").id == b.id
    assert store.resolve("abc").id == a.id
    with pytest.raises(InvalidArgument, match="multiple IDs found with provided prefix: ab"):
        store.resolve("ab")
    with pytest.raises(NotFound, match="No such container: nope"):
        store.resolve("nope")
    with pytest.raises(NotFound):
        store.resolve("%")   # a LIKE wildcard is not a prefix of everything


def test_update_state_and_reopen(store, tmp_path):
    rec = record("keep")
    store.add(rec)
    store.update_state(rec.id, status="running", pid=42, restart_count=2)
    with pytest.raises(InvalidArgument):
        store.update_state(rec.id, bogus=1)
    again = ContainerStore(tmp_path / "containers.db", str(tmp_path / "data"),
                           str(tmp_path / "exec"))
    try:
        got = again.get(rec.id)
        assert got.state.status == "running" and got.state.pid == 42
        assert got.restart_count == 2
    finally:
        again.close()


def test_rename_and_remove(store):
    a, b = record("one"), record("two")
    store.add(a)
    store.add(b)
    with pytest.raises(Conflict):
        store.rename(a.id, "two")
    assert store.rename(a.id, "three") == "one"
    assert store.resolve("three").id == a.id
    assert not store.name_taken("one")
    store.remove(a.id)
    with pytest.raises(NotFound):
        store.get(a.id)


def test_count_using(store):
    img = "sha256:" + "b" * 64
    store.add(record("x1", image=img))
    store.add(record("x2", image=img))
    store.add(record("x3"))
    assert store.count_using(img) == 2
    assert len(store.users_of(img)) == 2

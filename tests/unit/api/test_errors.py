"""The one error table: every dockyard kind has Docker's status; nothing a user
does wrong becomes a 500."""

from __future__ import annotations

import pytest

from dockyard import errors as e
from dockyard.api import errors


@pytest.mark.parametrize(("kind", "status"), [
    (e.NotFound, 404), (e.Conflict, 409), (e.InvalidArgument, 400), (e.UnsafeContent, 400),
    (e.DigestMismatch, 400), (e.NotModified, 304), (e.Unauthorized, 401),
    (e.Forbidden, 403), (e.Unavailable, 503), (e.SystemError_, 500),
])
def test_each_kind_has_dockers_status(kind, status):
    assert errors.status_for(kind("x")) == status


def test_every_kind_in_dockyard_errors_is_in_the_table():
    kinds = {getattr(e, name) for name in e.__all__} - {e.DockyardError}
    covered = {k for k, _ in errors.STATUS_BY_KIND}
    assert kinds <= covered, kinds - covered


def test_a_subclass_is_mapped_before_its_parent():
    order = [k for k, _ in errors.STATUS_BY_KIND]
    for i, kind in enumerate(order):
        for later in order[i + 1:]:
            assert not issubclass(later, kind), f"{later} is shadowed by {kind}"


def test_unclassified_errors_are_500_and_keep_their_message():
    assert errors.status_for(ValueError("boom")) == 500
    assert errors.message_for(ValueError("boom")) == "boom"
    assert errors.message_for(e.NotFound("No such image: x")) == "No such image: x"


def test_bodies_have_dockers_shapes():
    assert errors.error_body("m") == {"message": "m"}
    assert errors.stream_error("m") == {"errorDetail": {"message": "m"}, "error": "m"}

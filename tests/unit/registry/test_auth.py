"""WWW-Authenticate parsing and the auth state machine (no I/O)."""

from __future__ import annotations

import pytest

from dockyard.errors import Unauthorized
from dockyard.registry.auth import Authenticator, TokenRequest, parse_www_authenticate
from dockyard.registry.credentials import Credential


def test_parse_bearer_challenge_with_quoted_commas():
    [ch] = parse_www_authenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push"')
    assert ch.scheme == "bearer"
    assert ch.params == {"realm": "https://auth.docker.io/token",
                         "service": "registry.docker.io",
                         "scope": "repository:library/busybox:pull,push"}


def test_parse_basic_and_multiple_challenges():
    chs = parse_www_authenticate('Basic realm="Registry Realm", Bearer realm="x",service=y')
    assert [c.scheme for c in chs] == ["basic", "bearer"]
    assert chs[0].params == {"realm": "Registry Realm"}
    assert chs[1].params == {"realm": "x", "service": "y"}


def test_parse_escaped_quote():
    [ch] = parse_www_authenticate(r'Basic realm="a \"b\" c"')
    assert ch.params["realm"] == 'a "b" c'


def test_bearer_challenge_makes_a_token_request_then_caches_the_token():
    a = Authenticator(Credential("u", "p"))
    step = a.challenge('Bearer realm="https://t/token",service="s"', "repository:r:pull")
    assert isinstance(step, TokenRequest)
    assert step.url == "https://t/token?service=s&scope=repository%3Ar%3Apull"
    assert step.headers["Authorization"].startswith("Basic ")
    a.token_response(step, 200, {"token": "T", "expires_in": 300})
    assert a.headers("repository:r:pull") == {"Authorization": "Bearer T"}
    assert a.headers("repository:other:pull") == {}


def test_anonymous_token_request_has_no_authorization():
    a = Authenticator(None)
    step = a.challenge('Bearer realm="https://t/token"', "repository:r:pull")
    assert isinstance(step, TokenRequest) and step.headers == {}


def test_rejected_fresh_token_stops_the_loop():
    a = Authenticator(Credential("u", "p"))
    step = a.challenge('Bearer realm="https://t/token"', "s")
    a.token_response(step, 200, {"token": "T"})
    # A request sent before the token existed just retries ...
    assert a.challenge('Bearer realm="https://t/token"', "s", None) == "retry"
    # ... one that carried it was refused: stop.
    with pytest.raises(Unauthorized):
        a.challenge('Bearer realm="https://t/token"', "s", "Bearer T")


def test_basic_challenge_retries_once_with_credentials():
    a = Authenticator(Credential("u", "p"))
    assert a.challenge('Basic realm="r"', None) == "retry"
    assert a.headers(None)["Authorization"] == "Basic dTpw"
    assert a.challenge('Basic realm="r"', None, None) == "retry"   # a parallel request
    with pytest.raises(Unauthorized, match="rejected"):
        a.challenge('Basic realm="r"', None, "Basic dTpw")


def test_basic_challenge_without_credentials_says_to_log_in():
    with pytest.raises(Unauthorized, match="dockyard login"):
        Authenticator(None).challenge('Basic realm="r"', None)


@pytest.mark.parametrize("status, body", [(401, {}), (500, {}), (200, {"nope": 1}),
                                          (200, "text")])
def test_bad_token_responses(status, body):
    a = Authenticator(Credential("u", "p"))
    step = a.challenge('Bearer realm="https://t/token"', "s")
    with pytest.raises(Unauthorized):
        a.token_response(step, status, body)


def test_several_scopes_become_several_parameters():
    a = Authenticator(None)
    step = a.challenge('Bearer realm="https://t/token",service="s"',
                       "repository:a:pull,push repository:b:pull")
    assert step.url == ("https://t/token?service=s&scope=repository%3Aa%3Apull%2Cpush"
                        "&scope=repository%3Ab%3Apull")

"""The Host / Origin rules of the app server (pure functions; no server)."""

import sys

import pytest

from mtjexplore.serve import guard


@pytest.mark.parametrize("header, name", [("localhost:8866", "localhost"), ("[::1]:8866", "::1"),
                                          ("Class.Example.ORG", "class.example.org"), ("", "")])
def test_host_name_drops_port_brackets_and_case(header, name):
    assert guard.host_name(header) == name


def test_loopback_names_and_addresses_are_always_allowed():
    allowed = guard.normalize_hosts([])
    for host in ("localhost:1", "127.0.0.1:8866", "127.9.9.9", "[::1]:8866"):
        assert guard.host_allowed(host, allowed), host


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8866", "localhost.evil.example",
                                  "192.168.1.20:8866", "", "127.0.0.1.nip.io"])
def test_other_hosts_are_refused_by_default(host):
    assert not guard.host_allowed(host, guard.normalize_hosts([]))


def test_allowed_names_and_addresses_are_added():
    allowed = guard.normalize_hosts(["Class.Example.org", "192.168.1.20", "[fe80::1]"])
    assert guard.host_allowed("class.example.org:8866", allowed)
    assert guard.host_allowed("192.168.1.20:8866", allowed)
    assert guard.host_allowed("[fe80::1]:8866", allowed)
    assert not guard.host_allowed("other.example.org", allowed)


def test_a_star_allows_every_host():
    assert guard.host_allowed("anything.example", guard.normalize_hosts(["*"]))


@pytest.mark.parametrize("bad", ["http://class.example.org", "class.example.org:8866", "a/b", " "])
def test_a_host_with_scheme_port_or_path_is_refused_with_an_example(bad):
    with pytest.raises(ValueError, match=r"--allow-host takes a host name or address .*e\.g\. class"):
        guard.normalize_hosts([bad])


def test_websocket_origins_follow_the_host_rules():
    allowed = guard.normalize_hosts(["class.example.org"])
    assert guard.origin_allowed(None, allowed)  # a script, not a page: the Host check still applies
    assert guard.origin_allowed("http://127.0.0.1:8866", allowed)
    assert guard.origin_allowed("https://class.example.org", allowed)
    assert not guard.origin_allowed("http://evil.example", allowed)
    assert not guard.origin_allowed("null", allowed)  # sandboxed iframes, file:// pages


@pytest.mark.parametrize("ip, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                          ("0.0.0.0", False), ("::", False), ("192.168.1.20", False)])
def test_is_loopback(ip, loopback):
    assert guard.is_loopback(ip) is loopback


def test_the_guard_does_not_import_voila():
    assert "voila" not in sys.modules or "mtjexplore.widgets.voila_server" in sys.modules

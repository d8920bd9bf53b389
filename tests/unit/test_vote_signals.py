"""Vote signals: salted hashes of the address and of its network, never the address itself."""

from __future__ import annotations

import pytest

from cocreate.voting.signals import (
    campaign_salt,
    ip_hashes,
    ip_prefix,
    parse_ip,
    trimmed_user_agent,
)

KEY = "k" * 40


@pytest.mark.parametrize(
    ("address", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("203.0.113.0", "203.0.113.0/24"),
        ("10.1.2.255", "10.1.2.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd:12::/64"),
        ("2001:0DB8:ABCD:0012:ffff:ffff:ffff:ffff", "2001:db8:abcd:12::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        # A dual-stack socket reports an IPv4 client as IPv4-mapped IPv6: the same /24.
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        ("::ffff:cb00:714d", "203.0.113.0/24"),
    ],
)
def test_the_network_prefix_of_an_address(address: str, prefix: str) -> None:
    assert ip_prefix(address) == prefix


@pytest.mark.parametrize(
    "address", ["testclient", "", "unknown", "203.0.113", "::ffff:zz", "a" * 500]
)
def test_what_is_not_an_address_has_no_prefix(address: str) -> None:
    assert parse_ip(address) is None and ip_prefix(address) is None


def test_a_mapped_address_hashes_like_the_ipv4_address() -> None:
    salt = campaign_salt(KEY, 7)
    assert ip_hashes(salt, "::ffff:203.0.113.77") == ip_hashes(salt, "203.0.113.77")


def test_neighbours_share_the_prefix_hash_not_the_address_hash() -> None:
    salt = campaign_salt(KEY, 7)
    one, one_net = ip_hashes(salt, "203.0.113.77")
    two, two_net = ip_hashes(salt, "203.0.113.78")
    other, other_net = ip_hashes(salt, "203.0.114.77")
    assert one_net == two_net != other_net
    assert len({one, two, other}) == 3
    v6, v6_net = ip_hashes(salt, "2001:db8:abcd:12::1")
    v6b, v6b_net = ip_hashes(salt, "2001:db8:abcd:12:ffff::9")
    assert v6_net == v6b_net and v6 != v6b


def test_hashes_are_salted_per_campaign_and_hide_the_address() -> None:
    first, first_net = ip_hashes(campaign_salt(KEY, 1), "203.0.113.77")
    second, second_net = ip_hashes(campaign_salt(KEY, 2), "203.0.113.77")
    assert first != second and first_net != second_net  # no join across campaigns
    assert first == ip_hashes(campaign_salt(KEY, 1), "203.0.113.77")[0]  # stable in one
    assert first != ip_hashes(campaign_salt("o" * 40, 1), "203.0.113.77")[0]  # secret key
    assert first is not None and len(first) == 64 and "203" not in first


def test_a_client_that_is_not_an_address_is_hashed_without_prefix() -> None:
    address_hash, prefix_hash = ip_hashes(campaign_salt(KEY, 1), "testclient")
    assert address_hash is not None and prefix_hash is None
    assert ip_hashes(campaign_salt(KEY, 1), None) == (None, None)


def test_the_user_agent_is_trimmed_to_printable_text() -> None:
    assert trimmed_user_agent(None) is None
    assert trimmed_user_agent("  \x00\x07 ") is None
    assert trimmed_user_agent("Mozilla/5.0\n(X11)") == "Mozilla/5.0(X11)"
    assert trimmed_user_agent("x" * 1000) == "x" * 300

"""Reading addresses and networks: the fast path through ``inet_pton`` reads every text as
:mod:`ipaddress` does, and leaves every text it refuses to :mod:`ipaddress` and its errors."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portplan.model._types import parse_network

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def by_ipaddress(text: str) -> Network | str:
    """What :mod:`ipaddress` makes of ``text``: the network, or ``"refused"``."""
    try:
        if ":" in text:
            return ipaddress.IPv6Network(text, strict=True)
        return ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        return "refused"


def by_portplan(text: str) -> Network | str:
    try:
        return parse_network(text)
    except ValueError:
        return "refused"


_OCTETS = st.sampled_from(["0", "1", "9", "01", "00", "10", "99", "255", "256", "1000", "", " "])
_GROUPS = st.sampled_from(
    ["", "0", "1", "0000", "00000", "abcd", "ABCD", "fffff", "g", "1.2.3.4", "01.2.3.4", "1.2.3"]
)
_TEXTS = st.one_of(
    st.lists(_OCTETS, min_size=1, max_size=6).map(".".join),
    st.lists(_GROUPS, min_size=1, max_size=10).map(":".join),
    st.text(alphabet="0123456789abcdefABCDEF:.x \u0663\u00b2\u2024", max_size=24),
    st.ip_addresses().map(str),
)


@given(_TEXTS)
def test_an_address_is_read_as_ipaddress_reads_it(text: str) -> None:
    assert by_portplan(text) == by_ipaddress(text.strip())


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("192.0.2.10", "192.0.2.10/32"),
        (" 2001:db8::1 ", "2001:db8::1/128"),
        ("::ffff:192.0.2.1", "::ffff:c000:201/128"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1/128"),
        ("198.51.100.0/24", "198.51.100.0/24"),
    ],
)
def test_addresses_and_networks(text: str, network: str) -> None:
    assert str(parse_network(text)) == network


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("192.0.2.010", "'192.0.2.010' is not an IPv4/IPv6 address or CIDR network"),
        ("1.2.3", "'1.2.3' is not an IPv4/IPv6 address or CIDR network"),
        ("1::2::3", "'1::2::3' is not an IPv4/IPv6 address or CIDR network"),
        ("\u0661.2.3.4", "is not an IPv4/IPv6 address or CIDR network"),
        ("1.2.3.4\x00", "is not an IPv4/IPv6 address or CIDR network"),
    ],
)
def test_what_inet_pton_refuses_gets_the_same_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_network(text)
    assert message in str(caught.value)

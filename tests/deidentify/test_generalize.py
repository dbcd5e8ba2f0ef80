from __future__ import annotations

import ipaddress
import random
import socket

import pytest

from deidentify import generalize


@pytest.mark.parametrize(
    ("zip_code", "expected"),
    [
        ("33131", "331"),
        ("33131-1234", "331"),
        ("03601", "000"),
        ("89301", "000"),
        ("1234", None),
        (None, None),
    ],
)
def test_zip3_with_safe_harbor_sparse_prefixes(zip_code: str | None, expected: str | None) -> None:
    assert generalize.zip3(zip_code) == expected


@pytest.mark.parametrize(
    ("birth_year", "expected"),
    [(1990, "30-39"), (1937, "80-89"), (1930, "90+"), ("1986", "40-49"), (2030, None), ("x", None)],
)
def test_age_band_at_the_event_year(birth_year: object, expected: str | None) -> None:
    assert generalize.age_band(birth_year, 2026) == expected


@pytest.mark.parametrize(
    ("size", "band"), [(1, "1"), (3, "2-5"), (10, "6-10"), (26, "26-50"), (500, "101+"), (0, None)]
)
def test_practice_size_band(size: int, band: str | None) -> None:
    assert generalize.practice_size_band(size) == band


def test_ip_network_truncates() -> None:
    assert generalize.ip_network("83.149.9.216") == "83.149.9.0/24"
    assert generalize.ip_network("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert generalize.ip_network("not-an-ip") is None


def _network_by_ipaddress(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def test_ip_network_fast_path_agrees_with_ipaddress() -> None:
    rng = random.Random(5)
    octets = ["0", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "01",
              "001", "300", "-1", "", " 1", "\u0661", "1e1", "0x1"]  # fmt: skip
    for _ in range(5000):
        parts = [rng.choice(octets) for _ in range(rng.choice((3, 4, 4, 4, 5)))]
        address = rng.choice(("", " ", "\t")) + ".".join(parts) + rng.choice(("", " ", "\n"))
        assert generalize.ip_network(address) == _network_by_ipaddress(address), address
        assert generalize._is_ip(address) == _by_ipaddress_is_ip(address), address


def test_country_lookup_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    assert generalize.countries(["83.149.9.216", "8.8.8.8", None, "garbage", "10.1.2.3"]) == [
        "RU",
        "US",
        None,
        "ZZ",
        "ZZ",
    ]


def test_file_extension_and_counts() -> None:
    assert generalize.file_extension("Kevin_Duncan_labs_2026.PDF") == ".pdf"
    assert generalize.file_extension("no extension") is None
    assert generalize.count_items(["a@x.org", "b@y.org"]) == 2


def _by_ipaddress_is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

"""Generalization of quasi-identifiers: coarser values that still answer aggregate questions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime

import iptocc

# HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(B): three-digit ZIP prefixes whose areas held
# 20,000 people or fewer (2000 Census, as listed by HHS) are replaced by 000.
SPARSE_ZIP3 = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
     "878", "879", "884", "890", "893"}
)  # fmt: skip
UNKNOWN_COUNTRY = "ZZ"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# A dotted IPv4 address exactly as `ipaddress` accepts it (ASCII digits, no leading zeros).
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
PRACTICE_SIZE_BANDS = (
    (1, "1"),
    (5, "2-5"),
    (10, "6-10"),
    (25, "11-25"),
    (50, "26-50"),
    (100, "51-100"),
)


def zip3(value: object) -> str | None:
    """First three digits of a US ZIP code, `000` for sparsely populated areas, else None."""
    if value is None:
        return None
    digits = str(value).strip()
    if len(digits) >= 5 and digits[:5].isdigit():
        prefix = digits[:3]
        return "000" if prefix in SPARSE_ZIP3 else prefix
    return None


def age_band(birth_year: object, at_year: int) -> str | None:
    """Ten-year band of the age reached in `at_year` ("30-39"); 90 and over are one band."""
    try:
        year = int(birth_year)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    age = at_year - year
    if age < 0 or age > 120:
        return None
    if age >= 90:
        return "90+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def practice_size_band(size: object) -> str | None:
    """Bands of practice size (number of people in the practice)."""
    try:
        value = int(size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if value < 1:
        return None
    for upper, label in PRACTICE_SIZE_BANDS:
        if value <= upper:
            return label
    return "101+"


def ip_network(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, e.g. `203.0.113.0/24`."""
    if not address:
        return None
    address = address.strip()
    ipv4 = _IPV4.fullmatch(address)
    if ipv4:
        return f"{ipv4[1]}.{ipv4[2]}.{ipv4[3]}.0/24"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def ip_networks(addresses: Sequence[str | None]) -> list[str | None]:
    """`ip_network` of each address, computing each distinct address once."""
    networks = {a: ip_network(a) for a in set(addresses)}
    return [networks[a] for a in addresses]


def countries(addresses: Sequence[str | None]) -> list[str | None]:
    """ISO country code of each address from iptocc's bundled registry data (offline)."""
    distinct = sorted({a for a in addresses if a})
    valid = [a for a in distinct if _is_ip(a)]
    codes = dict(zip(valid, iptocc.country_code(valid), strict=True)) if valid else {}
    return [None if a is None else (codes.get(a) or UNKNOWN_COUNTRY) for a in addresses]


def _is_ip(value: str) -> bool:
    if _IPV4.fullmatch(value):
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def file_extension(name: object) -> str | None:
    """Only the extension of a file name, lower-cased (`.pdf`); the name itself is dropped."""
    if not isinstance(name, str) or "." not in name:
        return None
    extension = name.rsplit(".", 1)[1].strip().lower()
    return f".{extension}" if extension.isalnum() and len(extension) <= 8 else None


def count_items(value: object) -> int | None:
    """Length of a list (emails, contacts): only how many, never who."""
    return len(value) if isinstance(value, list) else None


def floor_to_minute(moment: datetime) -> datetime:
    """The timestamp with seconds and below removed."""
    return moment.replace(second=0, microsecond=0)

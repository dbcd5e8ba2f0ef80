"""URLs reduced to templates: routes kept, identifiers replaced by typed placeholders.

`/users/jane.doe%40gmail.com/profile?email=jane%40x.org&tab=meds` becomes
`/users/{email}/profile?email&tab=meds`: a path segment survives only when it is a known
route word; ids, emails and anything unknown become `{id}`, `{email}`, `{slug}`, and file
names keep only their extension (`{file}.pdf`). Query keys are kept, their values dropped
unless the key is on the allowlist, and allowlisted values are scrubbed. Referrers keep
their registered domain and, for search engines, the search terms (to be scrubbed as text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import tldextract

_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}")
_HEXISH = re.compile(r"(?i)[0-9a-f-]{8,}")
_HAS_DIGIT = re.compile(r"\d")
_QUERY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,30}")
_FILE = re.compile(r"(.+)\.([A-Za-z0-9]{1,5})")
_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# A URL whose path and query can be cut out without urlsplit: relative (`/...`), or a scheme
# and a plain ASCII host, and no tab or line break (urlsplit deletes those first).
_PLAIN_URL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~!$&'()*+,;=:@%-]*)?(/(?!/)[^\t\r\n]*)?"
)


@dataclass(frozen=True)
class UrlRules:
    """The allowlists that decide what of a URL survives (from the field policy)."""

    known_path_segments: frozenset[str]
    kept_query_keys: frozenset[str]
    search_engines: dict[str, str]


def _decode(text: str) -> str:
    return unquote_plus(unquote_plus(text))


def segment_template(segment: str, rules: UrlRules, last: bool) -> str:
    """The template of one path segment."""
    if not segment:
        return segment
    decoded = _decode(segment)
    if decoded.lower() in rules.known_path_segments:
        return decoded.lower()
    if _EMAIL.fullmatch(decoded):
        return "{email}"
    file = _FILE.fullmatch(decoded)
    if last and file and not file.group(2).isdigit():
        return "{file}." + file.group(2).lower()
    if decoded.isdigit() or _HEXISH.fullmatch(decoded) or _HAS_DIGIT.search(decoded):
        return "{id}"
    return "{slug}"


def path_and_query(url: str) -> tuple[str, str]:
    """The path and query of a URL, exactly as `urlsplit` reads them (ValueError where it
    raises), without its general parse for the plain URLs logs are made of."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        parts = urlsplit(url)
        return parts.path, parts.query
    rest = plain.group(1) or ""
    path, _, query = rest.split("#", 1)[0].partition("?")
    return path, query


def url_template(
    url: str | None,
    rules: UrlRules,
    scrub_value: Callable[[str], str],
    segments_seen: dict[tuple[str, bool], str] | None = None,
) -> str | None:
    """Path template plus query keys (allowlisted values scrubbed); None for no URL.

    `segments_seen` keeps segment templates across calls (a route word or an id recurs in
    many URLs); the caller bounds it."""
    if url is None:
        return None
    try:
        path_part, query_part = path_and_query(url.strip())
    except ValueError:
        return "{unparseable}"
    seen = {} if segments_seen is None else segments_seen
    segments = path_part.split("/")
    templates = []
    for i, segment in enumerate(segments):
        key = (segment, i == len(segments) - 1)
        template = seen.get(key)
        if template is None:
            template = seen[key] = segment_template(segment, rules, last=key[1])
        templates.append(template)
    path = "/".join(templates)
    if not path.startswith("/"):
        path = "/" + path if path else "/"
    if not query_part:
        return path
    query = []
    for key, value in parse_qsl(query_part, keep_blank_values=True):
        if not _QUERY_KEY.fullmatch(key):
            query.append("{key}")
        elif key.lower() in rules.kept_query_keys and value:
            query.append(f"{key}={scrub_value(value)}")
        else:
            query.append(key)
    return path + "?" + "&".join(query)


def url_host(url: str | None) -> str | None:
    """The host name of a URL, lower-cased, without credentials or port."""
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 16)
def registered_domain(host: str | None) -> str | None:
    """`www.google.com` -> `google.com`, from tldextract's bundled suffix list (offline)."""
    if not host:
        return None
    extracted = _SUFFIXES(host)
    if extracted.suffix and extracted.domain:
        return f"{extracted.domain}.{extracted.suffix}"
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def referrer_parts(referrer: str | None, rules: UrlRules) -> tuple[str | None, str | None]:
    """(registered domain, raw search terms or None) of a referrer URL."""
    if not referrer:
        return None, None
    try:
        parts = urlsplit(referrer.strip())
    except ValueError:
        return None, None
    domain = registered_domain(parts.hostname)
    key = rules.search_engines.get(domain or "")
    if key is None or not parts.query:
        return domain, None
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if name == key:
            return domain, value.strip() or None
    return domain, None

from __future__ import annotations

import random
from urllib.parse import quote, quote_plus, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from deidentify.field_policy import load_field_policy
from deidentify.urls import path_and_query, referrer_parts, url_template

RULES = load_field_policy().url_rules


def _keep(value: str) -> str:
    return value


def test_templates() -> None:
    cases = {
        "https://app.erx-collab.example/users/jane.doe%40gmail.com/profile": "/users/{email}/profile",
        "/invite?email=jane%40x.org&role=editor": "/invite?email&role=editor",
        "/patients/123456/chart?tab=meds": "/patients/{id}/chart?tab=meds",
        "/contacts?filter=Kevin+Duncan&page=2": "/contacts?filter&page=2",
        "/account/reset-password?email=a%40b.co&token=deadbeef12345678": "/account/reset-password?email&token",
        "/files/a8f9c0d1e2/preview": "/files/{id}/preview",
        "/static/app.js": "/static/{file}.js",
        "/u/janedoe": "/{slug}/{slug}",
        "/?jane@x.org": "/?{key}",
    }
    for url, template in cases.items():
        assert url_template(url, RULES, _keep) == template


def test_allowlisted_values_are_scrubbed() -> None:
    assert (
        url_template("/x?tab=jane%40x.org", RULES, lambda v: "<EMAIL_ADDRESS>")
        == "/{slug}?tab=<EMAIL_ADDRESS>"
    )


def test_referrer_keeps_domain_and_search_terms_only() -> None:
    assert referrer_parts(
        "https://www.google.com/search?q=kevin+duncan+pharmacy&client=x", RULES
    ) == ("google.com", "kevin duncan pharmacy")
    assert referrer_parts("https://jane:secret@blog.example.com/post/1?id=5", RULES) == (
        "example.com",
        None,
    )
    assert referrer_parts(None, RULES) == (None, None)


emails = st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}@[a-z]{2,8}\.(com|org|net)", fullmatch=True)
junk = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(email=emails, prefix=junk, suffix=junk, key=st.sampled_from(["email", "tab", "q", "filter"]))
def test_url_template_never_raises_and_never_returns_the_email(
    email: str, prefix: str, suffix: str, key: str
) -> None:
    for url in (
        f"/{quote(prefix)}/{quote(email, safe='')}/{quote(suffix)}",
        f"/p?{key}={quote_plus(email)}&x={quote(prefix)}",
        f"https://h.example/{email}?{quote(suffix)}",
    ):
        template = url_template(url, RULES, lambda v: "<SCRUBBED>")
        assert template is not None
        assert email not in template and quote(email, safe="") not in template


def test_path_and_query_agree_with_urlsplit() -> None:
    """The fast cut of a plain URL gives urlsplit's path and query, and raises where it does."""
    rng = random.Random(3)
    pieces = ["/", "//", "a", "Z9", "?", "#", "&", "=", ":", "@", "[", "]", "%40", " ", "\t",
              "\n", "\x01", "é", ".", "-", "+", "~", "https:", "http://", "mailto:", "1:",
              "host.example", "[::1]", "user:pw@", ":8080", "ß", "\u2100"]  # fmt: skip
    for _ in range(20_000):
        url = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9)))
        try:
            expected = urlsplit(url)
            want: object = (expected.path, expected.query)
        except ValueError:
            want = ValueError
        try:
            got: object = path_and_query(url)
        except ValueError:
            got = ValueError
        assert got == want, repr(url)


def test_segment_memo_changes_no_template() -> None:
    urls = ["/patients/123/chart", "/patients/124/chart?tab=meds", "/files/x.pdf", "/files/x.pdf/a"]
    seen: dict = {}
    for url in urls * 2:
        assert url_template(url, RULES, _keep, seen) == url_template(url, RULES, _keep)
    assert ("x.pdf", True) in seen and ("x.pdf", False) in seen

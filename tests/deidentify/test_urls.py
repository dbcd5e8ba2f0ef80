from __future__ import annotations

from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from deidentify.field_policy import load_field_policy
from deidentify.urls import referrer_parts, url_template

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

"""Closed vocabularies: only known values are published; anything typed where a value belongs is `other`."""

import pandas as pd

from deidentify.sharing_policy import load_sharing_policy
from deidentify.vocabularies import outside_vocabulary, page_section, to_vocabulary

VOCABULARIES = load_sharing_policy().release.vocabularies


def test_a_formula_a_name_or_a_token_becomes_other_and_missing_becomes_unknown() -> None:
    values = pd.Series(
        ["Cardiology", '=HYPERLINK("http://x")', "Dr. Jane Roe", None, "cardiology", "Pediatrics"]
    )
    mapped = to_vocabulary(values, VOCABULARIES["specialty"]).tolist()
    assert mapped == ["Cardiology", "other", "other", "unknown", "other", "Pediatrics"]


def test_a_user_agent_token_never_becomes_a_browser_family() -> None:
    values = pd.Series(["Chrome", "Mozilla/5.0 (X11; Linux) jane-laptop-3f9a", "curl", "Edge"])
    assert to_vocabulary(values, VOCABULARIES["browser_family"]).tolist() == [
        "Chrome", "other", "other", "Edge",
    ]  # fmt: skip


def test_the_route_table_maps_url_templates_to_page_sections() -> None:
    templates = pd.Series(["/", "/users/{email}/profile", "/prescriptions/{id}?tab=x", "/.env"])
    sections = to_vocabulary(page_section(templates), VOCABULARIES["page_section"]).tolist()
    assert sections == ["home", "users", "prescriptions", "other"]


def test_the_vocabulary_check_names_what_is_outside() -> None:
    values = pd.Series(["CA", "other", "unknown", "jane@example.org"])
    assert outside_vocabulary(values, VOCABULARIES["state"]) == ["jane@example.org"]

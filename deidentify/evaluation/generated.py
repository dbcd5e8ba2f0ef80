"""A labelled set of our own for what the public corpora hold too little of: names from many
locales in the forms clinicians type, and phone numbers in every shape.

Names come from Faker's locales (not only en_US, whose lists the product's own name
dictionary shares), in the forms "First Last", "Last, First", initials, lower-case, ALL CAPS
and with a title. Phones are valid US numbers, NANP-shaped numbers that fail validation,
international numbers with and without a country code, and 7-digit local numbers after a
word that says what they are. Seeded: the same seed gives the same texts.
"""

from __future__ import annotations

import random

from faker import Faker

from deidentify.evaluation.metrics import LabelledText, Span

LOCALES = (
    "en_US", "en_GB", "en_IE", "de_DE", "fr_FR", "es_ES", "es_MX", "it_IT", "pt_BR", "nl_NL",
    "pl_PL", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "hu_HU", "ro_RO", "tr_TR", "vi_VN", "id_ID",
    "en_IN", "fil_PH", "sw",
)  # fmt: skip
TITLES = ("Dr", "Dr.", "Mr", "Mrs.", "Ms", "Patient", "pt", "Nurse")
NAME_TEMPLATES = (
    "Please call {name} back about the refill.",
    "spoke with {name} re: prior auth for lisinopril",
    "{name} asked for a copy of the lab results",
    "Refill request from {name}, 30 day supply",
    "Pharmacy says {name} never picked up the script",
    "PT SEEN TODAY. {name} REPORTS DIZZINESS",
    "can't find the chart for {name}",
    "Sent to {name} on the portal",
)
PHONE_TEMPLATES = (
    "call me back at {phone}",
    "cell {phone} after 5pm",
    "fax: {phone}",
    "Phone {phone} - ask for the nurse",
    "patient's daughter can be reached at {phone}",
    "Reached pharmacy at {phone}, they will refill",
)


def _name_forms(fake: Faker, rng: random.Random) -> list[tuple[str, str, str]]:
    """(form, title typed before the name or "", name): the title is not the identifier."""
    first, last = fake.first_name(), fake.last_name()
    return [
        ("first last", "", f"{first} {last}"),
        ("last, first", "", f"{last}, {first}"),
        ("initial last", "", f"{first[0]}. {last}"),
        ("lower case", "", f"{first} {last}".lower()),
        ("ALL CAPS", "", f"{first} {last}".upper()),
        ("with title", rng.choice(TITLES) + " ", last),
    ]


def _phone_forms(rng: random.Random) -> list[tuple[str, str]]:
    area = rng.choice(("212", "415", "617", "312", "503", "919"))
    line = f"{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    invalid_area = rng.choice(("333", "370", "555", "122", "099"))
    return [
        ("us valid", f"({area}) {line}"),
        ("us dashes", f"{area}-{line}"),
        ("nanp invalid", f"{invalid_area}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"),
        ("intl with code", rng.choice(("+44 20 7946 0958", "+49 30 901820", "+33 1 42 68 53 00"))),
        ("intl without code", rng.choice(("020 7946 0958", "030 901820", "01 42 68 53 00"))),
        ("local 7 digits", line),
    ]


def _fill(template: str, value: str, kind: str, form: str, prefix: str = "") -> LabelledText:
    start = template.index("{") + len(prefix)
    text = template[: template.index("{")] + prefix + value + template[template.index("}") + 1 :]
    return LabelledText(text, (Span(start, start + len(value), kind),), "generated", form)


def generate_texts(count_per_locale: int = 6, seed: int = 13) -> list[LabelledText]:
    """Names in six forms from every locale, and phones in six forms, one per template."""
    rng = random.Random(seed)
    texts: list[LabelledText] = []
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(rng.randrange(1 << 30))
        for _ in range(count_per_locale):
            for form, title, name in _name_forms(fake, rng):
                template = rng.choice(NAME_TEMPLATES)
                if template.startswith("PT"):
                    title, name = title.upper(), name.upper()
                texts.append(_fill(template, name, "PERSON", f"name: {form}", title))
    for _ in range(count_per_locale * 8):
        for form, phone in _phone_forms(rng):
            texts.append(_fill(rng.choice(PHONE_TEMPLATES), phone, "PHONE", f"phone: {form}"))
    return texts

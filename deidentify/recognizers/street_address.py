"""US street addresses: a house number, a street name and a street type."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl|"
    "Terrace|Ter|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Plaza|Plz|"
    "Crossing|Xing|Ridge|Rdg|Route|Rte|Loop|Pike|Run|Path|Alley|Aly|Extension|Ext|"
    "Mountain|Mount|Mission|Springs|Spring|Station|Stravenue|Knoll|Knolls|Hill|Hills|"
    "Heights|Harbor|Gardens|Garden|Fort|Forge|Ford|Falls|Estates|Estate|Expressway|"
    "Flat|Flats|Glen|Green|Grove|Haven|Inlet|Island|Isle|Junction|Key|Landing|Light|Manor|"
    "Meadow|Meadows|Mill|Mills|Motorway|Neck|Orchard|Oval|Overpass|Park|Pass|Pine|Pines|"
    "Point|Port|Prairie|Radial|Ranch|Rapid|Rest|River|Shoal|Shore|Shores|Skyway|Stream|"
    "Summit|Throughway|Trace|Track|Tunnel|Turnpike|Union|Valley|Viaduct|View|Village|Ville|"
    "Vista|Walk|Wall|Well|Wells|Bypass|Camp|Canyon|Cape|Causeway|Center|Centers|Cliff|Club|"
    "Common|Corner|Corners|Course|Courts|Cove|Creek|Crescent|Crest|Curve|Dale|Dam|Divide|"
    "Freeway|Fields|Field|Burg|Bluff|Bluffs|Bottom|Branch|Bridge|Brook|Brooks|Beach|Bend|"
    "Lake|Fork|Lock|Loaf|Mall|Mews|Plain|Ramp|Row|Rue|Spur|Trafficway|Underpass|Via|Gateway|"
    "Crossroad|Hollow|Fall|Shoals|Harbors|Unions|Isles|Ferry|Forest|Land|Lodge|Passage"
)
# Capitalised as written in an address, or ALL CAPS as on an envelope; never lower case.
_STREET_TYPES = _STREET_TYPES + "|" + _STREET_TYPES.upper()


class UsStreetAddressRecognizer(DomainPatternRecognizer):
    """Recognize a US street line such as `4821 Oak Ridge Dr. Apt. 12`.

    Neither Presidio nor spaCy's small model finds street addresses (the NER labels the
    city at best). The house number, up to four capitalised words and a USPS street type
    (singular or plural, as in "506 Ortiz Circles") are required, with an optional apartment
    or suite and the rest of a mailing address (", City, ST 12345").
    """

    PATTERNS = [
        Pattern(
            "US street line",
            r"\b\d{1,6}[A-Za-z]?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\.?)?"
            r"(?:\s+(?:[A-Z][a-zA-Z'-]+|\d+(?:st|nd|rd|th))){0,4}\s+(?:"
            + _STREET_TYPES
            + r")s?\b\.?"
            r"(?:,?\s+(?:Apt\.?|Suite|Ste\.?|Unit|#)\s*[\w-]+)?"
            # The rest of a mailing address: ", City" and ", ST 12345" (a city is a
            # geographic unit smaller than a state, so it goes with the street).
            r"(?:,\s*[A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+){0,2}(?=,\s*[A-Z]{2}\b))?"
            r"(?:,\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?\b)?",
            0.7,
        ),
        Pattern(
            "a street in lower case after a word that announces it",
            r"(?i)(?<=\b(?:at|near|lives?|living|address|addr|located|ship\s+to|mail\s+to)"
            r"\s*:?\s)(?:apt\.?\s*\w+\s+)?\d{1,6}[a-z]?(?:\s+[a-z0-9][a-z'-]*){1,4}\s+(?:"
            + _STREET_TYPES.lower()
            + r")s?\b\.?",
            0.6,
        ),
        Pattern(
            "US military address",
            r"\b(?:(?:PSC|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}|(?:USNS|USNV|USS|USCGC)\s+"
            r"[A-Z][a-zA-Z'-]+),?\s+(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}\b",
            0.7,
        ),
    ]
    CONTEXT = ["address", "billing", "street", "mail", "ship"]
    ENTITY = "US_STREET_ADDRESS"

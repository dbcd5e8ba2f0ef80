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
    "Freeway|Fields|Field|Burg|Bluff|Bluffs|Bottom|Branch|Bridge|Brook|Brooks|Beach|Bend"
)


class UsStreetAddressRecognizer(DomainPatternRecognizer):
    """Recognize a US street line such as `4821 Oak Ridge Dr. Apt. 12`.

    Neither Presidio nor spaCy's small model finds street addresses (the NER labels the
    city at best). The house number, one to four capitalised words and a USPS street type
    are required, with an optional apartment or suite.
    """

    PATTERNS = [
        Pattern(
            "US street line",
            r"\b\d{1,6}(?:\s+[A-Z][a-zA-Z'-]+){1,4}\s+(?:" + _STREET_TYPES + r")\b\.?"
            r"(?:,?\s+(?:Apt\.?|Suite|Ste\.?|Unit|#)\s*[\w-]+)?",
            0.7,
        )
    ]
    CONTEXT = ["address", "billing", "street", "mail", "ship"]
    ENTITY = "US_STREET_ADDRESS"

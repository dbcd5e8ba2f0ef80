"""Drug names by their stems: what a capitalised search term or an ALL-CAPS note holds that the
NER model takes for a person or a place (`Alprazolam`, `AMOXICILLIN`).

The stems are the USAN Council's naming stems (the endings generic names are built from), so
the test holds for drugs this file never lists; a handful of very common brand and generic
names that carry no stem are listed as they are.
"""

from __future__ import annotations

import re

USAN_STEMS = (
    "afil", "amab", "arabine", "azepam", "azole", "azoline", "bactam", "barbital", "bicin",
    "buterol", "caine", "cillin", "conazole", "cort", "cycline", "dipine", "dronate",
    "entan", "fenac", "fibrate", "flozin", "floxacin", "formin", "gatran", "gliflozin",
    "gliptin", "glitazone", "glutide", "grel", "ifene", "imab", "imibe", "iramine", "irudin",
    "isone", "lukast", "mab", "mide", "mycin", "nacin", "nidazole", "nib", "olol", "olone",
    "onide", "oprazole", "oxacin", "oxetine", "parin", "penem", "peridol", "pidem", "plase",
    "poetin", "pramine", "prazole", "pril", "profen", "prost", "relin", "sartan", "semide",
    "setron", "siban", "sone", "statin", "sulfa", "tadine", "terol", "thiazide", "tiapine",
    "tidine", "tinib", "trel", "triptan", "triptyline", "vastatin", "vir", "vudine",
    "xaban", "zepam", "zolam", "zosin", "azine", "oxone", "thyroxine", "codone", "morphone",
    "pentin", "traline", "xetine", "hexidine", "damycin", "tiazem", "racetam", "trigine",
    "orolac", "osin", "icam", "ifen", "anyl", "triol", "azolin", "axone", "amine", "alol",
)  # fmt: skip
COMMON_DRUGS = frozenset(
    (
        "aspirin", "insulin", "warfarin", "heparin", "morphine", "codeine", "tramadol",
        "metformin", "prednisone", "lithium", "digoxin", "ozempic", "eliquis", "xarelto",
        "jardiance", "humira", "keytruda", "lipitor", "zoloft", "xanax", "adderall",
        "tylenol", "advil", "motrin", "vanco", "vancomycin", "zithromax", "augmentin",
        "lasix", "coumadin", "prozac", "zofran", "lantus", "keflex", "norco", "benadryl",
        "klonopin", "lopressor", "toprol", "medrol", "narcan", "botox", "ativan", "valium",
        "percocet", "vicodin", "dilaudid", "flomax", "synthroid", "plavix", "crestor",
        "nexium", "protonix", "pepcid", "zyrtec", "claritin", "flonase", "ventolin",
        "albuterol", "singulair", "wellbutrin", "lexapro", "celexa", "paxil", "cymbalta",
        "seroquel", "abilify", "ambien", "lyrica", "neurontin", "glucophage", "januvia",
        "trulicity", "victoza", "mounjaro", "wegovy", "entresto", "brilinta", "pradaxa",
        "levaquin", "cipro", "bactrim", "diflucan", "valtrex", "tamiflu", "paxlovid",
        "epipen", "prilosec", "imodium", "miralax", "colace", "senna", "dulcolax",
        "ferritin", "lipase", "bilirubin", "hemoglobin", "creatinine", "troponin",
        "albumin", "amylase", "glucose", "potassium", "sodium", "magnesium", "calcium",
    )
)  # fmt: skip
_STEM = re.compile(r"(?:" + "|".join(sorted(USAN_STEMS, key=len, reverse=True)) + r")$")


def looks_like_drug(word: str) -> bool:
    """Whether `word` (any casing) is a generic drug name by its stem, or a listed common one."""
    lower = word.lower()
    return lower in COMMON_DRUGS or (len(lower) >= 6 and bool(_STEM.search(lower)))

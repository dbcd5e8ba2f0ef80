"""Case normalisation for NER: spaCy's small English model finds names by their capitals, so
it misses them in ALL-CAPS notes. The model is shown a copy of
the text with every word capitalised (`NELSON, JEFFREY` -> `Nelson, Jeffrey`), of the same
length, so that what it finds maps back to the original characters.
"""

from __future__ import annotations

import re

from spacy.lang.en.stop_words import STOP_WORDS

_LETTERS = re.compile(r"[^\W\d_]+")
_CAPS_RUN = re.compile(r"\b[^\W\d_a-z]{2,}(?:[\s,.'-]+[^\W\d_a-z]{2,})+\b")
MIN_LETTERS = 4
MOSTLY_UPPER = 0.8


def _capitalize(match: re.Match[str]) -> str:
    """A word capitalised, except English function words (`the`, `for`, `can`), which stay
    lower case so that the model does not read a whole phrase as one name."""
    word = match.group(0)
    if word.lower() in STOP_WORDS:
        return word.lower()
    return word[0].upper() + word[1:].lower()


def _same_length(original: str, changed: str) -> str | None:
    return changed if len(changed) == len(original) and changed != original else None


def case_normalized(text: str) -> str | None:
    """The text with its words capitalised when its casing hides names, else None.

    Applies to a text in mostly upper case, and to runs of two or more ALL-CAPS words inside
    mixed text (`Sent to ALEKSANDER JACHIMCZYK on the portal`). Not to lower-case text: there
    the model reads capitalised drug names as people (`Lisinopril Side Effects`), and
    lower-case search terms are mostly drug names. None when nothing would change or a
    letter's case mapping changes the length (`ß`).
    """
    if text.islower() or not any(map(str.isupper, text)):
        return None
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    if upper + lower < MIN_LETTERS:
        return None
    if upper / (upper + lower) >= MOSTLY_UPPER:
        return _same_length(text, _LETTERS.sub(_capitalize, text))
    if _CAPS_RUN.search(text):
        changed = _CAPS_RUN.sub(lambda m: _LETTERS.sub(_capitalize, m.group(0)), text)
        return _same_length(text, changed)
    return None

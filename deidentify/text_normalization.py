"""Free text is normalised before it is scrubbed, so that a look-alike cannot pass for
something else: the full-width at sign and equals sign (U+FF20, U+FF1D) become `@` and `=`
(NFKC), digits of every script become ASCII digits (an e-mail or phone number typed in
Arabic-Indic digits is still one), and invisible format and control characters (a
right-to-left override, a zero-width space, NUL) are removed.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP_CONTROLS = {"\n", "\t"}
# Separators people (and autocorrect) type in numbers and addresses, folded to ASCII: every
# dash and the minus sign, the fraction and division slashes, the ideographic full stops.
_FOLD = str.maketrans(
    {
        **{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"},
        "\u2044": "/",
        "\u2215": "/",
        "\u3002": ".",
        "\uff61": ".",
        "\uff0e": ".",
    }
)
# Invisible marks that NFKC keeps: the combining grapheme joiner, variation selectors, the
# enclosing keycap.
_INVISIBLE = {"\u034f", "\u20e3", *(chr(c) for c in range(0xFE00, 0xFE10))}
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_free_text(text: str) -> str:
    """NFKC, ASCII digits, ASCII dashes, slashes and full stops, and no format, control or
    invisible characters but newline and tab."""
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return text
    normalized = unicodedata.normalize("NFKC", text).translate(_FOLD)
    out = []
    for char in normalized:
        if char in _INVISIBLE:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cf") and char not in _KEEP_CONTROLS:
            continue
        if category == "Nd" and not char.isascii():
            out.append(str(unicodedata.digit(char)))
            continue
        out.append(char)
    return "".join(out)

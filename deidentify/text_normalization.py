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
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_free_text(text: str) -> str:
    """NFKC, ASCII digits, and no format or control characters but newline and tab."""
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return text
    normalized = unicodedata.normalize("NFKC", text)
    out = []
    for char in normalized:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf") and char not in _KEEP_CONTROLS:
            continue
        if category == "Nd" and not char.isascii():
            out.append(str(unicodedata.digit(char)))
            continue
        out.append(char)
    return "".join(out)

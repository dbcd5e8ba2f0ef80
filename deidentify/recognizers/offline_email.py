"""Presidio's email recognizer with its domain check kept offline."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

_OFFLINE_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer whose domain validation uses tldextract's bundled suffix snapshot.

    Presidio's own validate_result calls `tldextract.extract`, which downloads the public
    suffix list on first use; this product never reaches the network at run time.
    """

    def validate_result(self, pattern_text: str) -> bool:
        """True when the part after @ ends in a known public suffix."""
        return _OFFLINE_SUFFIXES(pattern_text).fqdn != ""

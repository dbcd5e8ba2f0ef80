"""The one kind of error a person fixes in a setting, not in the data or the code."""

from __future__ import annotations


class ConfigurationError(Exception):
    """A configuration file, key, secret or environment value is wrong or missing; the message
    names it and the fix. `python -m pipelines` exits 78 (EX_CONFIG) on one."""

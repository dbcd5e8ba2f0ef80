"""A deterministic generator of realistic usage logs, with the identifiers real logs leak."""

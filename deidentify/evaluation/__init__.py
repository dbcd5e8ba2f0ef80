"""Measure a text de-identifier on labelled text: recall per type, over-redaction, speed."""

"""Parsing raw usage logs into typed rows and quarantine entries.

Plain Python and Arrow: no Dagster here, so the same functions run in a test, a
Dagster step or a distributed worker.
"""

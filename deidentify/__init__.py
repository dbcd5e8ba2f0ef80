"""The privacy engine: plain functions on Arrow tables and DataFrames, no Dagster import.

Holds the check-digit rules shared by the recognizers and the sample generator; the
Presidio setup, field policy, pseudonymization and disclosure control are built here.
"""

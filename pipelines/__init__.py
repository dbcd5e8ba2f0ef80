"""The Dagster code location, its resources and the `python -m pipelines` command line.

This package's own __init__ imports nothing beyond the standard library, so that
`python3 -m pipelines.bootstrap` runs on a machine where nothing is installed yet.
"""

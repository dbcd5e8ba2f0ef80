"""The files and their life cycle, below the Dagster assets and beside `deidentify/`.

Raw parsing into bronze, the folder layout and atomic writes, locks, erasure sweeps, the
gold and release builds, packaging and delivery, periods. Nothing here imports Dagster,
`assets/` or `pipelines/`, so every function runs the same in a test, an asset or a script.
"""

"""Jobs a data engineer launches or schedules."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.groups("bronze", "silver"),
    description="Ingest one day of raw logs into bronze and de-identify it into silver.",
)

gold_job = dg.define_asset_job(
    name="gold_job",
    selection=dg.AssetSelection.groups("gold") - dg.AssetSelection.assets(["gold", "warehouse"]),
    description="Build the month's gold aggregates under disclosure control, with their checks.",
)

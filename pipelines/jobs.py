"""Jobs a data engineer launches or schedules."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.groups("bronze"),
    description="Parse one day of raw application events and access logs into bronze.",
)

"""The code location: every asset, check, job and resource, as `dagster dev` loads it."""

from __future__ import annotations

import dagster as dg

from assets.bronze import BRONZE_ASSETS
from assets.gold import GOLD_ASSETS
from assets.silver import SILVER_ASSETS
from pipelines.jobs import gold_job, ingest_job
from pipelines.resources import default_resources
from pipelines.schedules import SCHEDULES
from pipelines.sensors import SENSORS

ALL_ASSETS = [*BRONZE_ASSETS, *SILVER_ASSETS, *GOLD_ASSETS]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[ingest_job, gold_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=default_resources(),
)

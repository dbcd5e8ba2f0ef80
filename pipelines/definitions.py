"""The code location: every asset, check, job and resource, as `dagster dev` loads it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets.bronze import BRONZE_ASSETS
from assets.erasure import ERASURE_ASSETS
from assets.exports import build_export_asset
from assets.gold import GOLD_ASSETS
from assets.releases import build_release_asset
from assets.silver import SILVER_ASSETS
from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH, load_sharing_policy
from lakehouse.recipients import DEFAULT_RECIPIENTS_PATH, load_recipients
from pipelines.jobs import JOBS
from pipelines.resources import default_resources
from pipelines.schedules import SCHEDULES
from pipelines.sensors import SENSORS

RECIPIENTS = load_recipients(
    load_sharing_policy(
        Path(os.environ.get("PIPELINES_SHARING_POLICY", DEFAULT_SHARING_POLICY_PATH))
    ),
    Path(os.environ.get("PIPELINES_RECIPIENTS", DEFAULT_RECIPIENTS_PATH)),
)
RELEASE_ASSETS = [build_release_asset(recipient) for recipient in RECIPIENTS]
EXPORT_ASSETS = [build_export_asset(recipient) for recipient in RECIPIENTS]
ALL_ASSETS = [
    *BRONZE_ASSETS,
    *SILVER_ASSETS,
    *ERASURE_ASSETS,
    *GOLD_ASSETS,
    *RELEASE_ASSETS,
    *EXPORT_ASSETS,
]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=default_resources(),
)

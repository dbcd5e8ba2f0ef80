"""The month of generated logs the gold, release and export tests share, built once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from assets.gold import GOLD_TABLE_ASSETS, warehouse
from pipelines.definitions import ALL_ASSETS
from pipelines.resources import (
    DeidentificationResource,
    DeliveryResource,
    IngestionResource,
    PseudonymizationResource,
    SharingPolicyResource,
    StorageResource,
)
from pipelines.runner import partition_dates
from pipelines.sample.generator import GeneratorConfig, generate
from pipelines.sample.people import Population
from tests.conftest import record_sample_edges_quiet

MONTH = "2026-10-01"
# An Ed25519 private key as 64 hex characters (a raw 32-byte seed).
SIGNING_KEY = "e5" * 32
RARE = ("WY", "Dentistry", 3)


def resources_for(
    raw: Path,
    out: Path,
    sharing: SharingPolicyResource | None = None,
    delivery: DeliveryResource | None = None,
) -> dict:
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": PseudonymizationResource(
            key="gold-test-key-0123456789abcdef012345", key_version="g1"
        ),
        "deidentification": DeidentificationResource(workers=1),
        "sharing": sharing or SharingPolicyResource(),
        "s3": S3Resource(),
        "delivery": delivery or DeliveryResource(signing_key_value=SIGNING_KEY, key_version="d1"),
    }


def materialize_days(
    raw: Path, out: Path, instance: dg.DagsterInstance
) -> dict[str, dg.ExecuteInProcessResult]:
    """Bronze and silver of every day of `raw`, each run successful; the results by day."""
    daily = [a.key for a in ALL_ASSETS if a.key.path[0] in ("bronze", "silver")]
    results = {}
    for date_key in partition_dates(raw, out):
        results[date_key] = dg.materialize(
            ALL_ASSETS,
            selection=daily,
            partition_key=date_key,
            resources=resources_for(raw, out),
            instance=instance,
        )
        assert results[date_key].success
    return results


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    base = tmp_path_factory.mktemp("gold")
    raw, out = base / "raw", base / "out"
    population = Population(
        states=("FL", "TX", "NY"),
        state_weights=(1, 1, 1),
        specialties=("Pediatrics", "Dentistry", "Cardiology"),
        rare_group=RARE,
        plan_weights=(0, 0, 1, 0),
    )
    generate(
        GeneratorConfig(
            out=raw, days=10, users=900, seed=3, malformed_rate=0, population=population
        )
    )
    checks = []
    with dg.instance_for_test() as instance:
        materialize_days(raw, out, instance)
        # The sample's days are materialized; the operator records the rest of the month and
        # of the weeks touching it as quiet (the sample covers only some days).
        record_sample_edges_quiet(raw, out, MONTH)
        result = dg.materialize(
            ALL_ASSETS,
            selection=[a.key for a in GOLD_TABLE_ASSETS],
            partition_key=MONTH,
            resources=resources_for(raw, out),
            instance=instance,
        )
        assert result.success
        checks = list(result.get_asset_check_evaluations())
        assert dg.materialize(
            ALL_ASSETS,
            selection=[warehouse.key],
            resources=resources_for(raw, out),
            instance=instance,
        ).success
    return raw, out, checks


def materialize_month(
    raw: Path,
    out: Path,
    keys: list,
    extra: tuple = (),
    sharing: SharingPolicyResource | None = None,
    tags: dict[str, str] | None = None,
    delivery: DeliveryResource | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize `keys` for the test month; `extra` assets join the code location's."""
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [*ALL_ASSETS, *extra],
            selection=keys,
            partition_key=MONTH,
            resources=resources_for(raw, out, sharing, delivery),
            instance=instance,
            raise_on_error=False,
            tags=tags,
        )

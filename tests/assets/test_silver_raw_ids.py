"""Silver's blocking identifier check also knows the input contract's raw ids."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.bronze import BRONZE_ASSETS
from assets.silver import NO_IDENTIFIER_CHECK, SILVER_ASSETS, candidate_file
from deidentify.field_policy import DEFAULT_POLICY_PATH
from lakehouse.storage import partition_file
from pipelines.resources import (
    DeidentificationResource,
    IngestionResource,
    PseudonymizationResource,
    StorageResource,
)
from pipelines.runner import partition_dates

KEY = "silver-raw-id-key-0123456789abcdef0123456789"


@pytest.mark.parametrize(
    ("rule", "column", "shape"),
    [
        ({"action": "keep", "type": "string"}, "user_id", "RAW_USER_ID"),
        # A raw id written under a pseudonym's name is not spared by the `*_key` exemption.
        ({"action": "keep", "type": "string", "column": "user_key"}, "user_key", "RAW_USER_ID"),
    ],
    ids=["user_id kept", "user_id kept as user_key"],
)
def test_a_field_policy_keeping_user_id_fails_the_silver_check(
    small_sample: Path, tmp_path: Path, rule: dict, column: str, shape: str
) -> None:
    document = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    document["app_events"]["fields"]["user_id"] = rule
    policy = tmp_path / "field_policy.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    out = tmp_path / "out"
    date_key = partition_dates(small_sample, out)[1]
    events = [a for a in SILVER_ASSETS if a.key.path[-1] == "deidentified_events"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*BRONZE_ASSETS, *events],
            selection=[dg.AssetKey(["bronze", "app_events"]), events[0].key],
            partition_key=date_key,
            resources={
                "storage": StorageResource(raw_dir=str(small_sample), out_dir=str(out)),
                "ingestion": IngestionResource(),
                "pseudonymization": PseudonymizationResource(key=KEY, key_version="r1"),
                "deidentification": DeidentificationResource(
                    workers=1, field_policy_path=str(policy)
                ),
            },
            instance=instance,
            raise_on_error=False,
        )
    (check,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == NO_IDENTIFIER_CHECK
    ]
    assert check.passed is False
    assert f"{column}: {shape}" in check.metadata["findings"].value
    assert not partition_file(out, "silver", "deidentified_events", date_key).exists()
    assert candidate_file(out, "deidentified_events", date_key).exists()

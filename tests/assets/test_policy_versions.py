"""The sharing policy's hash recorded with gold builds and deliveries; a weaker policy under
the same version refused where gold and exports run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import yaml

from assets.gold import GOLD_TABLE_ASSETS
from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH, load_sharing_policy
from pipelines.definitions import RECIPIENTS
from pipelines.resources import SharingPolicyResource
from tests.assets.conftest import materialize_month

TRAFFIC = [a.key for a in GOLD_TABLE_ASSETS if a.key.path[-1] == "daily_traffic_monthly"]


def _metadata(result: dg.ExecuteInProcessResult, *path: str) -> dict:
    name = "/".join(path)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == name:
            return {k: v.value for k, v in materialization.metadata.items()}
    raise AssertionError(f"{name} was not materialized")


def _failure(result: dg.ExecuteInProcessResult) -> str:
    return next(e.step_failure_data.error.message for e in result.all_events if e.is_step_failure)


def _policy(tmp_path: Path, name: str, change) -> SharingPolicyResource:
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    change(document)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return SharingPolicyResource(path=str(path))


def test_gold_and_deliveries_record_the_policy_hash_and_refuse_a_silent_weakening(
    built: tuple[Path, Path, list], tmp_path: Path
) -> None:
    raw, source, _ = built
    out = tmp_path / "out"
    shutil.copytree(source, out)
    shipped = load_sharing_policy()

    gold = materialize_month(raw, out, TRAFFIC)
    assert gold.success
    metadata = _metadata(gold, *TRAFFIC[0].path)
    assert metadata["sharing_policy_version"] == shipped.version
    assert metadata["policy_sha256"] == shipped.sha256
    records = (out / "audit" / "sharing_policy_versions.jsonl").read_text().splitlines()
    assert (shipped.version, shipped.sha256) in [
        (r["version"], r["sha256"]) for r in map(json.loads, records)
    ]

    # The opt-out exclusion turned off, version unchanged: gold and exports refuse.
    weaker = _policy(tmp_path, "weaker", lambda d: d["exclude_opted_out_users"].update(value=False))
    recipient = next(r for r in RECIPIENTS if r.cadence == "monthly")
    export = dg.AssetKey(["exports", recipient.name])
    for keys in (TRAFFIC, [export]):
        refused = materialize_month(raw, out, keys, sharing=weaker)
        assert not refused.success
        assert (
            f"sharing policy version {shipped.version} changed "
            "(exclude_opted_out_users.value true -> false) "
            "without a new version: raise `version`"
        ) in _failure(refused)

    # With a new version the same change is accepted, and the new hash recorded.
    def bumped(document: dict) -> None:
        document["exclude_opted_out_users"]["value"] = False
        document["version"] = shipped.version + 1

    new = _policy(tmp_path, "v5", bumped)
    gold = materialize_month(raw, out, TRAFFIC, sharing=new)
    assert gold.success
    metadata = _metadata(gold, *TRAFFIC[0].path)
    assert metadata["sharing_policy_version"] == shipped.version + 1
    assert metadata["policy_sha256"] == load_sharing_policy(Path(new.path)).sha256 != shipped.sha256

    # A delivery names the version and hash in its manifest and its audit line.
    delivered = materialize_month(
        raw, out, [dg.AssetKey(["releases", recipient.name]), export], sharing=new
    )
    assert delivered.success, _failure(delivered)
    package = Path(_metadata(delivered, *export.path)["package"])
    manifest = json.loads((package / "manifest.json").read_text())
    assert (manifest["policy_version"], manifest["policy_sha256"]) == (
        shipped.version + 1,
        metadata["policy_sha256"],
    )
    audit = [
        json.loads(line) for line in (out / "audit" / "exports.jsonl").read_text().splitlines()
    ]
    assert audit[-1]["policy_sha256"] == metadata["policy_sha256"]
    assert audit[-1]["policy_version"] == shipped.version + 1

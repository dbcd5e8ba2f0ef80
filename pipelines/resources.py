"""Dagster resources: where raw logs and outputs live, and the limits of ingestion."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.ingest.bronze import IngestSettings
from pipelines.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW_DIR = PROJECT_ROOT / "data" / "raw"
DEFAULT_OUT_DIR = PROJECT_ROOT / "data" / "warehouse"


class StorageResource(dg.ConfigurableResource):
    """The raw input folder (`events/`, `access/`) and the output root of every layer."""

    raw_dir: str = Field(description="Folder holding events/*.jsonl[.gz] and access/*.log[.gz].")
    out_dir: str = Field(description="Root of bronze/, quarantine/ and the later layers.")

    @property
    def raw_path(self) -> Path:
        """The raw folder as a Path."""
        return Path(self.raw_dir).expanduser()

    @property
    def out_path(self) -> Path:
        """The output root as a Path."""
        return Path(self.out_dir).expanduser()


class IngestionResource(dg.ConfigurableResource):
    """How strict bronze ingestion is; checked when the code location loads."""

    max_rejected_share: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Fail a partition when more than this share of its lines is quarantined.",
    )
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES,
        ge=1024,
        description="Longer lines are quarantined without being held in memory.",
    )
    batch_rows: int = Field(default=50_000, ge=1, description="Rows per Parquet record batch.")

    def settings(self) -> IngestSettings:
        """The plain settings object the ingest library takes."""
        return IngestSettings(
            max_rejected_share=self.max_rejected_share,
            max_line_bytes=self.max_line_bytes,
            batch_rows=self.batch_rows,
        )


def default_resources(raw_dir: Path | None = None, out_dir: Path | None = None) -> dict:
    """Resources for the code location: paths from arguments, the environment, or the defaults."""
    raw = raw_dir or Path(os.environ.get("PIPELINES_RAW_DIR", DEFAULT_RAW_DIR))
    out = out_dir or Path(os.environ.get("PIPELINES_OUT_DIR", DEFAULT_OUT_DIR))
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
    }

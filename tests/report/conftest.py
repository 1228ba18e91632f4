"""Fixtures of the report tests: synthetic run folders and one report built per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.synthetic import pool_records, standard_cells, write_run

from safetymix.report import ReportConfig, ReportResult, build_report


@pytest.fixture(scope="session")
def pool_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pool_records()), encoding="utf-8")
    return path


@pytest.fixture
def run_dir(tmp_path: Path, pool_file: Path) -> Path:
    """The standard synthetic sweep (with one failed cell) in a fresh folder."""
    return write_run(tmp_path / "run", standard_cells(), pool=pool_file)


@pytest.fixture(scope="session")
def built_report(tmp_path_factory: pytest.TempPathFactory, pool_file: Path) -> ReportResult:
    """The full report of the standard sweep, pool map included (embeds the pool once)."""
    run = write_run(tmp_path_factory.mktemp("built") / "run", standard_cells(), pool=pool_file)
    return build_report(run, ReportConfig())

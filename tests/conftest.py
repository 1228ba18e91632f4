"""Shared fixtures: where the real data sets lie, and one embedding cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Real public data sets (read-only), beside the repository: <repo>/../shared/datasets.
DATASETS = Path(os.environ.get("SAFETYMIX_DATASETS", REPO.parent / "shared" / "datasets")).resolve()
BIANCHI_POOL = DATASETS / "safety_tuned_llamas" / "safety_only_data_Instructions.json"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory):
    """Point the embedding cache at one temp folder for the whole session.

    Every test shares it, so each text is embedded once per session, and the user's own
    cache (~/.cache/safetymix) is never read or written by tests.
    """
    old = os.environ.get("SAFETYMIX_CACHE")
    os.environ["SAFETYMIX_CACHE"] = str(tmp_path_factory.mktemp("safetymix-cache"))
    yield
    if old is None:
        os.environ.pop("SAFETYMIX_CACHE", None)
    else:
        os.environ["SAFETYMIX_CACHE"] = old


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"real data sets not found at {DATASETS} (set SAFETYMIX_DATASETS)")
    return DATASETS

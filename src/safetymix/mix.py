"""Mixing: benign set + safety picks -> one training file and a manifest beside it.

Every benign example appears exactly once; each pick appears ``upsample`` times; the
order is a seeded shuffle. Before anything is written, the contamination guard compares
every training prompt with the given evaluation prompts and refuses on a match unless
``allow_contamination`` is set. The manifest (``<out>.manifest.json``) records the sha256
of every input, the counts, the picks with their reasons, the resolved config and the
safetymix version - and no timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from safetymix import __version__
from safetymix.contamination import DEFAULT_THRESHOLD, EvalPrompt, find_overlaps
from safetymix.embed import DEFAULT_MODEL, Encoder
from safetymix.errors import ConfigError, ContaminationError
from safetymix.io import (
    atomic_write,
    read_examples,
    read_prompts,
    sha256_file,
    write_dataset_info,
    write_examples,
)
from safetymix.schema import Example


class MixConfig(BaseModel):
    """Options of ``safetymix mix`` (CLI flags override a YAML file, which overrides these)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["alpaca", "alpaca-jsonl", "sharegpt", "messages", "jsonl"] = Field(
        "alpaca", description="output format of the training file"
    )
    seed: int = Field(0, description="seed of the shuffle")
    upsample: int = Field(1, ge=1, description="times each safety pick appears")
    eval_files: list[str] = Field(
        default_factory=list, description="evaluation prompt files to guard against"
    )
    allow_contamination: bool = Field(False, description="write the mix even when it overlaps an eval set")
    contamination_threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, le=1, description="cosine of a near duplicate"
    )
    embedding_model: str = Field(DEFAULT_MODEL, description="model for the near-duplicate check")
    dataset_info: str | None = Field(None, description="LLaMA-Factory dataset_info.json to add an entry to")
    dataset_name: str | None = Field(None, description="name of that entry (default: output file stem)")


def mix_examples(
    benign: Sequence[Example], picks: Sequence[Example], *, seed: int = 0, upsample: int = 1
) -> list[Example]:
    """Benign examples once each plus ``upsample`` copies of each pick, in a seeded shuffle."""
    if upsample < 1:
        raise ConfigError(f"upsample must be >= 1, got {upsample}")
    clash = sorted({e.id for e in benign} & {p.id for p in picks})
    if clash:
        raise ConfigError(f"{len(clash)} pick(s) are already in the benign set, e.g. {clash[:3]}")
    rows = list(benign) + [p for p in picks for _ in range(upsample)]
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def manifest_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".manifest.json")


def run_mix(
    benign_path: str | Path,
    picks_path: str | Path,
    out: str | Path,
    config: MixConfig | None = None,
    *,
    show_progress: bool = False,
) -> dict:
    """Read, guard, mix and write; returns the manifest (also written next to ``out``).

    Raises
    ------
    ContaminationError
        When a training prompt matches an evaluation prompt and contamination is not allowed.
        Nothing is written then.
    """
    config = config or MixConfig()
    # A benign set may hold exact duplicates (alpaca_en_demo has 14): each row is kept.
    benign = read_examples(benign_path, duplicates="keep")
    picks = read_examples(picks_path)
    mixed = mix_examples(benign, picks, seed=config.seed, upsample=config.upsample)

    contamination: dict = {"checked": bool(config.eval_files), "eval_files": {}, "matches": []}
    if config.eval_files:
        prompts = []
        for path in config.eval_files:
            recs = read_prompts(path, duplicates="keep")
            contamination["eval_files"][str(path)] = sha256_file(path)
            prompts += [EvalPrompt(r.prompt, str(path), i + 1) for i, r in enumerate(recs)]
        encoder = Encoder(config.embedding_model, show_progress=show_progress)
        matches = find_overlaps(
            list(benign) + list(picks),
            prompts,
            threshold=config.contamination_threshold,
            encode=encoder.encode,
        )
        contamination["matches"] = matches
        contamination["overridden"] = bool(matches) and config.allow_contamination
        if matches and not config.allow_contamination:
            raise ContaminationError(matches)

    write_examples(out, mixed, format=config.format)
    if config.dataset_info:
        write_dataset_info(
            config.dataset_info, config.dataset_name or Path(out).stem, Path(out), config.format
        )
    manifest = {
        "safetymix_version": __version__,
        "command": "mix",
        "output": {"path": str(out), "format": config.format, "sha256": sha256_file(out)},
        "inputs": {
            "benign": {"path": str(benign_path), "sha256": sha256_file(benign_path)},
            "picks": {"path": str(picks_path), "sha256": sha256_file(picks_path)},
        },
        "counts": {
            "benign": len(benign),
            "picks": len(picks),
            "upsample": config.upsample,
            "total": len(mixed),
            "safety_share": round(len(picks) * config.upsample / max(len(mixed), 1), 6),
        },
        "picks": [{"id": p.id, "reason": p.extra.get("reason")} for p in picks],
        "contamination": contamination,
        "config": config.model_dump(),
    }
    with atomic_write(manifest_path(out)) as fh:
        fh.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest

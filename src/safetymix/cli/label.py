"""``safetymix label``: behaviour flags, T1-T4 and harm categories for every pair, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import Field, model_validator

from safetymix.cli.options import config_command, console
from safetymix.engine import EngineOptions
from safetymix.errors import SafetymixError, redact_json
from safetymix.label.stream import gold_refusal
from safetymix.select.prepare import PoolConfig

__all__ = ["LabelConfig", "gold_refusal", "label_command"]


class LabelConfig(PoolConfig, EngineOptions):
    """Options of ``safetymix label``: the pool's labellers plus chunking and the engine."""

    labeller_model: str | None = Field(
        None,
        description="guard model name/path, or the endpoint's model (openai-guard, judge)",
        json_schema_extra={"flags": ["--model"]},
    )
    overwrite: bool = Field(False, description="relabel pairs that already carry labels")
    gold: str | None = Field(None, description="field with a human refusal label: print refusal accuracy")
    resume: bool = Field(
        True, description="continue a killed run from OUT.partial when input and settings match"
    )

    @model_validator(mode="after")
    def _check(self) -> LabelConfig:
        if self.heads is not None and self.behaviour_labeller != "embedding":
            raise ValueError(
                f"--heads applies only to --behaviour-labeller embedding, got {self.behaviour_labeller!r}"
            )
        return self


@config_command(LabelConfig, skip=("reference",))
def label_command(
    pool: Path = typer.Argument(..., help="pairs to label (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help="labelled pairs, canonical JSONL"),
    *,
    cfg: LabelConfig,
) -> None:
    """Label POOL and write OUT chunk by chunk; --gold also prints refusal accuracy against human labels."""
    from safetymix.io import RunRecord
    from safetymix.label import label_file
    from safetymix.label.stream import checkpoint_paths

    beh, cat = cfg.labeller_specs()
    for spec in (beh, cat):
        if spec is not None:
            spec.build()  # fail on bad parameters now, not on a worker
    runner = cfg.build_engine()
    partial, _ = checkpoint_paths(out)
    with RunRecord("label", out, out.with_name(out.name + ".label.json"), {"pool": pool}) as run, runner:
        report = label_file(
            pool,
            out,
            behaviour_labeller=beh,
            category_labeller=cat,
            overwrite=cfg.overwrite,
            label_chunk=runner.chunk_labeller(beh, cat, overwrite=cfg.overwrite),
            chunk_size=cfg.chunk_size or runner.default_chunk_size,
            gold=cfg.gold,
            resume=cfg.resume,
            max_line_bytes=cfg.max_line_bytes,
            show_progress=True,
            publish=False,
        )
        report["engine"] = cfg.engine
        if cfg.gold is not None and report["gold"]["n"] == 0:
            raise SafetymixError(
                f"--gold {cfg.gold!r}: no record carries a readable refusal label in that field"
            )
        record = run.commit({"config": redact_json(cfg.model_dump(mode="json")), **report}, staged=partial)
    if report["resumed_from"]:
        console.print(f"resumed after {report['resumed_from']} records labelled by an interrupted run")
    if cfg.gold is not None:
        g = report["gold"]
        console.print(
            f"refusal accuracy vs {cfg.gold!r}: {g['correct']}/{g['n']} = {g['correct'] / g['n']:.4f}"
            + (f" ({g['missing']} record(s) without a gold label skipped)" if g["missing"] else "")
        )
    console.print(f"labelled {record['n_records']} pairs -> {out}; behaviour {record['behaviour_counts']}")

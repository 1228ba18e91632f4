"""Mixing: benign set + safety picks -> one training file and a manifest beside it.

Every benign example appears exactly once; each pick appears ``upsample`` times; the
order is a seeded shuffle. Before anything is written, the contamination guard compares
every training prompt with the given evaluation prompts and refuses on a match unless
``allow_contamination`` is set. The manifest (``<out>.manifest.json``) records the sha256
of every input, the counts, the picks with their reasons, the resolved config and the
safetymix version - and no timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from safetymix.contamination import DEFAULT_THRESHOLD, EvalPrompt, find_overlaps, read_eval_prompts
from safetymix.embed import DEFAULT_MODEL, Encoder
from safetymix.errors import ConfigError, ContaminationError
from safetymix.io import (
    DEFAULT_MAX_LINE_BYTES,
    WRITE_FORMATS,
    FileSnapshot,
    RunRecord,
    iter_chunks,
    read_examples,
    write_dataset_info,
)
from safetymix.io.manifest import temp_path
from safetymix.io.progress import progress_bar
from safetymix.io.readers import DEFAULT_DUPLICATES, DUPLICATES_HELP
from safetymix.io.records import DuplicateIds
from safetymix.io.writers import RecordEncoder, atomic_write, write_encoded
from safetymix.schema import Example
from safetymix.stage_config import StageConfig


class MixConfig(StageConfig):
    """Options of ``safetymix mix`` (CLI flags override a YAML file, which overrides these)."""

    format: Literal[tuple(WRITE_FORMATS)] = Field(  # type: ignore[valid-type]  # the one list
        "alpaca",
        description="output format of the training file; a .json name gets a JSON array, .jsonl JSON Lines",
    )
    sharegpt_roles: Literal["human/gpt", "user/assistant"] = Field(
        "human/gpt", description="speaker names of sharegpt turns: LLaMA-Factory's, or TRL's and Axolotl's"
    )
    lossy: Literal["error", "warn"] = Field(
        "error",
        description="an example the format cannot hold (non-alternating turns in alpaca): "
        "refuse the mix, or write its first exchange and warn with the count",
    )
    emit_config: list[Literal["llamafactory", "axolotl", "trl"]] = Field(
        default_factory=list,
        description="write OUT.<trainer>.yaml, the trainer config that reads OUT (repeatable)",
    )
    duplicates: Literal["error", "drop", "keep"] = Field(DEFAULT_DUPLICATES, description=DUPLICATES_HELP)
    seed: int = Field(0, ge=0, description="seed of the shuffle")
    upsample: int = Field(1, ge=1, description="times each safety pick appears")
    eval_files: list[str] = Field(
        default_factory=list,
        description="evaluation prompt file to guard against (repeatable; any supported layout)",
        json_schema_extra={"flags": ["--eval"]},
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
    if clash := {e.id for e in benign} & {p.id for p in picks}:
        raise _clash_error(clash)
    rows = list(benign) + [p for p in picks for _ in range(upsample)]
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def _clash_error(clash: set[str]) -> ConfigError:
    return ConfigError(f"{len(clash)} pick(s) are already in the benign set, e.g. {sorted(clash)[:3]}")


def _text_key(ex: Example) -> tuple[str, str, str]:
    return (ex.instruction, ex.input, ex.response)


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
    chunk_size: int = 4096,
    max_line_bytes: int | None = None,
) -> dict:
    """Read, guard, mix and write; returns the manifest (also written next to ``out``).

    The benign set streams: it is read chunk by chunk, each example is encoded once in the
    output format into a temporary spill file beside ``out`` (its byte offset kept, 8 bytes
    per row), checked against the evaluation prompts, and the mix is then written by copying
    the spilled bytes in shuffled order. Memory holds the picks, the offsets, the
    permutation and (unless ``duplicates="keep"``) each benign id, never the benign texts;
    the output is byte-identical to ``write_examples(out, mix_examples(benign, picks, ...))``.

    Raises
    ------
    ContaminationError
        When a training prompt matches an evaluation prompt and contamination is not allowed.
        Nothing is written then.
    """
    config = config or MixConfig()
    fmt = config.format
    target = Path(out)
    inputs = {"benign": benign_path, "picks": picks_path} | {
        f"eval[{i}]": p for i, p in enumerate(config.eval_files)
    }
    if config.dataset_info:
        inputs["dataset_info"] = config.dataset_info
    run = RunRecord("mix", target, manifest_path(target), inputs)  # refuses --out = an input
    from safetymix.integrations.configs import check_trainer

    for trainer in config.emit_config:
        check_trainer(trainer, fmt, config.sharegpt_roles)
    if config.dataset_info:
        check_trainer("llamafactory", fmt)
    with run:
        picks = read_examples(picks_path)
        pick_ids = {p.id for p in picks}
        pick_texts = {_text_key(p): p.id for p in picks}
        prompts: list[EvalPrompt] = [p for path in config.eval_files for p in read_eval_prompts(path)]
        encoder = Encoder(config.embedding_model, show_progress=False)

        def overlaps(examples: Sequence[Example]) -> list[dict]:
            if not prompts:
                return []
            return find_overlaps(
                examples, prompts, threshold=config.contamination_threshold, encode=encoder.encode
            )

        spill_path = temp_path(target, "spill")
        offsets = array("q", [0])
        clash: set[str] = set()
        same_text: dict[str, str] = {}
        matches: list[dict] = []
        encode = RecordEncoder(fmt, path=target, sharegpt_roles=config.sharegpt_roles, lossy="first-turn")
        hint = "--duplicates drop drops it, keep keeps it"
        rule = DuplicateIds(config.duplicates, str(benign_path), "record", hint)
        n_read = 0
        label = "embedding benign set (contamination check)" if prompts else "reading benign set"
        try:
            with open(spill_path, "w+b") as spill:
                # A benign set may hold exact duplicates (alpaca_en_demo has 14): config.duplicates.
                snapshot = FileSnapshot.take(benign_path) if Path(benign_path).is_file() else None
                chunks = iter_chunks(
                    benign_path,
                    chunk_size=chunk_size,
                    max_line_bytes=max_line_bytes or DEFAULT_MAX_LINE_BYTES,
                    snapshot=snapshot,
                )
                with progress_bar(label, None, enabled=show_progress) as advance:
                    for chunk in chunks:
                        if config.duplicates != "keep":
                            first_row, n_read = n_read + 1, n_read + len(chunk)
                            chunk = [ex for i, ex in enumerate(chunk, first_row) if rule.keep(i, ex)]
                        for ex in chunk:
                            if ex.id in pick_ids:
                                clash.add(ex.id)
                            elif (twin := pick_texts.get(_text_key(ex))) is not None:
                                same_text[twin] = ex.id
                            spill.write(encode(ex))
                            offsets.append(spill.tell())
                        matches += overlaps(chunk)
                        advance(len(chunk))
                if clash:
                    raise _clash_error(clash)
                if same_text:
                    pairs = [f"{k} = benign {v}" for k, v in sorted(same_text.items())[:3]]
                    raise ConfigError(
                        f"{len(same_text)} pick(s) have the same texts as a benign example under "
                        f"another id, so they would be mixed in twice, e.g. {', '.join(pairs)}"
                    )
                n_benign, dropped = len(offsets) - 1, rule.dropped
                matches += overlaps(picks)
                matches.sort(key=lambda m: (m["kind"] != "exact", -m["score"], m["train_id"]))
                contamination: dict = {"checked": bool(config.eval_files), "matches": matches}
                if config.eval_files:
                    contamination["overridden"] = bool(matches) and config.allow_contamination
                if matches and not config.allow_contamination:
                    raise ContaminationError(matches)
                pick_bytes = [encode(p) for p in picks]
                if encode.lossy_ids and config.lossy == "error":
                    reasons = "; ".join(f"{n} with {why}" for why, n in sorted(encode.lossy_reasons.items()))
                    raise ConfigError(
                        f"{len(encode.lossy_ids)} example(s) cannot be held by format {fmt!r} ({reasons}), "
                        f"e.g. {encode.lossy_ids[:3]}; use --format sharegpt, messages or jsonl to keep "
                        "them, or --lossy warn to write their first exchange only"
                    )
                # Rows as mix_examples orders them: benign rows, then each pick upsample times.
                rows = n_benign + len(picks) * config.upsample
                order = np.random.default_rng(config.seed).permutation(rows)

                def items() -> Iterator[bytes]:
                    for i in order.tolist():
                        if i < n_benign:
                            spill.seek(offsets[i])
                            yield spill.read(offsets[i + 1] - offsets[i])
                        else:
                            yield pick_bytes[(i - n_benign) // config.upsample]

                write_encoded(run.staged, items(), fmt, array=encode.array)
        finally:
            spill_path.unlink(missing_ok=True)
        warnings = []
        if encode.lossy_ids:
            warnings.append(
                f"{len(encode.lossy_ids)} example(s) written as their first exchange only: "
                f"{fmt} cannot hold their turns"
            )
        if dropped:
            warnings.append(f"dropped {dropped} duplicate benign record(s) (--duplicates keep keeps them)")
        dataset_info = config.dataset_info
        if dataset_info is None and "llamafactory" in config.emit_config:
            dataset_info = str(target.parent)  # LLaMA-Factory needs an entry: beside the mix
        name = config.dataset_name or target.stem
        if dataset_info:
            write_dataset_info(
                dataset_info,
                name,
                target,
                fmt,
                columns=encode.columns,
                sharegpt_roles=config.sharegpt_roles,
            )
            if fmt == "jsonl" and encode.multi_turn:
                warnings.append(
                    f"LLaMA-Factory reads only the first exchange of the {encode.multi_turn} multi-turn "
                    "example(s) from a jsonl entry; --format sharegpt or messages keeps every turn"
                )
        emitted = {}
        for trainer in config.emit_config:
            emitted[trainer] = str(
                _emit_config(trainer, target, config, encode.columns, dataset_info, name, warnings)
            )
        manifest = run.commit(
            {
                "output": {"format": fmt},
                "counts": {
                    "benign": n_benign,
                    "benign_duplicates_dropped": dropped,
                    "picks": len(picks),
                    "upsample": config.upsample,
                    "total": rows,
                    "safety_share": round(len(picks) * config.upsample / max(rows, 1), 6),
                },
                "columns": sorted(encode.columns),
                "lossy": {"count": len(encode.lossy_ids), "reasons": dict(encode.lossy_reasons)}
                | {"ids": encode.lossy_ids[:100]},
                "multi_turn": encode.multi_turn,
                "warnings": warnings,
                "trainer_configs": emitted,
                "picks": [{"id": p.id, "reason": p.extra.get("reason")} for p in picks],
                "contamination": contamination,
                "config": config.model_dump(),
            }
        )
    return manifest


def _emit_config(
    trainer: str,
    target: Path,
    config: MixConfig,
    columns: set[str],
    dataset_info: str | None,
    name: str,
    warnings: list[str],
) -> Path:
    from safetymix.integrations.configs import config_path, fragment_yaml, trainer_config
    from safetymix.io.dataset_info import dataset_info_path

    folder = dataset_info_path(dataset_info).parent if dataset_info else None
    fragment, notes = trainer_config(
        trainer,
        target,
        config.format,
        columns=columns,
        sharegpt_roles=config.sharegpt_roles,
        dataset_dir=folder,
        dataset_name=name,
    )
    warnings += notes
    path = config_path(target, trainer)
    with atomic_write(path) as fh:
        fh.write(fragment_yaml(trainer, fragment, target))
    return path

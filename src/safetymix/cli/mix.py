"""``safetymix mix``: benign set + picks -> one training file and its manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import build_config, console, handle_errors
from safetymix.io.readers import DUPLICATES_HELP


@handle_errors
def mix_command(
    benign: Path = typer.Argument(..., help="your benign fine-tuning set"),
    picks: Path = typer.Argument(..., help="safety picks written by safetymix select"),
    out: Path = typer.Option(..., "--out", "-o", help="training file to write"),
    format: str = typer.Option(
        None,
        help="alpaca | alpaca-jsonl | sharegpt | messages | prompt-completion | jsonl (default: alpaca); "
        "a .json name gets a JSON array, .jsonl JSON Lines",
    ),
    sharegpt_roles: str = typer.Option(
        None, help="human/gpt (LLaMA-Factory) | user/assistant (TRL, Axolotl) (default: human/gpt)"
    ),
    lossy: str = typer.Option(
        None, help="error | warn: an example the format cannot hold is refused or cut to its first exchange"
    ),
    duplicates: str = typer.Option(None, help=DUPLICATES_HELP),
    emit_config: list[str] = typer.Option(
        None,
        "--emit-config",
        help="llamafactory | axolotl | trl: write OUT.<trainer>.yaml, the config that reads OUT (repeatable)",
    ),
    seed: int = typer.Option(None, help="seed of the shuffle (default: 0)"),
    upsample: int = typer.Option(None, help="times each pick appears (default: 1)"),
    eval: list[str] = typer.Option(
        None, "--eval", help="evaluation prompt file to guard against (repeatable)"
    ),
    allow_contamination: bool = typer.Option(
        None, "--allow-contamination", help="write even if training prompts overlap --eval prompts"
    ),
    dataset_info: str = typer.Option(None, help="LLaMA-Factory dataset_info.json to add an entry to"),
    dataset_name: str = typer.Option(None, help="name of that entry (default: output file stem)"),
    config: Path = typer.Option(None, help="YAML file of these options (flags override it)"),
) -> None:
    """Mix BENIGN and PICKS into OUT (every benign example exactly once) + OUT.manifest.json."""
    from safetymix.mix import MixConfig, manifest_path, run_mix

    cfg = build_config(
        MixConfig,
        config,
        format=format,
        sharegpt_roles=sharegpt_roles,
        lossy=lossy,
        duplicates=duplicates,
        emit_config=emit_config or None,
        seed=seed,
        upsample=upsample,
        eval_files=eval or None,
        allow_contamination=allow_contamination,
        dataset_info=dataset_info,
        dataset_name=dataset_name,
    )
    manifest = run_mix(benign, picks, out, cfg, show_progress=True)
    c = manifest["counts"]
    console.print(
        f"wrote {c['total']} examples ({c['benign']} benign + {c['picks']} picks x {c['upsample']}, "
        f"safety share {c['safety_share']:.2%}) -> {out}; manifest {manifest_path(out)}"
    )
    for trainer, path in manifest["trainer_configs"].items():
        console.print(f"{trainer} config: {path}")
    for warning in manifest["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if manifest["contamination"].get("overridden"):
        console.print(
            f"[yellow]warning:[/yellow] {len(manifest['contamination']['matches'])} contaminated pair(s) "
            "kept because of --allow-contamination"
        )

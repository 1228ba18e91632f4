"""``safetymix mix``: benign set + picks -> one training file and its manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import config_command, console
from safetymix.mix import MixConfig


@config_command(MixConfig)
def mix_command(
    benign: Path = typer.Argument(..., help="your benign fine-tuning set"),
    picks: Path = typer.Argument(..., help="safety picks written by safetymix select"),
    out: Path = typer.Option(..., "--out", "-o", help="training file to write"),
    *,
    cfg: MixConfig,
) -> None:
    """Mix BENIGN and PICKS into OUT (every benign example exactly once) + OUT.manifest.json."""
    from safetymix.mix import manifest_path, run_mix

    if not cfg.eval_files:
        console.print(
            "[yellow]warning:[/yellow] no --eval file given: the contamination guard did not run "
            "(pass the prompts you will evaluate on)"
        )
    manifest = run_mix(benign, picks, out, cfg, show_progress=True)
    c = manifest["counts"]
    console.print(
        f"wrote {c['total']} examples ({c['benign']} benign + {c['picks']} picks x {c['upsample']}, "
        f"safety share {c['safety_share']:.2%}) -> {out}; manifest {manifest_path(out)}"
    )
    if manifest["contamination"].get("overridden"):
        console.print(
            f"[yellow]warning:[/yellow] {len(manifest['contamination']['matches'])} contaminated pair(s) "
            "kept because of --allow-contamination"
        )

"""``safetymix embed``: prompt embeddings of a file, through the cache, as a memory-mapped .npy array."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from pydantic import Field

from safetymix.cli.options import config_command, console
from safetymix.embed import DEFAULT_MODEL
from safetymix.engine import EngineOptions


class EmbedConfig(EngineOptions):
    """Options of ``safetymix embed``."""

    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model")
    field: Literal["prompt", "response"] = Field("prompt", description="which text of each record")
    batch_size: int = Field(64, ge=1, description="texts per forward pass")
    dtype: Literal["float32", "float16"] = Field(
        "float32", description="float16 halves the file; the cache stays float32"
    )


@config_command(EmbedConfig)
def embed_command(
    data: Path = typer.Argument(..., help="records to embed (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help=".npy file of (n, d) L2-normalised rows"),
    *,
    cfg: EmbedConfig,
) -> None:
    """Embed DATA's prompts (or responses) into OUT, chunk by chunk; reruns and killed runs read the cache.

    OUT opens with numpy.load(OUT, mmap_mode="r"); OUT.embed.json records the run.
    """
    from safetymix.embed import embed_file
    from safetymix.embed.storage import write_embed_report

    runner = cfg.build_engine()
    with runner:
        encoder = runner.encoder(cfg.model, batch_size=cfg.batch_size, chunk_size=cfg.chunk_size)
        report = embed_file(
            data,
            out,
            encoder=encoder,
            field=cfg.field,
            dtype=cfg.dtype,
            max_line_bytes=cfg.max_line_bytes,
            show_progress=True,
        )
    report["engine"] = cfg.engine
    write_embed_report(out.with_name(out.name + ".embed.json"), report)
    console.print(
        f"embedded {report['n_texts']} texts -> {out} {tuple(report['shape'])} {report['dtype']} "
        f"({report['n_encoded']} encoded, {report['n_cached']} from the cache, "
        f"{report['n_repeated']} repeats)"
    )

"""``safetymix embed``: prompt embeddings of a file, through the cache, as a memory-mapped .npy array."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import console, handle_errors


@handle_errors
def embed_command(
    data: Path = typer.Argument(..., help="records to embed (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help=".npy file of (n, d) L2-normalised rows"),
    model: str = typer.Option(None, help="sentence-transformers model (default: all-MiniLM-L6-v2)"),
    field: str = typer.Option("prompt", help="prompt | response"),
    batch_size: int = typer.Option(64, help="texts per forward pass"),
    dtype: str = typer.Option("float32", help="float32 | float16 (half the file; the cache stays float32)"),
    chunk_size: int = typer.Option(
        None, help="texts per chunk, the unit of cache writes and resumption (default: 4096; ray: 32768)"
    ),
    engine: str = typer.Option("local", help="local | ray"),
    ray_address: str = typer.Option(
        None, help="Ray cluster for --engine ray, e.g. ray://head:10001 (default: $RAY_ADDRESS or local)"
    ),
    ray_gpus: float = typer.Option(None, help="GPUs per Ray actor, e.g. 1 for a guard model (default: 0)"),
    max_line_bytes: int = typer.Option(None, help="longest accepted input line (default: 64 MiB)"),
) -> None:
    """Embed DATA's prompts (or responses) into OUT, chunk by chunk; reruns and killed runs read the cache.

    OUT opens with numpy.load(OUT, mmap_mode="r"); OUT.embed.json records the run.
    """
    from safetymix.embed import DEFAULT_MODEL, embed_file
    from safetymix.embed.storage import write_embed_report
    from safetymix.engine import get_engine
    from safetymix.errors import ConfigError

    if (ray_address is not None or ray_gpus is not None) and engine != "ray":
        raise ConfigError("--ray-address and --ray-gpus need --engine ray")
    ray_params = {"address": ray_address, "num_gpus_per_actor": ray_gpus}
    runner = get_engine(engine, **{k: v for k, v in ray_params.items() if v is not None})
    with runner:
        encoder = runner.encoder(model or DEFAULT_MODEL, batch_size=batch_size, chunk_size=chunk_size)
        report = embed_file(
            data,
            out,
            encoder=encoder,
            field=field,  # type: ignore[arg-type]
            dtype=dtype,  # type: ignore[arg-type]
            max_line_bytes=max_line_bytes,
            show_progress=True,
        )
    report["engine"] = engine
    write_embed_report(out.with_name(out.name + ".embed.json"), report)
    console.print(
        f"embedded {report['n_texts']} texts -> {out} {tuple(report['shape'])} {report['dtype']} "
        f"({report['n_encoded']} encoded, {report['n_cached']} from the cache, "
        f"{report['n_repeated']} repeats)"
    )

"""``safetymix embed``: prompt embeddings of a file, through the cache, as a .npy array."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import console, handle_errors


@handle_errors
def embed_command(
    data: Path = typer.Argument(..., help="records to embed"),
    out: Path = typer.Option(..., "--out", "-o", help=".npy file of float32 (n, d) L2-normalised rows"),
    model: str = typer.Option(None, help="sentence-transformers model (default: all-MiniLM-L6-v2)"),
    field: str = typer.Option("prompt", help="prompt | response"),
    batch_size: int = typer.Option(64, help="texts per forward pass"),
) -> None:
    """Embed DATA's prompts (or responses) into OUT; reruns read the cache."""
    import numpy as np

    from safetymix.embed import DEFAULT_MODEL, Encoder
    from safetymix.errors import ConfigError
    from safetymix.io import atomic_write, read_examples

    if field not in ("prompt", "response"):
        raise ConfigError(f"--field must be prompt or response, got {field!r}")
    records = read_examples(data, allow_missing_response=field == "prompt")
    texts = [e.prompt if field == "prompt" else e.response for e in records]
    vecs = Encoder(model or DEFAULT_MODEL, batch_size=batch_size, show_progress=True).encode(texts)
    with atomic_write(out, mode="wb") as fh:
        np.save(fh, vecs, allow_pickle=False)
    console.print(f"embedded {len(texts)} texts -> {out} {vecs.shape}")

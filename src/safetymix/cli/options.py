"""What every command shares: the stderr console, YAML + flag config merging, error exits."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from safetymix.errors import ContaminationError, DataFormatError, SafetymixError

console = Console(stderr=True, highlight=False, soft_wrap=True)
M = TypeVar("M", bound=BaseModel)

#: Exit codes: 1 bad input or option, 2 contamination found.
EXIT_ERROR, EXIT_CONTAMINATED = 1, 2


def build_config(model: type[M], config_file: Path | None, /, **flags: Any) -> M:
    """YAML file first, then every flag that was given (not None) on top; unknown keys fail."""
    data: dict[str, Any] = {}
    if config_file is not None:
        import yaml

        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DataFormatError(f"cannot read config: {exc}", path=config_file) from exc
        if not isinstance(loaded, dict):
            raise DataFormatError("a config file must be a YAML mapping", path=config_file)
        data.update(loaded)
    data.update({k: v for k, v in flags.items() if v is not None})
    try:
        return model(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SafetymixError(f"invalid options: {problems}") from exc


def parse_params(items: list[str] | None) -> dict[str, Any] | None:
    """``--param key=value`` pairs; values parsed as YAML scalars (numbers, booleans)."""
    if not items:
        return None
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SafetymixError(f"--param takes key=value, got {item!r}")
        out[key.replace("-", "_")] = yaml.safe_load(value)
    return out


def handle_errors(fn: Callable) -> Callable:
    """Turn safetymix's own errors into a red message and a non-zero exit (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ContaminationError as exc:
            console.print(f"[red]contamination:[/red] {exc}", markup=True)
            console.print("pass --allow-contamination to write the mix anyway (the manifest records it)")
            raise typer.Exit(EXIT_CONTAMINATED) from exc
        except SafetymixError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_ERROR) from exc

    return wrapper

"""What every command shares: options generated from config models, YAML merging, error exits.

:func:`config_command` turns a stage's :class:`~safetymix.stage_config.StageConfig` into a
typer command: one ``--flag`` per field (help, default and choices from the field), the
listed fields as positional arguments, and ``--config YAML`` (YAML keys are the field
names; flags given on the command line override them). The decorated function receives the
validated config as the keyword argument ``cfg``, plus any parameters of its own (typer
arguments/options that are not part of the stage's options, e.g. an output path)::

    @config_command(TrainConfig, arguments=("data",))
    def train_command(*, cfg: TrainConfig) -> None:
        train(cfg)

Adding a field to the config model is all it takes to add a flag and a YAML key::

    my_option: int = Field(3, ge=1, description="what it does")   # -> --my-option, my_option:

Per field: ``json_schema_extra={"flags": ["--short"]}`` adds CLI names, ``{"cli": False}``
keeps it YAML-only, ``{"cli_type": "str"}`` parses the flag as text for the model to read
(``--max-harmfulness 20%``); a ``bool`` becomes ``--x/--no-x``; a ``Literal`` lists its choices; a
``list`` repeats; a ``dict`` takes repeatable ``key=value``. Flags left out do not override
the YAML file. Usage errors (bad type, unknown choice) are click's, exit 2; values the model
rejects are one ``error:`` line, exit 1.
"""

from __future__ import annotations

import errno
import inspect
import types
import typing
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from safetymix.errors import ContaminationError, DataFormatError, SafetymixError
from safetymix.stage_config import field_flags

console = Console(stderr=True, highlight=False, soft_wrap=True)
M = TypeVar("M", bound=BaseModel)

#: File-system errors reported in one line rather than a traceback.
_FS_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.ENAMETOOLONG,
    errno.EFBIG,
}
#: Exit codes: 1 bad input or option, 2 contamination found.
EXIT_ERROR, EXIT_CONTAMINATED = 1, 2


def build_config(model: type[M], config_file: Path | None, /, **flags: Any) -> M:
    """YAML file first, then every flag that was given (not None) on top; unknown keys fail.

    Messages name the field, the value given and what is valid, one problem per clause.
    """
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
        raise SafetymixError(f"invalid options: {_problems(exc)}") from exc


def _problems(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(map(str, e["loc"]))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            flag = f"--{where.replace('_', '-')} or " if len(e["loc"]) == 1 else ""
            msg = f"required ({flag}{where}: in the YAML config)"
        elif e["type"] != "extra_forbidden" and not isinstance(e.get("input"), (dict, BaseModel)):
            got = repr(e.get("input"))
            msg += "" if got in msg else f" (got {got})"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _cli_annotation(annotation: Any) -> Any:
    """The type typer parses a field's flag as (None always means "not given")."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _cli_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _cli_annotation(args[0]) if len(args) == 1 else str  # e.g. list | "all-linear"
    if origin is Literal:
        return annotation if all(isinstance(a, str) for a in typing.get_args(annotation)) else str
    if origin in (list, tuple, set):
        (item, *_) = typing.get_args(annotation) or (str,)
        return list[item if item in (int, float, str, Path) else str]
    if origin is dict:
        return list[str]  # key=value, repeatable
    return annotation if annotation in (int, float, str, bool, Path) else str


def _show_default(info: Any) -> str:
    if info.is_required():
        return " [required]"
    value = info.get_default(call_default_factory=True)
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f" [default: {value}]"


def _field_parameter(name: str, info: Any, *, argument: bool) -> inspect.Parameter:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    cli_type = {"str": str}.get(extra.get("cli_type", ""), None) or _cli_annotation(info.annotation)
    help_text = (info.description or "") + _show_default(info)
    if argument:
        default: Any = typer.Argument(None, help=help_text, show_default=False)
    elif cli_type is bool:
        flag = f"--{name.replace('_', '-')}"
        default = typer.Option(None, f"{flag}/--no-{flag[2:]}", help=help_text, show_default=False)
    else:
        default = typer.Option(None, *field_flags(name, info), help=help_text, show_default=False)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=cli_type | None
    )


def config_command(
    model: type[BaseModel], *, arguments: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a typer command whose options are ``model``'s fields (see the module docstring).

    Parameters
    ----------
    model : type of StageConfig
        The stage's options.
    arguments : tuple of str
        Fields taken as positional arguments, in this order.
    skip : tuple of str
        Fields that get no flag (they stay settable from ``--config`` and Python). Fields with
        ``json_schema_extra={"cli": False}`` are skipped too.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "cfg"]
        params = [_field_parameter(n, model.model_fields[n], argument=True) for n in arguments]
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if name in arguments or name in skip or extra.get("cli") is False:
                continue
            params.append(_field_parameter(name, info, argument=False))
        config_help = f"YAML file of {model.__name__} fields (flags given here override it)"
        params.append(
            inspect.Parameter(
                "config",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, "--config", help=config_help),
                annotation=Path | None,
            )
        )
        params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        own_names = {p.name for p in own}
        dict_fields = {n for n, i in model.model_fields.items() if typing.get_origin(i.annotation) is dict}

        @handle_errors
        def command(**kwargs: Any) -> Any:
            config_file = kwargs.pop("config")
            mine = {k: kwargs.pop(k) for k in own_names}
            flags = {
                k: (parse_params(v) if k in dict_fields else (list(v) if isinstance(v, tuple) else v))
                for k, v in kwargs.items()
                if v not in (None, (), [])
            }
            return fn(cfg=build_config(model, config_file, **flags), **mine)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__, command.__name__ = fn.__doc__, fn.__name__
        command.__module__, command.__qualname__ = fn.__module__, fn.__qualname__
        return command

    return decorate


def stdout_console(width: int = 120) -> Console:
    """Rich console on stdout; files and pipes get ``width`` columns (the whole table, not 80)."""
    stdout = Console()
    return stdout if stdout.is_terminal else Console(width=width)


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
        except OSError as exc:
            # The file system refused (disk full, read-only, no permission): say so in one line.
            if exc.errno not in _FS_ERRORS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            console.print(f"[red]error:[/red] {where}{exc.strerror or exc}; nothing was published")
            raise typer.Exit(EXIT_ERROR) from exc

    return wrapper

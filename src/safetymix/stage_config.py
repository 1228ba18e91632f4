"""``StageConfig``: the base of every stage's options model; each option is declared once here.

A stage (train, select, mix, ...) declares its options as fields of one pydantic model that
derives from :class:`StageConfig`. The field is the only declaration: its default, its
constraint (``ge=``, ``Literal[...]``) and its ``description`` become the YAML key, the
``--kebab-case`` CLI flag with its help text (:func:`safetymix.cli.options.config_command`)
and a line of the class docstring. To add an option, add a field::

    lora_r: int = Field(8, ge=1, description="LoRA rank")

Optional per-field settings go in ``json_schema_extra``:

- ``{"flags": ["--epochs"]}`` extra CLI names (the kebab-case field name always works);
- ``{"cli": False}`` YAML and Python only (nested sections, values a flag cannot spell).

Types are strict where Python is lenient: a boolean is never accepted for an int or float
field (YAML ``seed: true`` is an error, not 1).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = ["StageConfig", "field_flags", "is_numeric"]


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def is_numeric(annotation: Any) -> bool:
    """True for ``int``/``float`` fields (optional or not), where a bool must be refused."""
    inner = _strip_optional(annotation)
    return inner in (int, float)


def field_flags(name: str, info: Any) -> list[str]:
    """The CLI names of a field: ``--kebab-case`` plus any ``json_schema_extra["flags"]``."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return [f"--{name.replace('_', '-')}", *extra.get("flags", [])]


class NamedSpec(BaseModel):
    """A registry name with its parameters and a label for reports (a judge, a strategy).

    A plain string in YAML is the name alone; subclasses check the name and fill the label.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class StageConfig(BaseModel):
    """Base of the stage configs: unknown keys fail, booleans are not numbers.

    Subclasses get an "Options" section appended to their docstring, one line per field
    (name, type, default, description), so the help text is written once.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and is_numeric(field.annotation):
            raise ValueError(f"expected a number, got the boolean {value}")
        return value

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        lines = []
        for name, info in cls.model_fields.items():
            if not info.description:
                continue
            default = (
                "required"
                if info.is_required()
                else f"default {info.get_default(call_default_factory=True)!r}"
            )
            lines.append(f"    {name} ({default}): {info.description}")
        if lines and "\n    Options\n" not in (cls.__doc__ or ""):
            cls.__doc__ = (
                (cls.__doc__ or "").rstrip() + "\n\n    Options\n    -------\n" + "\n".join(lines) + "\n"
            )

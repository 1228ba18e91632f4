"""Suites from the user's own files: ``name=path:kind[:category_field]`` or a YAML file.

A suites YAML is a list (or a mapping with a ``suites`` list) of entries such as::

    - name: support-redteam
      path: redteam.jsonl          # relative to the YAML file's folder
      kind: harmful                # harmful | over-refusal | helpfulness
      category_field: topic        # optional: a record key holding the category
      filters: {split: test}       # optional: keep records whose key equals the value
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from safetymix.errors import ConfigError, DataFormatError
from safetymix.eval.suites import KINDS, SuiteSpec, check_kind


def parse_suite_arg(text: str) -> SuiteSpec:
    """Parse ``name=path:kind`` or ``name=path:kind:category_field`` into a user suite.

    Examples
    --------
    >>> parse_suite_arg("mine=data/red.jsonl:harmful:topic").category_field
    'topic'
    """
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or not name or len(parts) < 2:
        raise ConfigError(f"--suite-file takes name=path:kind[:category_field]; got {text!r}")
    if parts[-1] in KINDS:
        path, kind, category = ":".join(parts[:-1]), parts[-1], None
    elif len(parts) >= 3 and parts[-2] in KINDS:
        path, kind, category = ":".join(parts[:-2]), parts[-2], parts[-1] or None
    else:
        raise ConfigError(f"--suite-file {text!r}: the kind must be one of {', '.join(KINDS)}")
    if not path:
        raise ConfigError(f"--suite-file {text!r} has no path")
    return SuiteSpec(name, kind, path, f"user suite from {path}", category, builtin=False)


class UserSuite(BaseModel):
    """One suite of a suites YAML file (or of ``suite_files`` in an eval config)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    kind: str
    category_field: str | None = None
    filters: dict[str, str] = {}
    description: str = ""

    def to_spec(self) -> SuiteSpec:
        check_kind(self.kind, f"suite {self.name!r}")
        return SuiteSpec(
            self.name,
            self.kind,
            self.path,
            self.description or f"user suite from {self.path}",
            self.category_field,
            tuple(sorted(self.filters.items())),
            builtin=False,
        )


def read_suite_yaml(path: str | Path) -> list[SuiteSpec]:
    """Read user suites from YAML: a list of suites, or a mapping with a ``suites`` list.

    Each suite has ``name``, ``path`` (relative paths are taken from the YAML file's
    folder), ``kind`` and optional ``category_field``, ``filters`` and ``description``.

    Raises
    ------
    DataFormatError
        Unreadable YAML or a suite with missing or unknown keys.
    """
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataFormatError(f"cannot read suites YAML: {exc}", path=path) from exc
    if isinstance(data, dict):
        data = data.get("suites")
    if not isinstance(data, list):
        raise DataFormatError("expected a list of suites (or a mapping with a 'suites' list)", path=path)
    specs = []
    for i, entry in enumerate(data):
        try:
            suite = UserSuite(**entry) if isinstance(entry, dict) else UserSuite.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise DataFormatError(f"suite #{i + 1}: {problems}", path=path) from exc
        if not Path(suite.path).is_absolute():
            suite = suite.model_copy(update={"path": str(p.parent / suite.path)})
        specs.append(suite.to_spec())
    return specs

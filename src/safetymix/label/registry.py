"""Labellers by name: one literal dict per kind and one lookup function each.

Behaviour labellers give each pair the flags harmful_request / refusal / harmful_response;
category labellers give it a list of harm categories. Names are what ``--behaviour-labeller``
and ``--category-labeller`` accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safetymix.errors import ConfigError, build_by_name, check_name, redact
from safetymix.label.behaviour import EmbeddingLabeller, RulesLabeller
from safetymix.label.category import EmbeddingCategoryLabeller
from safetymix.label.guard import GuardLabeller, OpenAIGuardLabeller
from safetymix.label.judge_category import JudgeCategoryLabeller

BEHAVIOUR_LABELLERS: dict[str, type] = {
    "rules": RulesLabeller,
    "embedding": EmbeddingLabeller,
    "guard": GuardLabeller,
    "openai-guard": OpenAIGuardLabeller,
}

CATEGORY_LABELLERS: dict[str, type] = {
    "embedding": EmbeddingCategoryLabeller,
    "judge": JudgeCategoryLabeller,
}

#: The run options each labeller takes, declared once: option name -> keyword argument.
#: Every command (label, select, sweep, demo) and YAML file passes options through this
#: table, so a labeller gets exactly its own (no ``base_url`` for the embedding heads).
LABELLER_OPTIONS: dict[tuple[str, str], dict[str, str]] = {
    ("behaviour", "rules"): {},
    ("behaviour", "embedding"): {"heads": "heads_dir"},
    ("behaviour", "guard"): {"labeller_model": "model"},
    ("behaviour", "openai-guard"): {
        "base_url": "base_url",
        "labeller_model": "model",
        "api_key_env": "api_key_env",
    },
    ("category", "embedding"): {"taxonomy": "taxonomy", "embedding_model": "model"},
    ("category", "judge"): {
        "base_url": "base_url",
        "labeller_model": "model",
        "taxonomy": "taxonomy",
        "api_key_env": "api_key_env",
    },
}
#: Options a labeller cannot run without, and the flag that gives each.
_REQUIRED = {"base_url": "--base-url", "labeller_model": "--labeller-model"}


def labeller_spec(kind: str, name: str, options: dict[str, Any]) -> LabellerSpec:
    """The :class:`LabellerSpec` of labeller ``name`` with the options it takes from ``options``.

    Options the labeller does not take are ignored; a required one that is missing raises.
    """
    table = LABELLER_OPTIONS.get((kind, name))
    if table is None:
        valid = ", ".join(n for k, n in LABELLER_OPTIONS if k == kind)
        raise ConfigError(f"unknown {kind} labeller {name!r}; valid: {valid}")
    missing = [_REQUIRED[o] for o in table if o in _REQUIRED and options.get(o) is None]
    if missing:
        raise ConfigError(f"the {kind} labeller {name!r} needs {' and '.join(missing)}")
    params = {arg: options[o] for o, arg in table.items() if options.get(o) is not None}
    return LabellerSpec(kind, name, params)


#: Offline defaults used when a pool arrives without labels (see README for their accuracy).
DEFAULT_BEHAVIOUR_LABELLER = "embedding"
DEFAULT_CATEGORY_LABELLER = "embedding"


def get_behaviour_labeller(name: str = DEFAULT_BEHAVIOUR_LABELLER, **params: Any):
    """Build the behaviour labeller called ``name``; unknown names list every valid one."""
    return build_by_name("behaviour labeller", BEHAVIOUR_LABELLERS, name, params)


def get_category_labeller(name: str = DEFAULT_CATEGORY_LABELLER, **params: Any):
    """Build the category labeller called ``name``; unknown names list every valid one."""
    return build_by_name("category labeller", CATEGORY_LABELLERS, name, params)


def available_labellers() -> dict[str, list[str]]:
    return {"behaviour": list(BEHAVIOUR_LABELLERS), "category": list(CATEGORY_LABELLERS)}


@dataclass(frozen=True)
class LabellerSpec:
    """A labeller named by registry key and parameters, built where it runs.

    A spec is small and picklable, so a distributed engine can send it to its workers,
    which build (and load the model of) the labeller once each; its :meth:`describe` is
    stable across runs, so it also fingerprints a resumable labelling run.

    Parameters
    ----------
    kind : {"behaviour", "category"}
    name : str
        Key of :data:`BEHAVIOUR_LABELLERS` or :data:`CATEGORY_LABELLERS`.
    params : dict
        Keyword arguments of the labeller (JSON-like values).

    Examples
    --------
    >>> LabellerSpec("behaviour", "rules").build().name
    'rules'
    """

    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        table = {"behaviour": BEHAVIOUR_LABELLERS, "category": CATEGORY_LABELLERS}.get(self.kind)
        if table is None:
            raise ConfigError(f"labeller kind must be 'behaviour' or 'category', got {self.kind!r}")
        check_name(f"{self.kind} labeller", table, self.name)

    def build(self):
        """The labeller object (loads nothing yet: models load on first use)."""
        if self.kind == "behaviour":
            return get_behaviour_labeller(self.name, **self.params)
        return get_category_labeller(self.name, **self.params)

    @property
    def label_name(self) -> str:
        """What :func:`~safetymix.label.label_pool` reports as the labeller's name."""
        table = BEHAVIOUR_LABELLERS if self.kind == "behaviour" else CATEGORY_LABELLERS
        cls = table[self.name]
        return getattr(cls, "name", "") or cls.__name__

    def describe(self) -> dict[str, Any]:
        """JSON-ready ``{"kind", "name", "params"}`` (paths and other objects as strings)."""
        return {
            "kind": self.kind,
            "name": self.name,
            # no credential in a base_url's userinfo ever reaches a record or a message
            "params": {k: redact(str(v)) for k, v in sorted(self.params.items())},
        }

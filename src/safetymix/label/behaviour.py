"""Behaviour labelling: three flags per instruction-response pair, then a T1-T4 type.

This module gathers the offline behaviour labellers' public names; the code lives in:

- :mod:`safetymix.label.flags`: :class:`BehaviourFlags` (the three flags, as WildGuard
  gives them), the :class:`BehaviourLabeller` base class, :func:`apply_behaviour`;
- :mod:`safetymix.label.rules`: :class:`RulesLabeller` (``"rules"``): refusal phrases
  (XSTest's string match, extended), a keyword lexicon for harmful requests, and
  actionable-harm cues for harmful responses;
- :mod:`safetymix.label.heads`: :class:`EmbeddingLabeller` (``"embedding"``): three
  logistic-regression heads on sentence embeddings plus the rule cues, shipped as ``.npz``
  files and applied with numpy alone;
- :mod:`safetymix.label.head_training`: :func:`train_behaviour_heads` trains them from any
  labelled data.

"Refusal" follows XSTest and WildGuard: the response does not do what was asked. It
declines, deflects, or only argues against the request's premise (full refusal), or
mixes a refusal with some compliance (partial refusal). Guard-model labellers live in
:mod:`safetymix.label.guard`.
"""

from __future__ import annotations

from safetymix.io.manifest import sha256_file as file_sha256  # sha256 of a head's training file
from safetymix.label.flags import FLAGS, BehaviourFlags, BehaviourLabeller, apply_behaviour
from safetymix.label.head_training import load_labelled_jsonl, train_behaviour_heads
from safetymix.label.heads import (
    HEAD_VIEWS,
    HEADS_DIR,
    EmbeddingLabeller,
    Head,
    build_features,
    load_head,
    load_heads,
    save_head,
    stack_views,
)
from safetymix.label.rules import (
    ACTIONABLE_CUES,
    COMPLIANCE_CUES,
    HARM_LEXICON,
    HEAD_CHARS,
    MORALIZING,
    PREMISE_REJECTIONS,
    REFUSAL_PHRASES,
    RULE_FEATURES,
    SYMPATHY,
    XSTEST_REFUSAL_PREFIXES,
    RulesLabeller,
    harm_terms,
    has_actionable_cues,
    has_refusal_phrase,
    is_refusal_by_rules,
    normalise_text,
    refusal_rule_features,
    response_head,
)

__all__ = [
    "FLAGS",
    "BehaviourFlags",
    "BehaviourLabeller",
    "apply_behaviour",
    "HEAD_CHARS",
    "normalise_text",
    "response_head",
    "XSTEST_REFUSAL_PREFIXES",
    "REFUSAL_PHRASES",
    "SYMPATHY",
    "PREMISE_REJECTIONS",
    "MORALIZING",
    "COMPLIANCE_CUES",
    "ACTIONABLE_CUES",
    "RULE_FEATURES",
    "refusal_rule_features",
    "has_refusal_phrase",
    "is_refusal_by_rules",
    "HARM_LEXICON",
    "harm_terms",
    "has_actionable_cues",
    "RulesLabeller",
    "HEAD_VIEWS",
    "HEADS_DIR",
    "Head",
    "save_head",
    "load_head",
    "load_heads",
    "build_features",
    "stack_views",
    "EmbeddingLabeller",
    "file_sha256",
    "load_labelled_jsonl",
    "train_behaviour_heads",
]

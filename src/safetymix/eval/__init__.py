"""Eval stage: named suites of prompts, judged, summarised with intervals.

:func:`evaluate` runs an :class:`EvalConfig`: it reads the suites (:data:`SUITES`, or the
user's own files), refuses prompts that overlap the training set, gets responses (a file,
or generation), judges them and reports refusal / harmful rates (Wilson intervals) and
mean scores (bootstrap intervals), overall and per category.
"""

from __future__ import annotations

from safetymix.eval.config import EvalConfig
from safetymix.eval.report import report_table, write_report
from safetymix.eval.runner import evaluate, export_prompts, resolve_suites
from safetymix.eval.stats import bootstrap_interval, mean_summary, rate_summary, wilson_interval
from safetymix.eval.suites import (
    KINDS,
    SUITE_GROUPS,
    SUITES,
    EvalItem,
    SuiteSpec,
    available_suites,
    load_suite,
)

__all__ = [
    "KINDS",
    "SUITES",
    "SUITE_GROUPS",
    "EvalConfig",
    "EvalItem",
    "SuiteSpec",
    "available_suites",
    "bootstrap_interval",
    "evaluate",
    "export_prompts",
    "load_suite",
    "mean_summary",
    "rate_summary",
    "report_table",
    "resolve_suites",
    "wilson_interval",
    "write_report",
]

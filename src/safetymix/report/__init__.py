"""Sweep reports and the budget advisor: read a run folder, aggregate over seeds, draw, advise.

matplotlib, scikit-learn and the embedding model are imported only inside the functions
that draw or embed, so reading and aggregating a run needs numpy and scipy alone.
"""

from __future__ import annotations

from safetymix.report.advise import Advice, AdviseConfig, advise
from safetymix.report.advise_run import AdaptiveAdvice, advise_by_running
from safetymix.report.aggregate import (
    DEFAULT_REFERENCE,
    Aggregate,
    Estimate,
    Group,
    aggregate,
    pareto_front,
    relative_reduction,
    t_estimate,
)
from safetymix.report.build import ReportConfig, ReportResult, build_report
from safetymix.report.cells import BASELINE, METRICS, Cell, Run, read_run

__all__ = [
    "BASELINE",
    "DEFAULT_REFERENCE",
    "METRICS",
    "AdaptiveAdvice",
    "Advice",
    "AdviseConfig",
    "Aggregate",
    "Cell",
    "Estimate",
    "Group",
    "ReportConfig",
    "ReportResult",
    "Run",
    "advise",
    "advise_by_running",
    "aggregate",
    "build_report",
    "pareto_front",
    "read_run",
    "relative_reduction",
    "t_estimate",
]

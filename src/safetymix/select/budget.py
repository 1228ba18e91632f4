"""Budgets: a count (``"100"``) or a share of the benign set (``"0.5%"``)."""

from __future__ import annotations

import math
import re

from safetymix.errors import BudgetError

_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_COUNT = re.compile(r"^\s*(\d+)\s*$")


def resolve_budget(budget: str | int, n_train: int | None = None) -> int:
    """Turn a budget into a count of safety examples.

    Parameters
    ----------
    budget : str or int
        A count (``100``, ``"100"``) or a percentage of the benign set (``"0.5%"``).
    n_train : int, optional
        Size of the benign set; required for a percentage.

    Returns
    -------
    int
        The count. A share is rounded half up (0.5% of 20,000 = 100, as in the paper).

    Raises
    ------
    BudgetError
        Negative or malformed budgets, a share without a benign set, a share that rounds to 0.

    Examples
    --------
    >>> resolve_budget("0.05%", n_train=20000)
    10
    """
    if isinstance(budget, bool):
        raise BudgetError(f"budget must be a count or a percentage, got {budget!r}")
    if isinstance(budget, int):
        if budget < 0:
            raise BudgetError(f"budget must be >= 0, got {budget}")
        return budget
    text = str(budget)
    if m := _COUNT.match(text):
        return int(m.group(1))
    if m := _SHARE.match(text):
        if n_train is None:
            raise BudgetError(
                f"budget {text!r} is a share of the benign set: give the benign set (--train FILE)"
            )
        share = float(m.group(1))
        if share > 100:
            raise BudgetError(f"budget {text!r} is over 100%")
        count = math.floor(n_train * share / 100 + 0.5)
        if count == 0:
            raise BudgetError(f"budget {text!r} of {n_train} benign examples rounds to 0")
        return count
    raise BudgetError(f"budget must be a count like '100' or a share like '0.5%', got {text!r}")

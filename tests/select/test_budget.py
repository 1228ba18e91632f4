from __future__ import annotations

import pytest

from safetymix.errors import BudgetError
from safetymix.select import resolve_budget


@pytest.mark.parametrize(
    ("budget", "n_train", "expected"),
    [
        ("100", None, 100),
        (7, None, 7),
        ("0.05%", 20000, 10),
        ("0.5%", 20000, 100),
        ("1%", 999, 10),
        (" 3 ", None, 3),
    ],
)
def test_resolve_budget(budget, n_train, expected):
    assert resolve_budget(budget, n_train) == expected


@pytest.mark.parametrize(
    ("budget", "n_train", "match"),
    [
        ("0.5%", None, "share of the benign set"),
        ("0.001%", 100, "rounds to 0"),
        ("-3", None, "count like"),
        (-3, None, ">= 0"),
        ("ten", None, "count like"),
        ("150%", 10, "over 100%"),
        (True, None, "count or a percentage"),
    ],
)
def test_bad_budgets(budget, n_train, match):
    with pytest.raises(BudgetError, match=match):
        resolve_budget(budget, n_train)

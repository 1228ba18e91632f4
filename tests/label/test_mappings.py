"""Tests for safetymix.label.mappings."""

from __future__ import annotations

import pytest

from safetymix.label.mappings import (
    CATEGORY_MAPPINGS,
    COCONOT_TO_BEAVERTAILS,
    GARAK_INTENT_TO_BEAVERTAILS,
    HARMBENCH_TO_BEAVERTAILS,
    mapped_categories,
)
from safetymix.schema import BEAVERTAILS_CATEGORIES


def test_mappings_target_beavertails_only():
    valid = set(BEAVERTAILS_CATEGORIES)
    for mapping in CATEGORY_MAPPINGS.values():
        for target in mapping.values():
            assert target is None or (target and target <= valid)
    assert HARMBENCH_TO_BEAVERTAILS["copyright"] is None
    assert COCONOT_TO_BEAVERTAILS["copyright violations"] is None
    assert COCONOT_TO_BEAVERTAILS["privacy violations"] == {"privacy_violation"}
    assert set(HARMBENCH_TO_BEAVERTAILS) == {
        "chemical_biological", "illegal", "misinformation_disinformation", "harmful",
        "harassment_bullying", "cybercrime_intrusion", "copyright",
    }  # fmt: skip
    assert mapped_categories(GARAK_INTENT_TO_BEAVERTAILS, ["S006sh", "S004lewd"]) == {
        "self_harm",
        "sexually_explicit,adult_content",
    }
    assert mapped_categories(GARAK_INTENT_TO_BEAVERTAILS, ["C006"]) is None
    with pytest.raises(KeyError, match="S999"):
        mapped_categories(GARAK_INTENT_TO_BEAVERTAILS, ["S999"])

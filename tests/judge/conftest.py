"""Tiny model folders shared by the judge tests (built once per session)."""

from __future__ import annotations

import pytest

from tests.judge.tiny_models import GUARD_CHAT_TEMPLATE, save_tiny_causal_lm, save_tiny_classifier


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory):
    return save_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier"))


@pytest.fixture(scope="session")
def tiny_classifier_2(tmp_path_factory):
    return save_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier-2"), num_labels=2)


@pytest.fixture(scope="session")
def tiny_guard(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-guard"), chat_template=GUARD_CHAT_TEMPLATE)


@pytest.fixture(scope="session")
def tiny_lm_no_template(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))

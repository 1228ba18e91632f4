"""Tiny model folders for the eval tests (built once per session), and a responses writer."""

from __future__ import annotations

import json

import pytest

from tests.judge.tiny_models import save_tiny_causal_lm, save_tiny_classifier

REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = "Sure, here is a detailed answer."


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("eval-tiny-lm"))


@pytest.fixture(scope="session")
def tiny_reward(tmp_path_factory):
    return save_tiny_classifier(tmp_path_factory.mktemp("eval-tiny-reward"))


def write_responses(path, records, refuse):
    """One response per exported prompt record: a refusal where ``refuse(record)`` is true."""
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            response = REFUSAL if refuse(rec) else ANSWER
            fh.write(json.dumps({"id": rec["id"], "prompt": rec["prompt"], "response": response}) + "\n")
    return path

"""The Alpaca and chat templates, and the prompt ids training and generation share."""

from __future__ import annotations

import pytest

from safetymix.errors import ConfigError
from safetymix.schema import make_example
from safetymix.train.templates import (
    alpaca_prompt,
    chat_messages,
    check_template,
    encode_prompt,
    to_prompt_completion,
)
from tests.tiny_models import build_tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_alpaca_prompt_matches_alpaca_lora():
    assert alpaca_prompt(make_example("Name a colour.", "Red.")) == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nName a colour.\n\n### Response:\n"
    )
    assert alpaca_prompt(make_example("Translate.", "Bonjour.", input="Hello")) == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n### Instruction:\nTranslate.\n\n"
        "### Input:\nHello\n\n### Response:\n"
    )
    assert alpaca_prompt("Name a colour.") == alpaca_prompt(make_example("Name a colour."))


def test_prompt_completion_records():
    ex = make_example("Translate.", "Bonjour.", input="Hello")
    assert to_prompt_completion(ex, "alpaca") == {"prompt": alpaca_prompt(ex), "completion": "Bonjour."}
    assert to_prompt_completion(ex, "chat") == {
        "prompt": [{"role": "user", "content": "Translate.\nHello"}],
        "completion": [{"role": "assistant", "content": "Bonjour."}],
    }
    assert chat_messages("Hi") == [{"role": "user", "content": "Hi"}]


def test_encode_prompt(tokenizer):
    ex = make_example("What colour is the apple?", "The apple is red.")
    alpaca = encode_prompt(tokenizer, ex, "alpaca")
    assert alpaca[0] == tokenizer.bos_token_id and tokenizer.decode(alpaca[1:]) == alpaca_prompt(ex)
    chat = encode_prompt(tokenizer, ex, "chat")
    full = tokenizer.apply_chat_template(
        chat_messages(ex) + [{"role": "assistant", "content": ex.response}], tokenize=True, return_dict=True
    )["input_ids"]
    assert full[: len(chat)] == chat and chat.count(tokenizer.bos_token_id) == 1


def test_check_template(tokenizer):
    check_template("alpaca")
    check_template("chat", tokenizer)
    with pytest.raises(ConfigError, match="unknown template 'vicuna'; valid templates: alpaca, chat"):
        check_template("vicuna")
    tokenizer_without = build_tiny_tokenizer()
    tokenizer_without.chat_template = None
    with pytest.raises(ConfigError, match="has none"):
        check_template("chat", tokenizer_without)
    check_template("alpaca", tokenizer_without)

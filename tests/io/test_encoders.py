"""Output formats keep system prompts, multi-turn conversations and alpaca history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safetymix.errors import DataFormatError
from safetymix.io import read_examples, write_dataset_info, write_examples
from safetymix.io.writers import RecordEncoder
from safetymix.schema import Example, make_example

PIRATE = "You are a pirate."
TURNS = [
    {"from": "system", "value": PIRATE},
    {"from": "human", "value": "Hi"},
    {"from": "gpt", "value": "Ahoy!"},
    {"from": "human", "value": "Where is the treasure?"},
    {"from": "gpt", "value": "Buried, matey."},
]


@pytest.fixture
def chat(tmp_path: Path) -> list[Example]:
    """Read from files, as mix reads them: a multi-turn sharegpt record and alpaca with system + history."""
    src = tmp_path / "src.jsonl"
    src.write_text(json.dumps({"conversations": TURNS}) + "\n", encoding="utf-8")
    alp = tmp_path / "alp.json"
    rec = {
        "instruction": "And now?",
        "input": "",
        "output": "Sail on.",
        "system": PIRATE,
        "history": [["Hello", "Arr."]],
    }
    alp.write_text(json.dumps([rec]), encoding="utf-8")
    return read_examples(src) + read_examples(alp)


def lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines()]


def test_sharegpt_keeps_system_and_every_turn(tmp_path: Path, chat: list[Example]) -> None:
    recs = lines(write_examples(tmp_path / "out.jsonl", chat, "sharegpt"))
    assert recs[0]["conversations"] == TURNS
    assert [t["from"] for t in recs[1]["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    assert recs[1]["conversations"][1]["value"] == "Hello"
    trl = lines(write_examples(tmp_path / "trl.jsonl", chat, "sharegpt", sharegpt_roles="user/assistant"))
    roles = ["system", "user", "assistant", "user", "assistant"]
    assert [t["from"] for t in trl[0]["conversations"]] == roles


def test_messages_and_prompt_completion(tmp_path: Path, chat: list[Example]) -> None:
    msgs = lines(write_examples(tmp_path / "m.jsonl", chat, "messages"))[0]["messages"]
    assert msgs[0] == {"role": "system", "content": PIRATE}
    assert [m["content"] for m in msgs[1:]] == ["Hi", "Ahoy!", "Where is the treasure?", "Buried, matey."]
    pc = lines(write_examples(tmp_path / "pc.jsonl", chat, "prompt-completion"))
    assert pc[0]["prompt"][0] == {"role": "system", "content": PIRATE}
    assert [m["role"] for m in pc[0]["prompt"]] == ["system", "user", "assistant", "user"]
    assert pc[0]["completion"] == [{"role": "assistant", "content": "Buried, matey."}]
    assert pc[1]["completion"] == [{"role": "assistant", "content": "Sail on."}]


def test_alpaca_writes_system_and_history(tmp_path: Path, chat: list[Example]) -> None:
    recs = lines(write_examples(tmp_path / "a.json", chat, "alpaca"))
    assert recs[0] == {
        "instruction": "Where is the treasure?",
        "input": "",
        "output": "Buried, matey.",
        "system": PIRATE,
        "history": [["Hi", "Ahoy!"]],
    }
    assert recs[1]["history"] == [["Hello", "Arr."]] and recs[1]["system"] == PIRATE
    back = read_examples(tmp_path / "a.json")  # alpaca in, alpaca out: nothing lost
    assert lines(write_examples(tmp_path / "b.json", back, "alpaca")) == recs


def test_unholdable_turns_refused_or_counted(tmp_path: Path) -> None:
    src = tmp_path / "odd.jsonl"
    turns = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    turns.append({"role": "assistant", "content": "c"})
    src.write_text(json.dumps({"messages": turns}) + "\n")
    odd = read_examples(src)
    with pytest.raises(DataFormatError, match="do not alternate user/assistant, which alpaca cannot hold"):
        write_examples(tmp_path / "x.json", odd, "alpaca")
    enc = RecordEncoder("alpaca-jsonl", lossy="first-turn")
    assert json.loads(enc(odd[0])) == {"instruction": "a", "input": "", "output": "c"}
    assert enc.lossy_ids == [odd[0].id] and sum(enc.lossy_reasons.values()) == 1
    # messages holds the same conversation unchanged
    assert lines(write_examples(tmp_path / "x.jsonl", odd, "messages"))[0]["messages"] == turns


def test_container_follows_the_file_name(tmp_path: Path, chat: list[Example]) -> None:
    plain = [make_example("q", "a")]
    for fmt in ("sharegpt", "messages", "alpaca-jsonl", "jsonl", "prompt-completion"):
        text = write_examples(tmp_path / f"{fmt}.json", plain, fmt).read_text()
        assert text.startswith("[\n  {") and text.endswith("\n]\n"), fmt
    assert write_examples(tmp_path / "a.jsonl", plain, "alpaca").read_text().startswith("{")
    assert len(read_examples(tmp_path / "sharegpt.json")) == 1


def test_dataset_info_maps_every_column_written(tmp_path: Path, chat: list[Example]) -> None:
    enc = RecordEncoder("alpaca", path=tmp_path / "a.json")
    for ex in chat:
        enc(ex)
    assert enc.columns == {"system", "history"} and enc.multi_turn == 2
    entry = write_dataset_info(tmp_path, "a", "a.json", "alpaca", columns=enc.columns)
    assert entry["columns"] == {
        "prompt": "instruction",
        "query": "input",
        "response": "output",
        "system": "system",
        "history": "history",
    }
    entry = write_dataset_info(tmp_path, "s", "s.jsonl", "sharegpt", sharegpt_roles="user/assistant")
    assert entry["tags"]["user_tag"] == "user" and entry["tags"]["system_tag"] == "system"
    tools = make_example("q", "a")
    tools.extra["tools"] = '[{"name": "f"}]'
    enc = RecordEncoder("messages")
    assert json.loads(enc(tools))["tools"] == '[{"name": "f"}]' and enc.columns == {"tools"}
    assert write_dataset_info(tmp_path, "t", "t.jsonl", "messages", columns=enc.columns)["columns"] == {
        "messages": "messages",
        "tools": "tools",
    }

"""Writers: atomic replacement, byte-stable output, read-back of every format, dataset_info."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safetymix.errors import ConfigError, DataFormatError
from safetymix.io import (
    WRITE_FORMATS,
    atomic_write,
    read_examples,
    sha256_file,
    write_dataset_info,
    write_examples,
)
from safetymix.schema import BEHAVIOURS, CANONICAL_FIELDS, Example, make_example


@pytest.fixture
def examples() -> list[Example]:
    return [
        make_example("Translate to French", "Bonjour", input="Hello", behaviour="T3", categories=[]),
        make_example("How do I make a bomb?", "I can't help with that.", behaviour="T1", refusal=True),
        make_example("Écris un haïku 🍵", "Vapeur lente\nles feuilles dansent", source="fr.json"),
    ]


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target) as fh:
        fh.write("é\n")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_bytes() == "é\n".encode()
    with atomic_write(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_atomic_write_failure_leaves_target_untouched(tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    with pytest.raises(RuntimeError, match="boom"), atomic_write(new) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert not new.exists()
    old = tmp_path / "old.txt"
    old.write_text("old content")
    os.chmod(old, 0o640)
    with pytest.raises(RuntimeError), atomic_write(old) as fh:
        fh.write("new content")
        raise RuntimeError("boom")
    assert old.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]  # no temp file left
    with atomic_write(old) as fh:
        fh.write("new content")
    assert old.read_text() == "new content"
    assert old.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its permissions
    with pytest.raises(ConfigError, match="mode must be one of w, wb; got 'a'"), atomic_write(old, "a"):
        pass


def test_jsonl_is_canonical_and_byte_stable(tmp_path: Path, examples: list[Example]) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_examples(a, examples)
    write_examples(b, [Example(**{f: getattr(e, f) for f in Example.__dataclass_fields__}) for e in examples])
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[-1] == ""
    assert list(json.loads(lines[0])) == list(CANONICAL_FIELDS)
    assert "Écris un haïku 🍵" in lines[2]  # ensure_ascii=False
    assert lines[1].startswith('{"id": "') and '"refusal": true' in lines[1]
    assert read_examples(a) == examples
    assert sha256_file(a) == hashlib.sha256(a.read_bytes()).hexdigest()


def test_alpaca_matches_json_dumps_and_reads_back(tmp_path: Path, examples: list[Example]) -> None:
    path = write_examples(tmp_path / "train.json", examples, format="alpaca")
    records = [{"instruction": e.instruction, "input": e.input, "output": e.response} for e in examples]
    expected = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    assert path.read_text(encoding="utf-8") == expected
    back = read_examples(path)
    texts = [(e.instruction, e.input, e.response) for e in examples]
    assert [(e.instruction, e.input, e.response) for e in back] == texts
    write_examples(path, [], format="alpaca")
    assert path.read_text() == "[]\n"
    jsonl = write_examples(tmp_path / "train.jsonl", examples, format="alpaca-jsonl")
    assert [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()] == records


@pytest.mark.parametrize("fmt", ["sharegpt", "messages"])
def test_chat_formats_read_back(tmp_path: Path, examples: list[Example], fmt: str) -> None:
    path = write_examples(tmp_path / f"train.{fmt}.jsonl", examples, format=fmt)
    first = json.loads(path.read_text(encoding="utf-8").split("\n")[0])
    if fmt == "sharegpt":
        assert first == {
            "conversations": [
                {"from": "human", "value": "Translate to French\nHello"},
                {"from": "gpt", "value": "Bonjour"},
            ]
        }
    else:
        assert first["messages"][0] == {"role": "user", "content": "Translate to French\nHello"}
    back = read_examples(path, fmt)
    assert [(e.instruction, e.response) for e in back] == [(e.prompt, e.response) for e in examples]


def test_write_errors(tmp_path: Path, examples: list[Example]) -> None:
    path = tmp_path / "out.jsonl"
    write_examples(path, examples)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="unknown write format 'csv'; valid formats: jsonl, alpaca"):
        write_examples(path, examples, format="csv")
    bad = make_example("lone \ud800 surrogate", "x", id="bad")
    with pytest.raises(DataFormatError, match="line 4: example .* cannot be written as jsonl"):
        write_examples(path, [*examples, bad])
    odd = make_example("a", "b")
    odd.extra["when"] = {1, 2}
    with pytest.raises(DataFormatError, match="line 1: example .* not JSON serializable"):
        write_examples(path, [odd])
    assert path.read_bytes() == before  # failed writes leave the old file


def test_dataset_info_entries_and_merge(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}))
    data = tmp_path / "mix.json"
    data.write_text("[]")
    entry = write_dataset_info(info, "mix", data, "alpaca")
    assert entry == {
        "file_name": "mix.json",
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output"},
    }
    write_dataset_info(tmp_path, "chat", "chat.jsonl", "sharegpt")  # a folder: its dataset_info.json
    write_dataset_info(info, "oai", "oai.jsonl", "messages")
    write_dataset_info(info, "pool", "pool.jsonl", "jsonl")
    registry = json.loads(info.read_text())
    assert list(registry) == ["alpaca_en_demo", "mix", "chat", "oai", "pool"]
    assert registry["alpaca_en_demo"] == {"file_name": "alpaca_en_demo.json"}
    assert registry["chat"] == {
        "file_name": "chat.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "system_tag": "system",
            "user_tag": "human",
            "assistant_tag": "gpt",
        },
    }
    assert registry["oai"]["tags"] == {
        "role_tag": "role",
        "content_tag": "content",
        "system_tag": "system",
        "user_tag": "user",
        "assistant_tag": "assistant",
    }
    assert registry["oai"]["columns"] == {"messages": "messages"}
    assert registry["pool"]["columns"]["response"] == "response"
    write_dataset_info(info, "mix", "other.json", "alpaca-jsonl")  # replaces in place
    registry = json.loads(info.read_text())
    assert list(registry)[1] == "mix" and registry["mix"]["file_name"] == "other.json"
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.json"
    elsewhere.write_text("[]")
    assert write_dataset_info(info, "far", elsewhere, "alpaca")["file_name"] == elsewhere.as_posix()


def test_dataset_info_errors(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    with pytest.raises(ConfigError, match="unknown write format 'yaml'; valid formats: jsonl"):
        write_dataset_info(info, "x", "x.json", "yaml")
    info.write_text('{\n  "a": {"file_name": "a.json"},\n}\n')
    with pytest.raises(DataFormatError, match="dataset_info.json, line 3: malformed JSON"):
        write_dataset_info(info, "x", "x.json", "alpaca")
    info.write_text("[]")
    with pytest.raises(DataFormatError, match="expected a JSON object of entries, got list"):
        write_dataset_info(info, "x", "x.json", "alpaca")
    assert info.read_text() == "[]"
    with pytest.raises(ConfigError, match="LLaMA-Factory cannot read format 'prompt-completion'"):
        write_dataset_info(tmp_path, "x", "x.jsonl", "prompt-completion")


def test_dataset_info_folder_names(tmp_path: Path) -> None:
    # "nosuchdir/" (or any name that is not a .json file) is LLaMA-Factory's dataset_dir.
    write_dataset_info(f"{tmp_path}/nosuchdir/", "a", "a.json", "alpaca")
    write_dataset_info(tmp_path / "other", "b", "b.json", "alpaca")
    assert (tmp_path / "nosuchdir" / "dataset_info.json").is_file()
    assert json.loads((tmp_path / "other" / "dataset_info.json").read_text())["b"]["file_name"] == "b.json"
    write_dataset_info(tmp_path / "named.json", "c", "c.json", "alpaca")
    assert (tmp_path / "named.json").is_file()


def test_write_formats_are_listed() -> None:
    assert list(WRITE_FORMATS) == [
        "jsonl",
        "alpaca",
        "alpaca-jsonl",
        "sharegpt",
        "messages",
        "prompt-completion",
    ]


_text = st.text(max_size=40)
_flag = st.none() | st.booleans()
_example = st.builds(
    make_example,
    instruction=_text.filter(str.strip),
    response=_text,
    input=_text,
    behaviour=st.none() | st.sampled_from(BEHAVIOURS),
    refusal=_flag,
    harmful_request=_flag,
    harmful_response=_flag,
    categories=st.none() | st.lists(_text, max_size=3),
    source=st.none() | _text,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_example, min_size=1, max_size=5, unique_by=lambda e: e.id))
def test_jsonl_round_trip_property(tmp_path: Path, examples: list[Example]) -> None:
    path = tmp_path / "prop.jsonl"
    write_examples(path, examples)
    assert read_examples(path) == examples

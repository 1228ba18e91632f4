"""Tests for safetymix.label.taxonomy: taxonomy files and user reference sets."""

from __future__ import annotations

import json

import pytest

from safetymix.errors import ConfigError, DataFormatError
from safetymix.label.taxonomy import Taxonomy, available_taxonomies, load_reference, load_taxonomy
from safetymix.schema import BEAVERTAILS_CATEGORIES


def _jsonl(tmp_path, rows, name="ref.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_bundled_taxonomy_has_14_categories_with_examples():
    tax = load_taxonomy()
    assert "beavertails" in available_taxonomies()
    assert tax.name == "beavertails"
    assert tax.names == BEAVERTAILS_CATEGORIES
    assert len(tax) == 14
    assert all(len(ex) >= 10 for ex in tax.examples)
    assert all(len(d.split()) >= 10 for d in tax.descriptions)
    flat = [e for ex in tax.examples for e in ex]
    assert len(flat) == len(set(flat))
    assert load_taxonomy(tax) is tax
    assert Taxonomy.from_dict(tax.to_dict()).names == tax.names


def _write(tmp_path, data, name="tax.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("doc", "field", "match"),
    [
        ({"categories": [{"name": "a", "description": "x"}]}, "name", "non-empty string"),
        ({"name": "t", "categories": []}, "categories", "non-empty list"),
        (
            {"name": "t", "categories": [{"name": "a", "description": "x"}, {"name": "b"}]},
            "categories[1].description",
            "string",
        ),
        (
            {
                "name": "t",
                "categories": [{"name": "a", "description": "x"}, {"name": "a", "description": "y"}],
            },
            "categories[1].name",
            "duplicate",
        ),
        (
            {"name": "t", "categories": [{"name": "a", "description": "x", "examples": ["ok", 3]}]},
            "categories[0].examples[1]",
            "non-empty string",
        ),
        (
            {"name": "t", "categories": [{"name": "a", "description": "x", "exampels": []}]},
            "categories[0].exampels",
            "unknown key",
        ),
        (
            {"name": "t", "categories": [{"name": "a", "description": ""}]},
            "categories[0].description",
            "description or at least one example",
        ),
        (
            {"name": "t", "categories": [{"name": "a", "description": "x"}], "version": 2},
            "version",
            "unknown key",
        ),
    ],
)
def test_bad_taxonomy_names_file_and_field(tmp_path, doc, field, match):
    path = _write(tmp_path, doc)
    with pytest.raises(DataFormatError, match=match) as info:
        load_taxonomy(path)
    assert info.value.field == field
    assert info.value.path == str(path)
    assert f"field {field!r}" in str(info.value)


def test_bad_taxonomy_json_and_missing_file(tmp_path):
    path = _write(tmp_path, '{"name": "t",\n "categories": [,]}')
    with pytest.raises(DataFormatError, match="invalid JSON") as info:
        load_taxonomy(path)
    assert info.value.line == 2
    with pytest.raises(ConfigError, match="neither a bundled name"):
        load_taxonomy(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="unknown category 'nope'"):
        load_taxonomy().index("nope")


# ----------------------------------------------------------------------------- references


def test_reference_json_array_and_mapping_to_several(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(
        json.dumps([{"prompt": "x", "category": "cyber"}, {"prompt": "y", "category": "copyright"}])
    )
    out = load_reference(
        path,
        mapping={"cyber": ["privacy_violation", "financial_crime,property_crime,theft"], "copyright": None},
    )
    assert out == {"privacy_violation": ["x"], "financial_crime,property_crime,theft": ["x"]}


def test_reference_errors(tmp_path):
    path = _jsonl(
        tmp_path,
        [{"prompt": "ok", "category": {"animal_abuse": True}}, {"prompt": "z", "category": {"pets": True}}],
    )
    with pytest.raises(DataFormatError, match="'pets' is not a category") as info:
        load_reference(path)
    assert info.value.line == 2 and info.value.field == "category"
    path = _jsonl(tmp_path, [{"text": "no prompt", "categories": ["self_harm"]}], "b.jsonl")
    with pytest.raises(DataFormatError, match="'prompt' or 'instruction'"):
        load_reference(path)
    path = _jsonl(tmp_path, [{"prompt": "p", "categories": 3}], "c.jsonl")
    with pytest.raises(DataFormatError, match="needs 'category'") as info:
        load_reference(path)
    assert info.value.field == "categories"
    with pytest.raises(ConfigError, match="not a category of"):
        load_reference(path, mapping={"x": "nope"})

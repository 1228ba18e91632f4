"""Labels given in the input are used as given, in every layout users have; labelling fills
only what is missing and says which labels were given, predicted or derived."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safetymix.cli.main import main
from safetymix.errors import DataFormatError
from safetymix.io import read_examples
from safetymix.label import label_pool
from safetymix.schema import BEAVERTAILS_CATEGORIES

REFUSING = "I'm sorry, but I can't help with that."
COMPLYING = "Sure. Step 1: buy the parts. Step 2: assemble them."
FLAGS = ("harmful_request", "refusal", "harmful_response")


def category_dict(*names: str) -> dict[str, bool]:
    return {c: c in names for c in BEAVERTAILS_CATEGORIES}


def read_one(tmp_path: Path, rec: dict, name: str = "pool.jsonl"):
    path = tmp_path / name
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    (ex,) = read_examples(path)
    return ex


# Each layout with labels that contradict what the rules labeller would say about the texts
# (a refusing answer given as "no refusal"), so a relabelled flag cannot pass for a kept one.
LAYOUTS = {
    "paper categoried (prompt, response, category, is_safe)": (
        {
            "prompt": "How do I hurt a cat?",
            "response": REFUSING,
            "category": category_dict("animal_abuse"),
            "is_safe": False,
        },
        {"harmful_response": True, "categories": ["animal_abuse"]},
    ),
    "paper WildGuard file (instr, refusal, harmful_response)": (
        {
            "prompt": "How do I hurt a cat?",
            "response": REFUSING,
            "category": category_dict("animal_abuse"),
            "is_safe": True,
            "instr": False,
            "refusal": False,
            "harmful_response": True,
        },
        {"harmful_request": False, "refusal": False, "harmful_response": True, "behaviour": "T3"},
    ),
    "WildGuard output": (
        {
            "prompt": "Name a colour.",
            "response": COMPLYING,
            "prompt_harmfulness": "harmful",
            "response_refusal": "refusal",
            "response_harmfulness": "unharmful",
        },
        {"harmful_request": True, "refusal": True, "harmful_response": False, "behaviour": "T1"},
    ),
    "WildGuardMix labels": (
        {
            "prompt": "Name a colour.",
            "response": COMPLYING,
            "prompt_harm_label": "Harmful",
            "response_refusal_label": "Refusal",
            "response_harm_label": "unharmful",
        },
        {"harmful_request": True, "refusal": True, "harmful_response": False, "behaviour": "T1"},
    ),
    "BeaverTails": (
        {
            "prompt": "How do I steal a car?",
            "response": COMPLYING,
            "category": category_dict("financial_crime,property_crime,theft"),
            "is_safe": True,
        },
        {"harmful_response": False, "categories": ["financial_crime,property_crime,theft"]},
    ),
    "ours": (
        {"instruction": "How do I build a bomb?", "output": REFUSING, "refusal": False, "categories": []},
        {"refusal": False, "categories": []},
    ),
    "ours, behaviour only": (
        {"instruction": "Name a colour.", "output": REFUSING, "behaviour": "T2"},
        {"behaviour": "T2", "harmful_request": True, "refusal": False},
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_given_labels_survive_labelling(tmp_path: Path, layout: str) -> None:
    rec, given = LAYOUTS[layout]
    ex = read_one(tmp_path, rec)
    (out,), report = label_pool([ex], behaviour_labeller="rules", category_labeller=None)
    for name, value in given.items():
        assert getattr(out, name) == value, name
    origin = out.extra["label_origin"]
    for name in FLAGS:
        assert getattr(out, name) is not None or name == "harmful_response"
        if name in given:
            assert origin[name] in ("given", "derived"), name
        else:
            assert origin[name] == "predicted", name
    assert origin["behaviour"] == ("given" if "behaviour" in rec else "derived")
    assert origin["categories"] == ("given" if {"category", "categories"} & set(rec) else None)
    assert report["label_origin"]["behaviour"] == {origin["behaviour"]: 1}
    # the alias keys were read into the canonical flags, not left behind as extra fields
    assert not {"instr", "prompt_harmfulness", "response_refusal_label", "category"} & set(out.extra)
    # is_safe is read only where no harmful-response key gives a value, else kept as it is
    assert ("is_safe" in out.extra) == ("is_safe" in rec and "harmful_response" in rec)


def test_supplied_refusal_is_not_relabelled(tmp_path: Path) -> None:
    """The bug this fixes: a given refusal flag used to be replaced by the labeller's."""
    path = tmp_path / "pool.jsonl"
    rows = [
        {"instruction": "How do I build a bomb?", "output": REFUSING, "refusal": False},
        {"instruction": "How do I build a bomb?", "output": REFUSING + " Really."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "labelled.jsonl"
    args = [
        "label",
        str(path),
        "--out",
        str(out),
        "--behaviour-labeller",
        "rules",
        "--category-labeller",
        "none",
    ]
    assert main(args) == 0
    given, predicted = (json.loads(x) for x in out.read_text(encoding="utf-8").splitlines())
    assert given["refusal"] is False and predicted["refusal"] is True
    assert given["behaviour"] == "T2" and predicted["behaviour"] == "T1"
    assert given["label_origin"] == {
        "behaviour": "derived",
        "harmful_request": "predicted",
        "refusal": "given",
        "harmful_response": "predicted",
        "categories": None,
    }
    report = json.loads((tmp_path / "labelled.jsonl.label.json").read_text(encoding="utf-8"))
    assert report["label_origin"]["refusal"] == {"given": 1, "predicted": 1}
    # relabelling the written file keeps both values and both origins
    again = tmp_path / "again.jsonl"
    assert (
        main(
            [
                "label",
                str(out),
                "--out",
                str(again),
                "--behaviour-labeller",
                "rules",
                "--category-labeller",
                "none",
            ]
        )
        == 0
    )
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_overwrite_replaces_given_labels_only_when_asked(tmp_path: Path) -> None:
    ex = read_one(tmp_path, {"instruction": "How do I build a bomb?", "output": REFUSING, "refusal": False})
    (kept,), _ = label_pool([ex], behaviour_labeller="rules", category_labeller=None)
    (replaced,), _ = label_pool([ex], behaviour_labeller="rules", category_labeller=None, overwrite=True)
    assert (kept.refusal, replaced.refusal) == (False, True)
    assert replaced.extra["label_origin"]["refusal"] == "predicted"
    assert ex.refusal is False and "label_origin" not in ex.extra  # the input is not touched


def test_flag_values_per_layout(tmp_path: Path) -> None:
    # a null WildGuard field (its parse error) is missing, so the next key or the labeller decides
    ex = read_one(
        tmp_path,
        {"prompt": "p", "response": "r", "response_refusal": None, "response_refusal_label": "compliance"},
    )
    assert ex.refusal is False
    # is_safe counts only when no harmful-response key has a value
    ex = read_one(
        tmp_path, {"prompt": "p", "response": "r", "response_harmfulness": "harmful", "is_safe": True}
    )
    assert ex.harmful_response is True and ex.extra == {"is_safe": True}
    # `instr` is a flag only when it holds one
    ex = read_one(tmp_path, {"prompt": "p", "response": "r", "instr": "some text"})
    assert ex.harmful_request is None and ex.extra == {"instr": "some text"}
    # ours wins over an alias; the alias stays in extra
    ex = read_one(
        tmp_path, {"instruction": "p", "output": "r", "refusal": True, "response_refusal": "compliance"}
    )
    assert ex.refusal is True and ex.extra == {"response_refusal": "compliance"}
    csv = tmp_path / "wg.csv"
    csv.write_text(
        "prompt,response,prompt_harmfulness,response_refusal,instr\np,r,unharmful,Refusal,\n",
        encoding="utf-8",
    )
    (ex,) = read_examples(csv)
    assert (ex.harmful_request, ex.refusal) == (False, True)


def test_bad_flag_value_names_the_field_and_the_words(tmp_path: Path) -> None:
    with pytest.raises(
        DataFormatError, match=r"line 1, field 'response_refusal': .*\"refusal\" or \"compliance\""
    ):
        read_one(tmp_path, {"prompt": "p", "response": "r", "response_refusal": "maybe"})
    with pytest.raises(DataFormatError, match="field 'refusal': expected true, false or null"):
        read_one(tmp_path, {"prompt": "p", "response": "r", "refusal": 1})


def test_nothing_to_label_when_every_flag_is_given_or_implied(tmp_path: Path) -> None:
    ex = read_one(tmp_path, {"instruction": "q", "output": "r", "behaviour": "T4", "harmful_response": False})
    (out,), report = label_pool([ex], behaviour_labeller="rules", category_labeller=None)
    assert report["behaviour_labelled"] == 0
    assert (out.harmful_request, out.refusal, out.extra["label_origin"]["refusal"]) == (
        False,
        True,
        "derived",
    )

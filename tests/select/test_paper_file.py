"""`safetymix select` on the paper's own labels reproduces the structure of the paper's
sampling/category_sampling.py: per-category counts, fill size and category visit order.

The pool is the paper's layout (prompt, response, category {name: bool}, is_safe) rebuilt
from ../shared/datasets/paper_categoried (its categories and is_safe) and Bianchi's
responses at the same row. The expected structure is computed here, independently of the
package, from the labelled pool the `label` command writes (the behaviour flags the paper
got from WildGuard were never published, so they come from the rules labeller, for missing
flags only; the categories and is_safe are the paper's, used as given).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safetymix.cli.main import main
from safetymix.schema import BEAVERTAILS_CATEGORIES

K = 100


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def paper_pool(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two paper-layout files: the paper's labels as they are, and the same with three
    categories cleared (a user pool that lacks them), plus each one's labelled copy."""
    labels = read_jsonl(datasets / "paper_categoried" / "safety_only_categoried.jsonl")
    bianchi = json.loads(
        (datasets / "safety_tuned_llamas" / "safety_only_data_Instructions.json").read_text()
    )
    folder = tmp_path_factory.mktemp("paper")
    files = {}
    for name, dropped in (("full", set()), ("fewer", {"child_abuse", "self_harm", "animal_abuse"})):
        path = folder / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for r in labels:
                cats = set(r["categories"]) - dropped
                rec = {
                    "prompt": r["prompt"],
                    "response": bianchi[r["row"]]["output"],
                    "category": {c: c in cats for c in BEAVERTAILS_CATEGORIES},
                    "is_safe": r["is_safe"],
                }
                fh.write(json.dumps(rec) + "\n")
        labelled = folder / f"{name}.labelled.jsonl"
        args = [
            "label",
            str(path),
            "--out",
            str(labelled),
            "--behaviour-labeller",
            "rules",
            "--category-labeller",
            "none",
        ]
        assert main(args) == 0
        files[name], files[f"{name}.labelled"] = path, labelled
    return files


def test_paper_labels_are_read_as_given(paper_pool, datasets: Path) -> None:
    labels = read_jsonl(datasets / "paper_categoried" / "safety_only_categoried.jsonl")
    rows = read_jsonl(paper_pool["full.labelled"])
    assert len(rows) == len(labels) == 2483
    assert all(r["categories"] == x["categories"] for r, x in zip(rows, labels, strict=True))
    assert all(r["harmful_response"] is (not x["is_safe"]) for r, x in zip(rows, labels, strict=True))
    assert sum(r["harmful_response"] for r in rows) == 164
    origins = {json.dumps(r["label_origin"], sort_keys=True) for r in rows}
    assert [json.loads(o) for o in origins] == [
        {
            "behaviour": "derived",
            "categories": "given",
            "harmful_request": "predicted",
            "harmful_response": "given",
            "refusal": "predicted",
        }
    ]


def expected_structure(labelled: Path, picks: list[dict], strategy: str, rules: str) -> dict:
    """The structure both rule sets must give, written out from their definitions.

    The per-category counts depend on which rows earlier categories took (a row may carry
    several categories), so availability is replayed from the actual quota picks in order:
    each category takes min(q, members not yet taken)."""
    rows = read_jsonl(labelled)
    eligible = [
        r
        for r in rows
        if not r["harmful_response"] and (r["behaviour"] == "T1" or not strategy.endswith("-b"))
    ]
    members: dict[str, list[str]] = {}  # insertion order = first appearance, as the paper's defaultdict
    for r in eligible:
        for c in r["categories"]:
            members.setdefault(c, []).append(r["id"])
    if rules == "paper":
        order = sorted(members, key=lambda c: len(members[c]))
        q = K // len(members)
    else:
        order = sorted(BEAVERTAILS_CATEGORIES, key=lambda c: len(members.get(c, [])))
        q = K // len(BEAVERTAILS_CATEGORIES)
    quota_picks = [p for p in picks if p["reason"]["slot"] == "quota"]
    taken: set[str] = set()
    counts: dict[str, int] = {}
    position = 0
    for c in order:
        available = [i for i in members.get(c, []) if i not in taken]
        n = min(q, len(available))
        chosen = quota_picks[position : position + n]
        assert all(p["reason"]["category"] == c and p["id"] in available for p in chosen), c
        taken.update(p["id"] for p in chosen)
        position += n
        if n:
            counts[c] = n
    assert position == len(quota_picks)
    return {"quota": q, "order": order, "counts": counts, "fill": K - sum(counts.values())}


@pytest.mark.parametrize(("strategy", "pool"), [("sss-b", "full"), ("sss", "full"), ("sss-b", "fewer")])
def test_select_reproduces_the_paper_structure(paper_pool, tmp_path: Path, strategy: str, pool: str) -> None:
    got = {}
    for rules in ("paper", "ours"):
        out = tmp_path / f"{rules}.jsonl"
        args = [
            "select",
            str(paper_pool[pool]),
            "--out",
            str(out),
            "--strategy",
            strategy,
            "--budget",
            str(K),
        ]
        assert main([*args, "--behaviour-labeller", "rules", "--rules", rules]) == 0
        picks = read_jsonl(out)
        summary = json.loads(out.with_name(out.name + ".selection.json").read_text())["selection"]
        want = expected_structure(paper_pool[f"{pool}.labelled"], picks, strategy, rules)
        counts: dict[str, int] = {}
        for p in picks:
            if p["reason"]["slot"] == "quota":
                counts[p["reason"]["category"]] = counts.get(p["reason"]["category"], 0) + 1
        fill = sum(p["reason"]["slot"] == "fill" for p in picks)
        assert len(picks) == K == len({p["id"] for p in picks})
        assert (summary["rules"], summary["quota_per_category"], summary["visit_order"]) == (
            rules,
            want["quota"],
            want["order"],
        )
        assert counts == want["counts"] and fill == want["fill"]
        assert all(p["harmful_response"] is False for p in picks)
        if strategy.endswith("-b"):
            assert {p["behaviour"] for p in picks} == {"T1"}
        got[rules] = (summary["quota_per_category"], summary["visit_order"], counts)
    if pool == "fewer":  # three categories without members: q = 100 // 11 = 9 against 100 // 14 = 7
        assert (got["paper"][0], got["ours"][0]) == (9, 7)
        assert len(got["paper"][1]) == 11 and len(got["ours"][1]) == 14

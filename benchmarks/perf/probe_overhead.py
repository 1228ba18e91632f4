"""What the safety monitor and the README's generate settings cost on CPU.

Model: the forgetting benchmark's shape (random-weight Llama from a config, 3 layers, width
128, BPE vocabulary 4,096 trained on alpaca_en_demo; nothing downloaded), float32, one torch
thread. Measures

- ``probe``: one :class:`SafetyProbeCallback` probe (32 shipped prompts, greedy, 48 new
  tokens, batch 16), median of ``--repeats``;
- ``train``: ``safetymix train`` (LoRA, batch 4, ``--steps`` steps on alpaca_en_demo) with
  and without ``--probe-every``, so the overhead is seen in a real run;
- ``generate``: the README's ``generate`` settings (greedy, 64 new tokens, batch 32) on the
  766 prompts of ``eval --suite default``, and the old settings (4 beams, 256 new tokens) on
  the first 64 of them, projected to 766.

Usage::

    nice -n 10 python benchmarks/perf/probe_overhead.py   # -> results/probe_overhead.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from throughput_env import DATASETS, machine, write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from safetymix.cli.main import main as cli
    from safetymix.generate import GenerateConfig, generate
    from safetymix.integrations import SafetyProbeCallback
    from safetymix.io import read_examples
    from safetymix.train import TrainConfig, train
    from safetymix.train.scratch import build_bpe_tokenizer, build_llama

    torch.set_num_threads(1)
    env = machine()
    alpaca = read_examples(DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json", duplicates="drop")
    tok = build_bpe_tokenizer([f"{e.prompt}\n{e.response}" for e in alpaca], vocab_size=4096)
    model = build_llama(tok, hidden_size=128, intermediate_size=352, num_layers=3, num_heads=4, seed=0)
    n_params = sum(p.numel() for p in model.parameters())
    work = Path(tempfile.mkdtemp())
    model.save_pretrained(work / "model")
    tok.save_pretrained(work / "model")

    probe = SafetyProbeCallback(1, tokenizer=tok)
    probe.probe(model, tok)  # warm-up
    probe_s = [probe.probe(model, tok)["safety/probe_seconds"] for _ in range(args.repeats)]

    def run(probe_every: int | None) -> float:
        out = work / f"run-{probe_every}"
        cfg = TrainConfig(
            model=str(work / "model"),
            output_dir=str(out),
            max_steps=args.steps,
            per_device_train_batch_size=4,
            max_length=256,
            device="cpu",
            lora_target_modules="all-linear",
            probe_every=probe_every,
        )
        start = time.perf_counter()
        train(cfg, examples=alpaca[:400])
        return time.perf_counter() - start

    plain, probed = run(None), run(args.every)
    prompts = work / "prompts.jsonl"
    cli(["eval", "--suite", "default", "--data-root", str(DATASETS), "--write-prompts", str(prompts)])
    n_prompts = len(prompts.read_text().splitlines())
    base = dict(prompts=str(prompts), model=str(work / "model"), device="cpu")
    start = time.perf_counter()
    generate(GenerateConfig(**base, num_beams=1, max_new_tokens=64, batch_size=32))
    readme_s = time.perf_counter() - start
    start = time.perf_counter()
    generate(GenerateConfig(**base, num_beams=4, max_new_tokens=256, batch_size=8, limit=64))
    old_64 = time.perf_counter() - start
    result = {
        "model": {"layers": 3, "hidden": 128, "vocab": len(tok), "params": n_params},
        "probe": {"prompts": 32, "max_new_tokens": 48, "batch_size": 16, "seconds": probe_s},
        "probe_median_s": statistics.median(probe_s),
        "train": {
            "steps": args.steps,
            "probe_every": args.every,
            "seconds_without_probe": round(plain, 2),
            "seconds_with_probe": round(probed, 2),
            "probes_run": args.steps // args.every + 1,
        },
        "generate": {
            "prompts": n_prompts,
            "readme_settings": {"num_beams": 1, "max_new_tokens": 64, "batch_size": 32},
            "readme_seconds": round(readme_s, 1),
            "old_settings": {"num_beams": 4, "max_new_tokens": 256, "batch_size": 8},
            "old_seconds_first_64": round(old_64, 1),
            "old_projected_seconds": round(old_64 * n_prompts / 64, 1),
        },
        "machine": env,
    }
    write_result("probe_overhead", result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

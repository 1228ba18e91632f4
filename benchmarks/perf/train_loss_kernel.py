"""Training step time on CPU: TRL's fused LM-head loss vs the plain cross-entropy.

Same model (the forgetting benchmark's: 3-layer Llama, width 128, 4,096-token BPE), same
data (Alpaca demo records, batch 16, cut at 128 tokens), same seed, one torch thread; the
two runs go one after the other in this process, ``--repeats`` rounds alternating which
goes first (``throughput_env.alternating_round``), and the ratio of their median step times
is printed. Both kernels must log the same losses.

Usage::

    python benchmarks/perf/train_loss_kernel.py [--steps 40] [--repeats 2]
        # -> benchmarks/perf/results/train_loss_kernel.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from throughput_env import DATASETS, HERE, alternating_round, machine


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results" / "train_loss_kernel.json")
    args = p.parse_args(argv)

    import torch

    from safetymix.io import atomic_write, read_examples
    from safetymix.train import TrainConfig, train
    from safetymix.train.scratch import save_scratch_model
    from safetymix.train.templates import alpaca_prompt

    torch.set_num_threads(1)
    examples = read_examples(DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json", duplicates="drop")[:400]
    rows = {"plain": [], "trl": []}
    losses = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "init"
        texts = [alpaca_prompt(e) + e.response for e in examples]
        info = save_scratch_model(model_dir, texts, 4096, max_position_embeddings=512)

        def run(kernel: str, rep: int) -> tuple[float, list[float]]:
            cfg = TrainConfig(
                model=str(model_dir),
                output_dir=str(Path(tmp) / f"{kernel}{rep}"),
                method="full",
                max_steps=args.steps,
                learning_rate=1e-3,
                per_device_train_batch_size=16,
                max_length=128,
                logging_steps=10,
                device="cpu",
                loss_kernel=kernel,
            )
            result = train(cfg, examples=examples)
            logged = [round(h["loss"], 4) for h in result.log_history if "loss" in h]
            return result.seconds / args.steps, logged

        for rep in range(args.repeats):
            done = alternating_round({k: lambda k=k, rep=rep: run(k, rep) for k in ("plain", "trl")}, rep)
            for kernel, ((per_step, logged), total, _) in done.items():
                rows[kernel].append(per_step)
                losses[kernel] = logged
                print(f"{kernel:>5} run {rep}: {per_step:.3f} s/step ({total:.1f} s with setup)")
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = med["trl"] / med["plain"]
    pairs = zip(losses["plain"], losses["trl"], strict=True)
    same = all(abs(a - b) <= 1e-3 * max(1.0, abs(a)) for a, b in pairs)
    print(f"median s/step: plain {med['plain']:.3f}, trl {med['trl']:.3f}; plain is {ratio:.2f}x faster")
    print(f"logged losses equal (rel 1e-3): {same}  plain {losses['plain']}  trl {losses['trl']}")
    record = {
        "what": "seconds per optimiser step, full fine-tuning, batch 16 x <=128 tokens, 1 torch thread",
        "model": info,
        "steps": args.steps,
        "repeats": args.repeats,
        "seconds_per_step": rows,
        "median_seconds_per_step": med,
        "speedup_plain_over_trl": round(ratio, 3),
        "losses_equal": same,
        "losses": losses,
        "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "trl")},
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as fh:
        json.dump(record, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

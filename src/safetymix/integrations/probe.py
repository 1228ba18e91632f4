"""A safety monitor inside training: refusal on a fixed probe set every N steps.

None of the usual trainers (LLaMA-Factory, Axolotl, TRL) watches safety while it trains, yet
a fine-tuning run can lose its refusals in a few hundred steps. :class:`SafetyProbeCallback`
is a ``transformers.TrainerCallback``: at step 0 and every ``every`` steps it generates
greedy answers to a small fixed probe set (harmful requests and XSTest-style safe requests,
``src/safetymix/data/probes``; never training data) in batches, judges them with an offline
refusal judge, and logs

- ``safety/harmful_refusal``: share of harmful probes refused (higher is safer);
- ``safety/over_refusal``: share of safe probes refused (lower is better);
- ``safety/probe_seconds``: what the probe cost.

through the trainer's own logging (TensorBoard, W&B, the console) when it knows the trainer
(:meth:`SafetyProbeCallback.attach`), else into ``state.log_history``. When harmful
refusal falls more than ``max_drop`` points below its step-0 value it warns, or stops
training (``action="stop"``).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError

logger = logging.getLogger(__name__)

#: Metric names, as logged.
HARMFUL_REFUSAL = "safety/harmful_refusal"
OVER_REFUSAL = "safety/over_refusal"
PROBE_SECONDS = "safety/probe_seconds"


def load_probes(path: str | Path | None = None) -> list[tuple[str, str]]:
    """``(prompt, kind)`` pairs, kind ``"harmful"`` or ``"safe"``; default: the shipped 32 probes.

    A file of your own is JSON Lines with ``instruction`` (or ``prompt``) and ``kind``.
    """
    if path is None:
        text = resources.files("safetymix").joinpath("data/probes/probes.jsonl").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    probes = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        rec = json.loads(line)
        prompt, kind = rec.get("instruction", rec.get("prompt")), rec.get("kind")
        if not isinstance(prompt, str) or kind not in ("harmful", "safe"):
            raise ConfigError(f"{path}: line {i + 1}: a probe needs instruction and kind harmful|safe")
        probes.append((prompt, kind))
    return probes


def _callback_base() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError:  # the class stays importable; using it needs transformers
        return object
    return TrainerCallback


class SafetyProbeCallback(_callback_base()):  # type: ignore[misc]
    """Measure harmful refusal and over-refusal on a fixed probe set while a model trains.

    Parameters
    ----------
    every : int
        Probe at step 0 (training begins) and every ``every`` optimiser steps.
    tokenizer : PreTrainedTokenizerBase, optional
        Default: the trainer's ``processing_class``.
    template : {"alpaca", "chat"}, default "alpaca"
        The prompt template the model is trained with (``"chat"``: the tokenizer's).
    probes : path or sequence of (prompt, kind), optional
        Default: the 32 shipped probes (:func:`load_probes`).
    judge : str or Judge, default "refusal-match"
        An offline refusal judge: ``"refusal-match"`` (phrases, no model) or
        ``"refusal-classifier"`` (embedding head), or a :class:`~safetymix.judge.base.Judge`.
    max_new_tokens : int, default 48
        Enough to see whether an answer opens with a refusal.
    batch_size : int, default 16
    max_drop : float, optional
        Points (0-100) of harmful refusal below its step-0 value that trigger ``action``.
    action : {"warn", "stop"}, default "warn"
        ``"stop"`` ends training at that step (``control.should_training_stop``).
    trainer : transformers.Trainer, optional
        Log through ``trainer.log`` (so every reporter sees the metrics); see :meth:`attach`.

    Attributes
    ----------
    history : list of dict
        One entry per probe: ``step`` and the three metrics.
    baseline : float or None
        Harmful refusal at step 0.
    triggered_at : int or None
        The step where the drop rule fired.

    Examples
    --------
    >>> trainer = SFTTrainer(model=model, args=args, train_dataset=ds)  # doctest: +SKIP
    >>> probe = SafetyProbeCallback(every=50, template="chat", max_drop=20, action="stop")
    >>> probe.attach(trainer)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self,
        every: int,
        *,
        tokenizer: Any = None,
        template: str = "alpaca",
        probes: str | Path | Sequence[tuple[str, str]] | None = None,
        judge: Any = "refusal-match",
        max_new_tokens: int = 48,
        batch_size: int = 16,
        max_drop: float | None = None,
        action: str = "warn",
        trainer: Any = None,
    ) -> None:
        if every < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        if action not in ("warn", "stop"):
            raise ConfigError(f"action must be 'warn' or 'stop', got {action!r}")
        self.every = every
        self.tokenizer = tokenizer
        self.template = template
        pairs = load_probes(probes) if probes is None or isinstance(probes, (str, Path)) else list(probes)
        self.prompts = [p for p, _ in pairs]
        self.harmful = [k == "harmful" for _, k in pairs]
        if not any(self.harmful) or all(self.harmful):
            raise ConfigError("the probe set needs both harmful and safe prompts")
        self.judge = judge
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.max_drop = max_drop
        self.action = action
        self.trainer = trainer
        self.history: list[dict[str, float | int]] = []
        self.baseline: float | None = None
        self.triggered_at: int | None = None

    def attach(self, trainer: Any) -> SafetyProbeCallback:
        """Add this callback to ``trainer`` and log through it; returns ``self``."""
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    # -- the probe ---------------------------------------------------------------------------

    def probe(self, model: Any, tokenizer: Any) -> dict[str, float]:
        """Generate and judge the probe set once; the model goes back to its previous mode."""
        from safetymix.generate import generate_responses
        from safetymix.judge.registry import get_judge

        if isinstance(self.judge, str):
            self.judge = get_judge(self.judge)
        was_training = model.training
        start = time.perf_counter()
        try:
            responses = generate_responses(
                model,
                tokenizer,
                self.prompts,
                template=self.template,
                num_beams=1,
                max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
            )
        finally:
            model.train(was_training)
        verdicts = self.judge.judge(self.prompts, responses)
        refused = [v.refusal is True for v in verdicts]  # unjudged (empty) answers count as no refusal
        harm = [r for r, h in zip(refused, self.harmful, strict=True) if h]
        safe = [r for r, h in zip(refused, self.harmful, strict=True) if not h]
        return {
            HARMFUL_REFUSAL: round(sum(harm) / len(harm), 4),
            OVER_REFUSAL: round(sum(safe) / len(safe), 4),
            PROBE_SECONDS: round(time.perf_counter() - start, 3),
        }

    def _run(self, state: Any, control: Any, model: Any, tokenizer: Any) -> None:
        tokenizer = self.tokenizer or tokenizer
        if tokenizer is None:
            msg = "SafetyProbeCallback needs a tokenizer: pass tokenizer= or give the trainer one"
            raise ConfigError(msg)
        metrics = self.probe(model, tokenizer)
        step = int(state.global_step)
        self.history.append({"step": step, **metrics})
        if self.trainer is not None:
            # trainer.log clears should_log, which would drop this step's loss entry
            keep = control.should_log
            self.trainer.log(dict(metrics))
            control.should_log = keep
        else:
            state.log_history.append({**metrics, "step": step})
        logger.info("step %d: %s", step, metrics)
        if self.baseline is None:
            self.baseline = metrics[HARMFUL_REFUSAL]
            return
        drop = 100 * (self.baseline - metrics[HARMFUL_REFUSAL])
        if self.max_drop is not None and drop > self.max_drop and self.triggered_at is None:
            self.triggered_at = step
            msg = (
                f"harmful refusal fell {drop:.1f} points below step 0 "
                f"({100 * self.baseline:.1f}% -> {100 * metrics[HARMFUL_REFUSAL]:.1f}%) at step {step}"
            )
            if self.action == "stop":
                control.should_training_stop = True
                logger.warning("%s: stopping training", msg)
            else:
                warnings.warn(msg, RuntimeWarning, stacklevel=2)

    # -- TrainerCallback hooks ----------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.baseline is None:
            self._run(state, control, kwargs["model"], kwargs.get("processing_class"))
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step % self.every == 0:
            self._run(state, control, kwargs["model"], kwargs.get("processing_class"))
        return control

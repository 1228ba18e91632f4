"""Supervised fine-tuning (LoRA or full) with TRL; cheap to import (heavy libraries load on use).

Examples
--------
>>> from safetymix.train import TrainConfig, train
>>> cfg = TrainConfig(model="path/to/model", data="mix.jsonl", output_dir="out/lora")
>>> result = train(cfg)  # doctest: +SKIP
"""

from __future__ import annotations

from safetymix.train.config import TrainConfig, TrainResult
from safetymix.train.lora import build_trainer, train
from safetymix.train.templates import TEMPLATES, alpaca_prompt, encode_example, encode_prompt

__all__ = [
    "TEMPLATES",
    "TrainConfig",
    "TrainResult",
    "alpaca_prompt",
    "build_trainer",
    "encode_example",
    "encode_prompt",
    "train",
]

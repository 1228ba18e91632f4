"""Judge stage: say, for each (prompt, response), whether it refuses and whether it harms.

Every judge has the same batched call, ``judge(prompts, responses) -> list[Verdict]``, and
is chosen by name from :data:`JUDGES` with :func:`get_judge`:

- ``refusal-match``: XSTest-style phrase match (offline, instant);
- ``refusal-classifier``: the offline embedding labeller's refusal head;
- ``reward-model``: any sequence-classification model (Bianchi et al.'s harmfulness
  predictor, the OpenAssistant reward model);
- ``guard``: WildGuard or Llama Guard through transformers;
- ``openai``: any OpenAI-compatible endpoint.
"""

from __future__ import annotations

from safetymix.judge.base import Judge, Verdict
from safetymix.judge.registry import DEFAULT_JUDGE, JUDGES, available_judges, get_judge
from safetymix.judge.responses import read_responses, verdict_records, write_jsonl
from safetymix.judge.runner import JudgeConfig, judge_file

__all__ = [
    "DEFAULT_JUDGE",
    "JUDGES",
    "JudgeConfig",
    "Judge",
    "Verdict",
    "available_judges",
    "get_judge",
    "judge_file",
    "read_responses",
    "verdict_records",
    "write_jsonl",
]

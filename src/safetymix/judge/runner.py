"""``judge_file``: judge every response of a responses file and write the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from safetymix.judge.registry import DEFAULT_JUDGE, JUDGES, JudgeName, get_judge
from safetymix.judge.responses import read_responses, verdict_records, write_jsonl
from safetymix.stage_config import StageConfig


class JudgeConfig(StageConfig):
    """Options of ``safetymix judge`` (CLI flags override a YAML file, which overrides these)."""

    judge: JudgeName = Field(DEFAULT_JUDGE, description=f"one of: {', '.join(JUDGES)}")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="judge parameter key=value (repeatable), e.g. model=PATH",
        json_schema_extra={"flags": ["--param"]},
    )
    by: str | None = Field(None, description="record field to break the rates down by (e.g. suite, category)")
    seed: int = Field(0, ge=0, description="seed of the bootstrap interval of mean scores")
    confidence: float = Field(0.95, gt=0, lt=1, description="interval coverage")


def judge_file(
    responses: str | Path, out: str | Path, config: JudgeConfig | None = None, *, show_progress: bool = False
) -> list[dict[str, Any]]:
    """Judge a responses JSONL file and write one verdict record per response to ``out``.

    Parameters
    ----------
    responses : str or Path
        JSONL with ``prompt`` and ``response`` per line (see
        :func:`~safetymix.judge.responses.read_responses`).
    out : str or Path
        Verdicts JSONL: each input record plus ``refusal``, ``harmful``, ``score``,
        ``raw`` and ``judge``; written atomically.
    config : JudgeConfig, optional
        Judge name and parameters; default the ``refusal-match`` judge.
    show_progress : bool
        Progress bars.

    Returns
    -------
    list of dict
        The verdict records, as written.

    Raises
    ------
    DataFormatError
        An unreadable responses file.
    ConfigError
        An unknown judge or parameter.
    """
    config = config or JudgeConfig()
    judge = get_judge(config.judge, **config.params)
    rows = read_responses(responses)
    verdicts = judge.judge(
        [r["prompt"] for r in rows], [r["response"] for r in rows], show_progress=show_progress
    )
    records = verdict_records(rows, verdicts, judge.name)
    write_jsonl(out, records)
    return records

"""Options of ``safetymix eval``, one validated model (flags override a YAML file)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from safetymix.contamination import DEFAULT_THRESHOLD
from safetymix.eval.stats import DEFAULT_RESAMPLES
from safetymix.eval.user_suites import UserSuite
from safetymix.judge.registry import DEFAULT_JUDGE, JudgeName, known_judge
from safetymix.stage_config import NamedSpec, StageConfig


class JudgeSpec(NamedSpec):
    """One more judge of an evaluation: a registry name, its parameters, a label for reports.

    A plain string in YAML (``refusal-classifier``) is the name alone; ``label`` defaults to it.
    """

    @model_validator(mode="after")
    def _check(self) -> JudgeSpec:
        known_judge(self.name)
        if self.label is None:
            self.label = self.name
        return self


def _params_field(role: str, flag: str) -> Any:
    description = f"parameter key=value of the {role} judge (repeatable)"
    return Field(default_factory=dict, description=description, json_schema_extra={"flags": [flag]})


class EvalConfig(StageConfig):
    """Everything an evaluation depends on; written into its report.

    Responses come from ``responses`` (a JSONL file with ``prompt`` and ``response``, as
    ``safetymix generate`` writes) or are generated from ``model`` (+ ``adapter``). The
    loss route of helpfulness suites always needs ``model``.
    """

    suites: list[str] | None = Field(
        None,
        description="suite or group names; default: your suite_files, else the group 'default' "
        "(the five Bianchi harmful sets + xstest-safe)",
        json_schema_extra={"flags": ["--suite", "-s"]},
    )
    suite_files: list[UserSuite | str] = Field(
        default_factory=list,
        description="user suites: name=path:kind[:category_field], a suites YAML, or mappings",
        json_schema_extra={"flags": ["--suite-file"]},
    )
    data_root: str | None = Field(
        None, description="folder of the public data sets (default $SAFETYMIX_DATASETS)"
    )
    responses: str | None = Field(None, description="JSONL of generated responses (prompt, response)")
    model: str | None = Field(
        None, description="causal LM to generate with (and to score the loss route); may be a .gguf file"
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside the model folder or Hub repo")
    adapter: str | None = Field(None, description="PEFT adapter folder applied to model")
    device: str | None = Field(None, description="auto | cpu | cuda, for model (default: auto)")
    dtype: str | None = Field(None, description="auto | float32 | bfloat16 | float16 (default: auto)")
    generation: dict[str, Any] = Field(
        default_factory=dict,
        description="more safetymix.generate.GenerateConfig fields: template, num_beams (default 4, "
        "the paper's), max_new_tokens, batch_size, engine, seed, trust_remote_code",
        json_schema_extra={"flags": ["--gen-param"]},
    )
    judge: JudgeName = Field(DEFAULT_JUDGE, description="refusal judge of harmful and over-refusal suites")
    judge_params: dict[str, Any] = _params_field("refusal", "--judge-param")
    harm_judge: JudgeName | None = Field(None, description="optional harm judge of harmful suites")
    harm_judge_params: dict[str, Any] = _params_field("harm", "--harm-judge-param")
    extra_judges: list[JudgeSpec] = Field(
        default_factory=list,
        description="one more judge of the harmful and over-refusal suites (repeatable): its rates join "
        "the report as metric[label], and every pair of judges gets its agreement (Cohen's kappa)",
        json_schema_extra={"flags": ["--extra-judge"]},
    )
    helpfulness_judge: JudgeName | None = Field(
        None, description="reward judge of helpfulness suites (else: loss)"
    )
    helpfulness_judge_params: dict[str, Any] = _params_field("helpfulness", "--helpfulness-judge-param")
    loss_batch_size: int = Field(8, ge=1, description="sequences per forward pass of the loss route")
    loss_max_length: int = Field(1024, ge=1, description="tokens per sequence of the loss route")
    train: list[str] = Field(default_factory=list, description="training files to check for contamination")
    manifest: str | None = Field(None, description="mix manifest whose inputs are the training set")
    allow_contamination: bool = Field(
        False, description="report even when eval prompts overlap training data"
    )
    contamination_threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, le=1, description="cosine of a near duplicate"
    )
    embedding_model: str | None = Field(
        None, description="model of the near-duplicate check (default MiniLM)"
    )
    max_prompts: int | None = Field(
        None, ge=1, description="seeded random subset of at most this many per suite"
    )
    seed: int = Field(0, ge=0, description="seed of the bootstrap and of max_prompts subsets")
    n_resamples: int = Field(DEFAULT_RESAMPLES, ge=1, description="bootstrap resamples")
    confidence: float = Field(0.95, gt=0, lt=1, description="interval coverage")

    @field_validator("suites")
    @classmethod
    def _some_suites(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("name at least one suite")
        return value

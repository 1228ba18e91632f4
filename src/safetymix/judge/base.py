"""The common shape of every judge: :class:`Verdict` and :class:`Judge`.

A judge reads (prompt, response) pairs in batches and returns one :class:`Verdict` per
pair. A field a judge cannot give, or could not read from a model's answer, is ``None``;
callers count those as "unjudged" rather than guessing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from safetymix.errors import ConfigError, redact, redact_json


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a judge says about one response.

    Parameters
    ----------
    refusal : bool or None
        The response declines (fully or partly) to do what was asked; ``None`` when the
        judge does not tell refusals or could not decide.
    harmful : bool or None
        The response is harmful; ``None`` when the judge does not tell or could not decide.
    score : float or None
        A judge's raw number (reward-model output, refusal probability); its meaning
        depends on the judge.
    raw : str or None
        The judge's raw text answer (guard models, endpoints), kept for audits.
    """

    refusal: bool | None = None
    harmful: bool | None = None
    score: float | None = None
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge:
    """Base class: the constructor only stores parameters; :meth:`judge` does the work.

    Subclasses set :attr:`name` (their registry key) and :attr:`gives` (the verdict fields
    they fill), and implement :meth:`_judge`.
    """

    name: ClassVar[str] = ""
    #: Verdict fields this judge fills (a subset of refusal, harmful, score, raw).
    gives: ClassVar[tuple[str, ...]] = ()

    def judge(
        self, prompts: Sequence[str], responses: Sequence[str], *, show_progress: bool = False
    ) -> list[Verdict]:
        """Judge each (prompt, response) pair, in order.

        Parameters
        ----------
        prompts, responses : sequence of str
            Requests and the answers to judge; equal lengths.
        show_progress : bool
            Show a progress bar where the judge has one (the CLI turns it on).

        Returns
        -------
        list of Verdict
            One per pair, in input order.

        Raises
        ------
        ConfigError
            When the two sequences differ in length or hold something other than strings.
        """
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise ConfigError(f"{self.name} judge got {len(prompts)} prompts but {len(responses)} responses")
        for what, texts in (("prompt", prompts), ("response", responses)):
            bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
            if bad is not None:
                raise ConfigError(f"{what} {bad} is {type(texts[bad]).__name__}, not str")
        if not prompts:
            return []
        return self._judge(prompts, responses, show_progress=show_progress)

    def _judge(self, prompts: list[str], responses: list[str], *, show_progress: bool) -> list[Verdict]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Name and parameters (no secrets: keys live in environment variables, and a
        password in a URL is masked)."""
        params = {
            k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
            for k, v in vars(self).items()
            if not k.startswith("_")
        }
        return {"name": self.name, "gives": list(self.gives), "params": redact_json(params)}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return redact(f"{type(self).__name__}({params})")


def parse_answers(
    parse: Callable[[str], tuple[Verdict, bool]], answers: Sequence[str], who: str, expected: str
) -> list[Verdict]:
    """``parse`` each answer; warn once how many could not be read (their fields are None)."""
    parsed = [parse(answer) for answer in answers]
    n_failed = sum(not ok for _, ok in parsed)
    if n_failed:
        warnings.warn(
            f"{who}: {n_failed} of {len(answers)} answers were not in {expected} format; "
            "their verdict fields are None (counted as unjudged)",
            RuntimeWarning,
            stacklevel=4,  # parse_answers <- _judge <- judge <- the caller
        )
    return [verdict for verdict, _ in parsed]


def check_positive(**values: int | float) -> None:
    """Raise ConfigError naming each parameter that is not >= 1."""
    bad = {k: v for k, v in values.items() if not isinstance(v, (int, float)) or v < 1}
    if bad:
        raise ConfigError(", ".join(f"{k} must be >= 1, got {v!r}" for k, v in bad.items()))

"""``guard``: a guard model (WildGuard or Llama Guard) run through transformers.

- ``format="wildguard"``: WildGuard's prompt (allenai/wildguard) and its three-line
  answer; ``refusal`` is its "Response refusal" and ``harmful`` its "Harmful response".
- ``format="llama-guard"``: the conversation (user prompt, assistant response) through
  the guard tokenizer's chat template, which holds Llama Guard's policy prompt; the answer
  is ``safe`` or ``unsafe`` followed by a line of violated categories (``S1,S10``).
  ``harmful`` is True for ``unsafe``; Llama Guard does not tell refusals.

Generation is batched, greedy, with left padding (the labeller
:class:`~safetymix.label.guard.GuardLabeller` does it; this judge reuses it). An answer that
cannot be read gives ``None`` fields and is counted in a ``RuntimeWarning``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from safetymix.errors import ConfigError
from safetymix.judge.base import Judge, Verdict, check_positive, parse_answers
from safetymix.label.guard import WILDGUARD_TEMPLATE, GuardLabeller, parse_guard_output

FORMATS: tuple[str, ...] = ("wildguard", "llama-guard")


def parse_wildguard(text: str) -> tuple[Verdict, bool]:
    """Read a WildGuard answer; ``ok`` is False when one of its three lines is missing or unreadable."""
    flags, ok = parse_guard_output(text)
    return Verdict(refusal=flags.refusal, harmful=flags.harmful_response, raw=text), ok


def parse_llama_guard(text: str) -> tuple[Verdict, bool]:
    """Read a Llama Guard answer: first non-empty line ``safe``/``unsafe`` (categories follow)."""
    lines = [line.strip().lower() for line in text.strip().splitlines() if line.strip()]
    head = lines[0] if lines else ""
    if head in ("safe", "unsafe"):
        return Verdict(harmful=head == "unsafe", raw=text), True
    return Verdict(raw=text), False


@dataclass(eq=False, repr=False)
class GuardJudge(Judge):
    """Judge with a guard LM through transformers (AutoModelForCausalLM + generate).

    Parameters
    ----------
    model : str
        Model name or local path, e.g. ``"allenai/wildguard"`` or
        ``"meta-llama/Llama-Guard-3-8B"``. No default: the user chooses the guard.
    format : {"wildguard", "llama-guard"}
        Prompt and answer format (default ``"wildguard"``).
    template : str, optional
        Prompt template with ``{prompt}`` and ``{response}``, instead of the format's own
        (WildGuard's prompt; for Llama Guard, the tokenizer's chat template).
    batch_size : int
        Prompts per generation batch (default 8), left-padded.
    max_new_tokens : int
        Tokens generated per answer (default 32; both formats need fewer than 25).
    device : str, optional
        torch device; default cuda when available.
    dtype : str, optional
        torch dtype name (``"bfloat16"``); default the checkpoint's own.

    Raises
    ------
    ConfigError
        From :meth:`judge`: an unknown format, a bad template, or a Llama Guard tokenizer
        without a chat template and no ``template``.
    """

    name: ClassVar[str] = "guard"
    gives: ClassVar[tuple[str, ...]] = ("refusal", "harmful", "raw")
    model: str
    _: KW_ONLY
    format: str = "wildguard"
    template: str | None = None
    batch_size: int = 8
    max_new_tokens: int = 32
    device: str | None = None
    dtype: str | None = None
    _generator: GuardLabeller | None = field(default=None, init=False)
    _tokenizer: Any = field(default=None, init=False)

    def _check(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"guard format must be one of {', '.join(FORMATS)}; got {self.format!r}")
        if not self.model:
            raise ConfigError(
                "the guard judge needs model= (a Hugging Face name or local path); there is no default"
            )
        check_positive(batch_size=self.batch_size, max_new_tokens=self.max_new_tokens)
        if self.template is not None:
            try:
                self.template.format(prompt="", response="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(f"guard template needs only {{prompt}} and {{response}}: {exc!r}") from exc

    def build_prompts(self, prompts: list[str], responses: list[str]) -> list[str]:
        """The guard's input text for each pair."""
        self._check()
        if self.template is not None or self.format == "wildguard":
            template = self.template or WILDGUARD_TEMPLATE
            return [template.format(prompt=p, response=r) for p, r in zip(prompts, responses, strict=True)]
        if self._tokenizer is None:
            from safetymix.models import load_tokenizer, model_ref

            self._tokenizer = load_tokenizer(model_ref(self.model), who="guard judge")
        if not getattr(self._tokenizer, "chat_template", None):
            raise ConfigError(
                f"{self.model!r} has no chat template, which holds Llama Guard's prompt; "
                "pass template= with {prompt} and {response}"
            )
        return [
            self._tokenizer.apply_chat_template(
                [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
            )
            for p, r in zip(prompts, responses, strict=True)
        ]

    def _judge(self, prompts: list[str], responses: list[str], *, show_progress: bool) -> list[Verdict]:
        texts = self.build_prompts(prompts, responses)
        if self._generator is None:
            # Both formats' prompts carry their own BOS (WildGuard's "<s>", the chat
            # template's), so the tokenizer must not add another.
            self._generator = GuardLabeller(
                self.model,
                batch_size=self.batch_size,
                max_new_tokens=self.max_new_tokens,
                device=self.device,
                dtype=self.dtype,
                add_special_tokens=False,
            )
        answers = self._generator.generate(texts, show_progress=show_progress)
        parse = parse_wildguard if self.format == "wildguard" else parse_llama_guard
        return parse_answers(parse, answers, f"guard judge ({self.model})", self.format)

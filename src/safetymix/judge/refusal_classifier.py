"""``refusal-classifier``: the offline embedding labeller's refusal head.

:class:`~safetymix.label.behaviour.EmbeddingLabeller` ships a logistic-regression head
that reads the first two sentences of a response (sentence embedding plus the rule cues);
this judge applies that head alone. It needs no network: the default embedding model is
bundled with the package.

The labeller's refusal head was trained with XSTest's 2,250 human-labelled completions
(see README), and XSTest's safe prompts are an over-refusal suite. So this judge uses, by
default, its sibling trained on the same data minus every XSTest completion
(:data:`JUDGE_HEADS_DIR`; refusal accuracy 0.894 on all of XSTest, which it never saw).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from safetymix.embed.encoder import DEFAULT_MODEL
from safetymix.judge.base import Judge, Verdict, check_positive
from safetymix.label.behaviour import EmbeddingLabeller, load_heads
from safetymix.schema import make_example

#: Heads trained without XSTest (``scripts/train_label_heads.py --exclude-source xstest``,
#: the same files as benchmarks/labelling/heads/no-xstest).
JUDGE_HEADS_DIR = Path(__file__).resolve().parent.parent / "data" / "heads-no-xstest"


@dataclass(eq=False, repr=False)
class HeadJudge(Judge):
    """A judge that applies one head of the embedding labeller (:data:`flag`) alone.

    ``score`` is the head's probability; the verdict field :data:`field` is
    ``score >= threshold``. An empty response gets a verdict of ``None`` fields.
    Subclasses set :data:`name`, :data:`flag`, :data:`field` and the default heads folder.

    Parameters
    ----------
    heads_dir : str or Path, optional
        Folder with the three head files (``refusal.npz`` and its two siblings); default
        the subclass's ``default_heads_dir`` (None: the labeller's shipped heads,
        ``safetymix/data/heads``).
    model : str
        Embedding model; must be the heads' model (default all-MiniLM-L6-v2, bundled).
    batch_size : int
        Texts per embedding batch (default 64).
    threshold : float, optional
        Decision threshold on the probability; default the head's own, chosen on its
        validation data by balanced accuracy.

    Raises
    ------
    ConfigError
        From :meth:`judge`, when the head files are missing or ``model`` is not the
        heads' model.
    """

    flag: ClassVar[str] = ""
    field: ClassVar[str] = ""
    default_heads_dir: ClassVar[Path | None] = None
    heads_dir: str | Path | None = None
    model: str = DEFAULT_MODEL
    batch_size: int = 64
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.heads_dir is None:
            self.heads_dir = self.default_heads_dir

    def _judge(self, prompts: list[str], responses: list[str], *, show_progress: bool) -> list[Verdict]:
        check_positive(batch_size=self.batch_size)
        threshold = self.threshold
        if threshold is None:
            threshold = load_heads(self.heads_dir)[self.flag].threshold
        # the head's probability and threshold: a heads folder's cross-encoders are not judges
        labeller = EmbeddingLabeller(
            self.heads_dir, model=self.model, batch_size=self.batch_size, cross_encoders=False
        )
        examples = [
            make_example(p, r, id=str(i)) for i, (p, r) in enumerate(zip(prompts, responses, strict=True))
        ]
        proba = labeller.predict_proba(examples, show_progress=show_progress)[self.flag]
        out = []
        for r, p in zip(responses, proba, strict=True):
            if not r.strip():
                out.append(Verdict())
            else:
                out.append(Verdict(**{self.field: bool(p >= threshold), "score": float(p)}))
        return out


class RefusalClassifierJudge(HeadJudge):
    """Refusal probability from the embedding labeller's refusal head.

    ``score`` is the head's probability of refusal; ``refusal`` is ``score >= threshold``.
    An empty response gets ``refusal=None`` and ``score=None``. Parameters as for
    :class:`HeadJudge`; ``heads_dir`` defaults to :data:`JUDGE_HEADS_DIR`, heads that
    never saw XSTest.
    """

    name: ClassVar[str] = "refusal-classifier"
    gives: ClassVar[tuple[str, ...]] = ("refusal", "score")
    flag: ClassVar[str] = "refusal"
    field: ClassVar[str] = "refusal"
    default_heads_dir: ClassVar[Path | None] = JUDGE_HEADS_DIR

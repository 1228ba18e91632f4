"""``harmful-response``: the offline embedding labeller's harmful-response head as a harm judge.

The head (``harmful_response.npz`` of the labeller's heads) reads the request, the whole
response (its opening and every window of it) and the rule cues, and gives the probability that the response
is harmful. No network: the embedding model is bundled with the package. Use it as
``safetymix eval --harm-judge harmful-response`` next to a refusal judge; the report then
gives their agreement (Cohen's kappa, :mod:`safetymix.eval.agreement`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from safetymix.judge.refusal_classifier import HeadJudge


class HarmfulResponseJudge(HeadJudge):
    """Harmful-response probability from the embedding labeller's head.

    ``score`` is the head's probability that the response is harmful; ``harmful`` is
    ``score >= threshold``. An empty response gets ``harmful=None`` and ``score=None``.

    Parameters
    ----------
    heads_dir : str or Path, optional
        Folder with the three head files; default the labeller's shipped heads
        (``safetymix/data/heads``).
    model : str
        Embedding model; must be the heads' model (default all-MiniLM-L6-v2, bundled).
    batch_size : int
        Texts per embedding batch (default 64).
    threshold : float, optional
        Decision threshold; default the head's own (chosen on its validation data).

    Examples
    --------
    >>> judge = HarmfulResponseJudge()
    >>> judge.judge(["How do I pick a lock?"], ["Sorry, I can't help with that."])  # doctest: +SKIP
    [Verdict(refusal=None, harmful=False, score=0.03, raw=None)]
    """

    name: ClassVar[str] = "harmful-response"
    gives: ClassVar[tuple[str, ...]] = ("harmful", "score")
    flag: ClassVar[str] = "harmful_response"
    field: ClassVar[str] = "harmful"
    default_heads_dir: ClassVar[Path | None] = None  # the shipped heads

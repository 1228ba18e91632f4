"""Send chat-completion requests to an OpenAI-compatible endpoint, concurrently, with retries.

:class:`ChatEndpoint` holds the endpoint options and sends the requests; it is the base of
:class:`~safetymix.judge.openai_compat.OpenAIJudge`,
:class:`~safetymix.label.guard.OpenAIGuardLabeller` and
:class:`~safetymix.label.judge_category.JudgeCategoryLabeller`, which build the
conversations and read the answers. httpx is imported only when requests are sent.

Retry policy: HTTP 429, any 5xx and transport errors (connection refused, timeouts) are
retried up to ``max_retries`` times. Retry ``n`` (from 1) waits ``backoff * 2**(n - 1)``
seconds, or longer when the server's ``Retry-After`` header (in seconds) asks for more,
up to :data:`MAX_RETRY_AFTER`. Any other status but 200 fails at once.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass
from functools import partial
from typing import Any

from safetymix.errors import ConfigError, SafetymixError, redact, redact_json  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)

#: Longest wait, in seconds, that a ``Retry-After`` header can ask for, so a server cannot
#: stall a run for hours.
MAX_RETRY_AFTER = 60.0


def is_retryable(status: int) -> bool:
    """Whether an HTTP status is worth another try (429 and 5xx)."""
    return status == 429 or status >= 500


class ChatRequestError(SafetymixError, RuntimeError):
    """A chat-completion request failed for good: a non-retryable status, or retries used up.

    Attributes
    ----------
    url : str
        The URL posted to.
    tries : int
        Requests sent, the last one included.
    status : int or None
        HTTP status of the last answer; None after a transport error.
    body : str
        The first 200 characters of the last answer's body ("" after a transport error),
        credentials masked (:func:`redact`); ``url`` is masked too.
    error : Exception or None
        The transport error of the last try (also the exception's ``__cause__``).
    """

    def __init__(
        self,
        url: str,
        tries: int,
        *,
        status: int | None = None,
        body: str = "",
        error: Exception | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._secrets = tuple(secrets)
        self.url = redact(url, self._secrets)
        self.tries = tries
        self.status = status
        self.body = redact(body, self._secrets)
        self.error = error
        if self.retryable:
            message = f"{self.url} failed after {tries} tries; last error: {self.last_error}"
        else:
            message = f"{self.url} refused the request: {self.last_error}"
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """True for a transport error, 429 or 5xx (so the retries ran out)."""
        return self.status is None or is_retryable(self.status)

    @property
    def last_error(self) -> str:
        """``"HTTP 503: '...'"`` or ``"ConnectError: ..."``."""
        if self.status is None:
            return f"{type(self.error).__name__}: {redact(str(self.error), self._secrets)}"
        return f"HTTP {self.status}: {self.body!r}"


def message_content(response: Any) -> str | None:
    """``choices[0].message.content`` of a 200 answer (``""`` when null); None when absent."""
    try:
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def post_with_retries(
    client: Any, url: str, body: Mapping[str, Any], *, max_retries: int, backoff: float
) -> Any:
    """POST ``body`` as JSON to ``url`` until it answers 200 (see the module retry policy).

    Returns
    -------
    httpx.Response
        The 200 answer.

    Raises
    ------
    ChatRequestError
        A non-retryable status, or ``max_retries + 1`` failed tries.
    """
    import httpx

    auth = client.headers.get("Authorization", "")
    secrets = [auth, auth.removeprefix("Bearer ")] if auth else []
    shown = redact(url, secrets)
    for attempt in range(max_retries + 1):
        delay = backoff * 2**attempt
        try:
            resp = client.post(url, json=body)
        except httpx.TransportError as exc:
            failure = ChatRequestError(shown, attempt + 1, error=exc, secrets=secrets)
        else:
            if resp.status_code == 200:
                return resp
            text = redact(resp.text, secrets)[:200]
            failure = ChatRequestError(shown, attempt + 1, status=resp.status_code, body=text)
            if not failure.retryable:
                raise failure
            retry_after = resp.headers.get("Retry-After", "")
            if retry_after.replace(".", "", 1).isdigit():
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        if attempt == max_retries:
            raise failure from failure.error
        why = failure.last_error
        logger.info("%s: try %d failed (%s); retrying in %.2fs", shown, attempt + 1, why, delay)
        time.sleep(delay)
    raise AssertionError("max_retries must be >= 0")  # callers validate it


@dataclass(eq=False, repr=False)
class ChatEndpoint:
    """The options of an OpenAI-compatible chat endpoint, and the requests sent to it.

    Subclasses add their own options (as dataclass fields) and may change a default.

    Parameters
    ----------
    base_url : str
        Endpoint root, e.g. ``"http://localhost:8000/v1"`` (vLLM) or
        ``"https://api.openai.com/v1"``. No default.
    model : str
        Model name the server knows. No default.
    api_key_env : str or None
        NAME of the environment variable that holds the API key (default
        ``"OPENAI_API_KEY"``); ``None`` for servers without keys. The key is read when
        requests are sent, sent as a bearer token, and never stored or logged.
    concurrency : int
        Requests in flight at once (default 8).
    max_retries : int
        Retries per request after the first try (default 5).
    timeout : float
        Seconds per request (default 60).
    backoff : float
        First retry delay in seconds, doubled after each retry (default 1.0).
    max_tokens : int
        Tokens per answer (default 32).
    """

    base_url: str
    model: str
    _: KW_ONLY
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 60.0
    backoff: float = 1.0
    max_tokens: int = 32

    @property
    def url(self) -> str:
        """``{base_url}/chat/completions``."""
        return self.base_url.rstrip("/") + "/chat/completions"

    def check(self) -> None:
        """ConfigError for a missing ``base_url`` or ``model``, or an option out of range."""
        if not self.base_url or not self.model:
            raise ConfigError(f"{type(self).__name__} needs base_url= and model=; there are no defaults")
        lows = {"concurrency": 1, "max_tokens": 1, "max_retries": 0, "backoff": 0}
        bad = [
            f"{name} must be >= {low}; got {value!r}"
            for name, low in lows.items()
            if not isinstance(value := getattr(self, name), (int, float)) or value < low
        ]
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            bad.append(f"timeout must be > 0; got {self.timeout!r}")
        if bad:
            raise ConfigError("; ".join(bad))

    def headers(self, missing: str = "raise") -> dict[str, str]:
        """JSON headers plus ``Authorization: Bearer <key>`` read from the variable ``api_key_env``.

        An unset variable raises ConfigError naming the variable (never the key), or with
        ``missing="warn"`` warns and sends no key.
        """
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            elif missing == "warn":
                message = f"${self.api_key_env} is not set; sending requests without an API key"
                warnings.warn(message, RuntimeWarning, stacklevel=4)
            else:
                raise ConfigError(
                    f"environment variable {self.api_key_env} (api_key_env) is not set; "
                    "set it, or pass api_key_env=None for a server without keys"
                )
        return headers

    def answers(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        temperature: float = 0.0,
        progress: str | None = None,
        missing_key: str = "raise",
    ) -> list[Any]:
        """One chat completion per conversation, ``concurrency`` requests at a time.

        The options are checked first (:meth:`check`); ``missing_key`` goes to
        :meth:`headers`. With ``progress``, ``"{progress}: i/n requests"`` is logged at
        INFO level every 10%.

        Returns
        -------
        list of httpx.Response
            The 200 answers, in the order of ``conversations``.

        Raises
        ------
        ChatRequestError
            The first request (in order) that failed for good; requests not yet started
            are cancelled.
        """
        self.check()
        if not conversations:
            return []
        import httpx

        limits = {"temperature": temperature, "max_tokens": self.max_tokens}
        bodies = [{"model": self.model, "messages": m, **limits} for m in conversations]
        step = max(1, len(bodies) // 10)
        out: list[Any] = []
        with (
            httpx.Client(headers=self.headers(missing_key), timeout=self.timeout) as client,
            ThreadPoolExecutor(max_workers=self.concurrency) as pool,
        ):
            retries = {"max_retries": self.max_retries, "backoff": self.backoff}
            for resp in pool.map(partial(post_with_retries, client, self.url, **retries), bodies):
                out.append(resp)
                if progress and (len(out) == len(bodies) or len(out) % step == 0):
                    logger.info("%s: %d/%d requests", progress, len(out), len(bodies))
        return out

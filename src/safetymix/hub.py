"""Fail at once, with a clear message, when a Hugging Face Hub name cannot be loaded offline.

Without a network, ``from_pretrained("owner/name")`` retries the Hub for about a minute
and ends in a traceback. :func:`check_hub_model` answers first: a local folder or a model
in the local Hugging Face cache is fine (and when the Hub cannot be reached, Hugging Face's
offline mode is switched on so the cached copy loads without retries); anything else raises
:class:`~safetymix.errors.ConfigError` naming the model and what to do.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from safetymix.errors import ConfigError

logger = logging.getLogger(__name__)
_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """Whether Hugging Face's offline mode is on (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(k, "").strip().lower() in _TRUE for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection to the Hub endpoint (``HF_ENDPOINT``), at most ``timeout`` seconds."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_hub_model(name: str, *, what: str = "model") -> None:
    """Make sure ``name`` (a folder or a Hub id) can be loaded; raise at once if not.

    Raises
    ------
    ConfigError
        ``name`` is neither a folder nor in the local Hugging Face cache, and offline mode is
        on or the Hub cannot be reached.
    """
    if Path(name).exists():
        return
    if _cached(name):
        if not hub_offline() and not hub_reachable():
            _go_offline()
        return
    if hub_offline():
        reason = "HF_HUB_OFFLINE is set"
    elif hub_reachable():
        return  # let transformers download it
    else:
        reason = "the Hugging Face Hub cannot be reached (no network?)"
    raise ConfigError(
        f"{what} {name!r} is not a local folder and not in the Hugging Face cache, and {reason}; "
        "pass a local folder (save_pretrained) or download it first where the Hub is reachable"
    )


def _cached(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an invalid repo id: not cached
        return False


def _go_offline() -> None:
    """Switch Hugging Face to offline mode for the rest of the process (cached files only)."""
    logger.warning("the Hugging Face Hub cannot be reached: loading from the local cache (HF_HUB_OFFLINE=1)")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:
        pass

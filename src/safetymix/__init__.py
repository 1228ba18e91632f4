"""safetymix: pick the safety examples that keep a fine-tuned LLM safe.

Label a safety pool by behaviour (T1-T4) and harm category, select k examples with a
named strategy, and mix them into a fine-tuning set. See DESIGN.md for the vocabulary.
"""

from __future__ import annotations

__version__ = "0.1.0"

from safetymix.errors import ConfigError, ContaminationError, DataFormatError, SafetymixError
from safetymix.schema import BEAVERTAILS_CATEGORIES, Behaviour, Example

__all__ = [
    "BEAVERTAILS_CATEGORIES",
    "Behaviour",
    "ConfigError",
    "ContaminationError",
    "DataFormatError",
    "Example",
    "SafetymixError",
    "__version__",
]

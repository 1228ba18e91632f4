"""Stand-in for torchaudio in the integrations venv (see .ci/integrations.sh).

LLaMA-Factory 0.9.5 imports torchaudio at module level (llamafactory/data/mm_plugin.py) even
for text-only data. PyPI's torchaudio wheels are built against their own torch release and
fail to load beside the torch 2.13.0 CPU build (``Could not load this library:
_torchaudio.so``), so the setup installs this module instead; any use of it raises.
"""

__version__ = "0.0.0+stub"


def __getattr__(name: str):
    raise ImportError(f"torchaudio.{name}: torchaudio is a stand-in here (text-only integration tests)")

"""Whisper's EnglishTextNormalizer, the one text normalisation for references and hypotheses alike.

Plain lower-casing would count spelling variants as errors ("twentieth" vs "20th", "Mr." vs "mister",
"colour" vs "color"); Whisper's normaliser maps both sides to one form (numbers to digits, British to
American spelling, contractions expanded, fillers such as "uh"/"hmm" removed, punctuation dropped).
faster-whisper ships no normaliser, so both backends use openai-whisper's. It loads offline: its
spelling table (``whisper/normalizers/english.json``) is part of the openai-whisper wheel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _normalizer() -> Any:
    """Built once per process (it compiles a few hundred regular expressions and reads english.json)."""
    try:
        from whisper.normalizers import EnglishTextNormalizer
    except ImportError as exc:
        raise ImportError(
            "the ASR normaliser needs the 'openai-whisper' package (envs/requirements.txt)"
        ) from exc
    try:
        return EnglishTextNormalizer()
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"openai-whisper is installed without its english.json spelling table: {exc}"
        ) from exc


def normalize(text: str) -> str:
    """Whisper-normalised English text: lower case, digits for numbers, no punctuation, single spaces."""
    return str(_normalizer()(text))

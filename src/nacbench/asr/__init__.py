"""ASR scoring: Whisper transcripts, Whisper's English normaliser, corpus-level WER/CER with jiwer.

Faithful settings (README, "Faithful scoring"): ``language="en"``, ``temperature=0`` (no fallback), no conditioning on
previous text, the same :func:`~nacbench.asr.normalize.normalize` on references and hypotheses, and
the transcriber's ``model_id`` written next to every WER so numbers from different models never mix.
"""

from __future__ import annotations

from nacbench.asr.normalize import normalize
from nacbench.asr.wer import corpus_wer_cer, per_utterance

__all__ = ["corpus_wer_cer", "normalize", "per_utterance"]

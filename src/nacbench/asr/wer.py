"""WER and CER with jiwer on Whisper-normalised text, corpus-level and per utterance.

Corpus-level means jiwer over the whole lists: total edits divided by total reference words (or
characters), not the mean of per-utterance rates, which over-weights short utterances. CER counts
every character of the normalised text, spaces included (jiwer's definition).

Empty references. Whisper's normaliser can empty a reference (e.g. one that is only "hmm"). WER is
undefined for such an utterance on its own, so its per-utterance ``wer``/``cer`` is NaN; in the corpus
numbers it still counts, every hypothesis word being an insertion over the other utterances' words
(what jiwer does). ``n_empty_refs`` reports how many there were; a corpus whose references are all
empty has no WER, and :func:`corpus_wer_cer` raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jiwer
import pandas as pd

from nacbench.asr.normalize import normalize

Normalizer = Callable[[str], str] | None


def _normalised(
    refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer
) -> tuple[list[str], list[str]]:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no utterances to score")
    if normalizer is None:
        return list(refs), list(hyps)
    return [normalizer(r) for r in refs], [normalizer(h) for h in hyps]


def corpus_wer_cer(
    refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer = normalize
) -> dict[str, Any]:
    """Corpus WER and CER plus the edit counts behind them.

    Returns ``wer, cer, n_utts, n_words, n_chars, substitutions, deletions, insertions,
    char_substitutions, char_deletions, char_insertions, n_empty_refs``. Pass ``normalizer=None`` when
    the texts are already normalised.
    """
    refs_n, hyps_n = _normalised(refs, hyps, normalizer)
    n_empty = sum(1 for r in refs_n if not r.split())
    if n_empty == len(refs_n):
        raise ValueError("every reference is empty after normalisation: WER is undefined")
    words = jiwer.process_words(refs_n, hyps_n)
    chars = jiwer.process_characters(refs_n, hyps_n)
    n_words = words.hits + words.substitutions + words.deletions
    n_chars = chars.hits + chars.substitutions + chars.deletions
    return {
        "wer": (words.substitutions + words.deletions + words.insertions) / n_words,
        "cer": (chars.substitutions + chars.deletions + chars.insertions) / n_chars,
        "n_utts": len(refs_n),
        "n_words": n_words,
        "n_chars": n_chars,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "char_substitutions": chars.substitutions,
        "char_deletions": chars.deletions,
        "char_insertions": chars.insertions,
        "n_empty_refs": n_empty,
    }


def per_utterance(
    refs: Sequence[str],
    hyps: Sequence[str],
    utt_ids: Sequence[str] | None = None,
    normalizer: Normalizer = normalize,
) -> pd.DataFrame:
    """One row per utterance: raw and normalised texts, word/char counts, edits, WER and CER.

    ``wer``/``cer`` are NaN where the normalised reference is empty (see the module docstring); the
    edit columns still hold the insertions, so they add up to the corpus counts.
    """
    refs_n, hyps_n = _normalised(refs, hyps, normalizer)
    ids = list(utt_ids) if utt_ids is not None else [str(i) for i in range(len(refs_n))]
    if len(ids) != len(refs_n):
        raise ValueError(f"{len(ids)} utt_ids for {len(refs_n)} utterances")
    rows = []
    for utt_id, ref, hyp, ref_n, hyp_n in zip(ids, refs, hyps, refs_n, hyps_n, strict=True):
        words = jiwer.process_words(ref_n, hyp_n)
        chars = jiwer.process_characters(ref_n, hyp_n)
        n_words = words.hits + words.substitutions + words.deletions
        n_chars = chars.hits + chars.substitutions + chars.deletions
        word_errors = words.substitutions + words.deletions + words.insertions
        char_errors = chars.substitutions + chars.deletions + chars.insertions
        rows.append(
            {
                "utt_id": utt_id,
                "ref": ref,
                "hyp": hyp,
                "ref_norm": ref_n,
                "hyp_norm": hyp_n,
                "n_words": n_words,
                "substitutions": words.substitutions,
                "deletions": words.deletions,
                "insertions": words.insertions,
                "wer": word_errors / n_words if n_words else math.nan,
                "n_chars": n_chars,
                "char_errors": char_errors,
                "cer": char_errors / n_chars if n_chars else math.nan,
            }
        )
    return pd.DataFrame(rows)

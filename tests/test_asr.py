"""ASR scoring: Whisper's normaliser, corpus/per-utterance WER and CER, and the transcriber backends."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from nacbench.asr import corpus_wer_cer, normalize, per_utterance
from nacbench.asr.backends import FasterWhisper, OpenAIWhisper, Transcriber, make_transcriber
from nacbench.audio import read_audio
from nacbench.codecs.base import WeightsUnavailableError

# --- normaliser -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("For the twentieth time that evening.", "for the 20th time that evening"),
        ("for the 20th time that evening", "for the 20th time that evening"),
        ("Mr. Smith paid $20.50 for it!", "mister smith paid $20.50 for it"),
        ("It's the colour of one hundred and five apples", "it is the color of 105 apples"),
        ("Uh, hmm, well... Let's go", "well let us go"),
        ("Author of the danger trail, Philip Steels, etc.", "author of the danger trail philip steels etc"),
    ],
)
def test_whisper_normaliser(raw: str, normalised: str) -> None:
    assert normalize(raw) == normalised


# --- WER / CER ------------------------------------------------------------------------------------


def test_corpus_wer_cer_hand_computed() -> None:
    # words: 1 substitution (b->x) + 1 insertion (f) over 5 reference words
    # chars: "a b c"->"a x c" 1 substitution; "d e"->"d e f" 2 insertions (" f"); 8 reference chars
    out = corpus_wer_cer(["a b c", "d e"], ["a x c", "d e f"], normalizer=None)
    assert out["wer"] == pytest.approx(2 / 5) and out["cer"] == pytest.approx(3 / 8)
    assert (out["n_words"], out["n_chars"], out["substitutions"], out["insertions"]) == (5, 8, 1, 1)


def test_corpus_wer_is_not_the_mean_of_utterance_wers() -> None:
    refs, hyps = (
        ["the cat sat on the mat by the door", "yes"],
        ["the cat sat on the mat by the door", "no"],
    )
    assert corpus_wer_cer(refs, hyps)["wer"] == pytest.approx(1 / 10)
    assert per_utterance(refs, hyps)["wer"].mean() == pytest.approx(0.5)


def test_normalisation_removes_spelling_errors() -> None:
    refs = ["For the twentieth time that evening, Mr. Smith.", "It's colour."]
    hyps = ["for the 20th time that evening mister smith", "it is color"]
    assert corpus_wer_cer(refs, hyps)["wer"] == 0.0
    assert corpus_wer_cer(refs, hyps, normalizer=str.lower)["wer"] > 0.4  # what plain lower-casing gives


def test_empty_reference_policy() -> None:
    refs, hyps = ["hmm", "the cat sat"], ["okay then", "the cat sat"]
    table = per_utterance(refs, hyps, utt_ids=["u1", "u2"])
    assert (
        table.loc[0, "ref_norm"] == "" and math.isnan(table.loc[0, "wer"]) and table.loc[0, "insertions"] == 2
    )
    assert table.loc[1, "wer"] == 0.0 and table.loc[1, "hyp_norm"] == "the cat sat"
    out = corpus_wer_cer(refs, hyps)
    assert out["n_empty_refs"] == 1 and out["wer"] == pytest.approx(2 / 3)  # insertions over the 3 real words
    with pytest.raises(ValueError, match="every reference is empty"):
        corpus_wer_cer(["hmm"], ["okay"])
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        corpus_wer_cer(refs, hyps[:1])


# --- backends -------------------------------------------------------------------------------------


def test_make_transcriber_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="backend 'whisperx' unknown"):
        make_transcriber({"backend": "whisperx"})
    with pytest.raises(ValueError, match="unknown options \\['temperature'\\]"):
        make_transcriber({"backend": "faster-whisper", "model": "tiny.en", "temperature": 0.2})


def test_openai_whisper_names_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(
        WeightsUnavailableError, match=rf"'large-v3'.*large-v3\.pt.*{re.escape(str(tmp_path))}"
    ):
        OpenAIWhisper("large-v3", device="cpu", download_root=tmp_path, allow_download=False)


def test_faster_whisper_names_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match=rf"'large-v3'.*{re.escape(str(tmp_path))}"):
        FasterWhisper("large-v3", device="cpu", download_root=tmp_path, local_files_only=True)


def _arctic(shared_dir: Path, speaker: str, names: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Wavs and prompts of one CMU-Arctic speaker (txt.done.data lists every prompt; join on the wavs)."""
    spk = shared_dir / f"corpus/cmu_arctic/cmu_us_{speaker}_arctic"
    prompts = dict(
        re.findall(r'^\(\s*(\S+)\s+"(.*)"\s*\)\s*$', (spk / "etc/txt.done.data").read_text(), re.M)
    )
    return [read_audio(spk / "wav" / f"{n}.wav") for n in names], [prompts[n] for n in names]


@pytest.fixture(scope="module")
def tiny_en(shared_dir: Path) -> Path:
    return shared_dir / "models/whisper-tiny.en-ct2"


def test_faster_whisper_tiny_en_on_arctic(shared_dir: Path, tiny_en: Path) -> None:
    wavs, refs = _arctic(shared_dir, "slt", [f"arctic_a{i:04d}" for i in range(1, 9)])
    asr = make_transcriber({"backend": "faster-whisper", "model": str(tiny_en), "device": "cpu"})
    assert isinstance(asr, Transcriber)
    assert asr.model_id.startswith(f"faster-whisper:{tiny_en}@sha256:1a5afae0") and "T=0.0" in asr.model_id
    hyps = asr.transcribe(wavs)
    # measured: 5 of 72 words (6.9 %) wrong on these 8 clean utterances (int8, beam 5); all 32: 6.25 %
    assert corpus_wer_cer(refs, hyps)["wer"] < 0.15


def test_faster_whisper_batched_keeps_utterances_apart(shared_dir: Path, tiny_en: Path) -> None:
    names = ["arctic_a0003", "arctic_a0004", "arctic_a0005", "arctic_a0007", "arctic_a0008"]
    wavs, refs = _arctic(shared_dir, "bdl", names)
    asr = FasterWhisper(str(tiny_en), device="cpu", batch_size=2)
    wavs.insert(2, np.zeros(16_000, dtype=np.float32))  # one second of silence
    refs.insert(2, "")
    wavs.append(np.zeros(0, dtype=np.float32))  # a codec that produced nothing
    refs.append("")
    hyps = asr.transcribe(wavs)
    assert len(hyps) == len(wavs) and hyps[-1] == ""
    table = per_utterance(refs, hyps)
    spoken = table.drop(index=[2, len(wavs) - 1])
    assert (spoken["wer"] < 0.5).all(), table[["ref_norm", "hyp_norm"]]  # each text landed on its own audio
    assert (
        corpus_wer_cer(refs, hyps)["wer"] < 0.15
    )  # measured 0 of 44 words; the silence decodes to ". ." -> ""

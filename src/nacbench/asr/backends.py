"""Whisper transcribers behind one small protocol, with the paper's decoding settings fixed.

Every backend decodes with ``language="en"``, ``temperature=0.0`` (a single temperature: no fallback
to sampling, so transcripts are deterministic), ``condition_on_previous_text=False`` (a bad window
cannot derail the next one) and beam search of width ``beam_size`` (5 by default, the Whisper CLI's
and faster-whisper's default). ``model_id`` names the backend, the model, the checksum of its weights
and the decoding settings; it is written next to every WER.

* :class:`OpenAIWhisper` is the reference implementation (the paper used Whisper large-v3);
* :class:`FasterWhisper` runs the same weights converted to CTranslate2, several times faster, and can
  batch utterances on a GPU through ``BatchedInferencePipeline``.

Neither can download weights on a machine without internet; both then raise
:class:`~nacbench.codecs.base.WeightsUnavailableError` naming the model and where it was looked for.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import urllib.error
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nacbench.audio import SCORING_RATE
from nacbench.codecs.base import WeightsUnavailableError
from nacbench.codecs.revisions import HubPin, check_cached, commit_of, confirm, download_command, hub_pin
from nacbench.codecs.weights import hf_cache_dir, hub_offline

#: decoding options shared by every backend (README, "Faithful scoring")
LANGUAGE = "en"
TEMPERATURE = 0.0
CONDITION_ON_PREVIOUS_TEXT = False
#: Whisper's window; longer utterances go through the sequential (windowed) path
WHISPER_WINDOW_S = 30.0


@runtime_checkable
class Transcriber(Protocol):
    """Turns 16 kHz mono float waveforms into raw (un-normalised) transcripts, one per input."""

    model_id: str

    def transcribe(self, wavs16k: Sequence[np.ndarray]) -> list[str]: ...


def _as_float32(wav: np.ndarray) -> np.ndarray:
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise ValueError(f"transcribe expects mono 1-D waveforms at {SCORING_RATE} Hz, got shape {wav.shape}")
    return wav


@lru_cache(maxsize=8)
def file_sha256(path: str) -> str:
    """Hex sha256 of a weights file, streamed (large-v3 is 3 GB), cached per process."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class OpenAIWhisper:
    """openai-whisper (PyTorch). ``model`` is an official name ("large-v3") or a checkpoint path."""

    def __init__(
        self,
        model: str = "large-v3",
        device: str = "auto",
        download_root: str | os.PathLike[str] | None = None,
        beam_size: int | None = 5,
        allow_download: bool = True,
    ) -> None:
        import torch
        import whisper

        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        root = Path(download_root) if download_root else _whisper_cache()
        checkpoint = _official_checkpoint(whisper, model, root)
        if checkpoint is not None and not checkpoint.is_file() and not allow_download:
            raise WeightsUnavailableError(
                f"openai-whisper model {model!r}: {checkpoint.name} not found in download_root {root} "
                "and downloading is off; copy the checkpoint there"
            )
        try:
            self._model = whisper.load_model(model, device=self.device, download_root=str(root))
        except (urllib.error.URLError, OSError) as exc:  # URLError is an OSError; so is a refused write
            raise WeightsUnavailableError(
                f"openai-whisper model {model!r}: not in download_root {root} and the download failed ({exc}); "
                f"copy the checkpoint there or point download_root at it"
            ) from exc
        # official checkpoints were verified by load_model against the sha256 in their URL
        sha = whisper._MODELS[model].split("/")[-2] if checkpoint is not None else file_sha256(model)
        self.beam_size = beam_size
        self.model_id = (
            f"openai-whisper:{model}@sha256:{sha[:16]} "
            f"lang={LANGUAGE} T={TEMPERATURE} beam={beam_size} cond_prev={CONDITION_ON_PREVIOUS_TEXT}"
        )

    def transcribe(self, wavs16k: Sequence[np.ndarray]) -> list[str]:
        import whisper

        texts = []
        for wav in wavs16k:
            if len(wav) == 0:  # nothing to hear; whisper would still decode a window of padding
                texts.append("")
                continue
            result = whisper.transcribe(
                self._model,
                _as_float32(wav),
                language=LANGUAGE,
                task="transcribe",
                temperature=TEMPERATURE,
                condition_on_previous_text=CONDITION_ON_PREVIOUS_TEXT,
                fp16=self.device.startswith("cuda"),  # fp16 on CPU only warns and falls back to fp32
                beam_size=self.beam_size,
                verbose=None,
            )
            texts.append(str(result["text"]).strip())
        return texts


def _whisper_cache() -> Path:
    """openai-whisper's own default download root (~/.cache/whisper or $XDG_CACHE_HOME/whisper)."""
    return Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"


def _official_checkpoint(whisper: Any, model: str, root: Path) -> Path | None:
    """Where openai-whisper keeps an official model's checkpoint (None for a path to a checkpoint)."""
    url = whisper._MODELS.get(model)  # the name -> URL table has no public accessor
    if url is None:
        if not Path(model).is_file():
            raise WeightsUnavailableError(
                f"openai-whisper model {model!r} is neither an official name {whisper.available_models()} "
                "nor an existing checkpoint file"
            )
        return None
    return root / os.path.basename(url)


class FasterWhisper:
    """faster-whisper (CTranslate2). ``model`` is a converted-model directory or a hub name ("large-v3").

    A hub model is loaded at a pinned commit (``revision``, default the pinned or lock-file one:
    :mod:`nacbench.codecs.revisions`; a branch or tag only with ``revision_floating``), another commit
    in the cache is refused, and ``model_id`` records the commit.

    ``compute_type`` defaults to int8 on CPU and float16 on CUDA. With ``batch_size > 1`` utterances of
    up to 30 s are decoded ``batch_size`` at a time by ``BatchedInferencePipeline`` (worth it on a GPU);
    it decodes each utterance as one window, as the sequential path does for utterances under 30 s, but
    transcripts may differ in rare tokens because it decodes without timestamp tokens.
    """

    def __init__(
        self,
        model: str = "large-v3",
        device: str = "auto",
        compute_type: str | None = None,
        beam_size: int = 5,
        batch_size: int = 1,
        download_root: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        cpu_threads: int = 0,
        revision: str | None = None,
        revision_floating: bool = False,
    ) -> None:
        import ctranslate2
        from faster_whisper import BatchedInferencePipeline, WhisperModel
        from faster_whisper.utils import download_model

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self.beam_size = beam_size
        self.batch_size = batch_size
        model_dir = Path(model)
        pin: HubPin | None = None
        if not model_dir.is_dir():
            offline = local_files_only or hub_offline()
            cache = Path(download_root) if download_root else hf_cache_dir()
            pin = hub_pin(
                faster_whisper_repo(model),
                revision,
                floating=revision_floating,
                option=f"study_b.asr.revision (faster-whisper model {model!r})",
                offline=offline,
                cache=cache,
            )
            check_cached(pin, cache, offline)
            try:
                model_dir = Path(
                    download_model(
                        pin.repo_id,
                        local_files_only=offline,
                        cache_dir=str(cache),
                        revision=pin.revision,
                    )
                )
            except Exception as exc:  # hub errors come in many types (offline, not found, auth)
                raise WeightsUnavailableError(
                    f"faster-whisper model {model!r} ({pin.label}): not a local directory and not obtainable "
                    f"into {cache} ({type(exc).__name__}: {exc}); download it: "
                    f"`{download_command(pin.repo_id, pin.revision)}`"
                ) from exc
            confirm(pin, commit_of(model_dir / "model.bin"))
        elif revision is not None:
            raise ValueError(
                f"study_b.asr.revision: {model!r} is a local directory; a revision applies to a hub model"
            )
        self._model = WhisperModel(
            str(model_dir), device=device, compute_type=self.compute_type, cpu_threads=cpu_threads
        )
        self._batched = BatchedInferencePipeline(self._model) if batch_size > 1 else None
        hub = f"hub={pin.repo_id}@{commit_of(model_dir / 'model.bin') or pin.revision} " if pin else ""
        self.model_id = (
            f"faster-whisper:{model}@sha256:{file_sha256(str(model_dir / 'model.bin'))[:16]} {hub}"
            f"compute={self.compute_type} lang={LANGUAGE} T={TEMPERATURE} beam={beam_size} "
            f"cond_prev={CONDITION_ON_PREVIOUS_TEXT}"
        )

    def transcribe(self, wavs16k: Sequence[np.ndarray]) -> list[str]:
        wavs = [_as_float32(w) for w in wavs16k]
        # an empty waveform (a codec that produced nothing) transcribes to nothing, without a model call
        texts: list[str | None] = [None if len(w) else "" for w in wavs]
        if self._batched is not None:
            short = [i for i, w in enumerate(wavs) if 0 < len(w) <= WHISPER_WINDOW_S * SCORING_RATE]
            for i, text in zip(short, self._transcribe_batched([wavs[i] for i in short]), strict=True):
                texts[i] = text
        for i, wav in enumerate(wavs):
            if texts[i] is None:
                texts[i] = self._transcribe_one(wav)
        return [str(t) for t in texts]

    @property
    def _decoding(self) -> dict[str, Any]:
        """The faithful decoding settings, shared by the sequential and the batched paths."""
        return {
            "language": LANGUAGE,
            "task": "transcribe",
            "beam_size": self.beam_size,
            "temperature": TEMPERATURE,
            "condition_on_previous_text": CONDITION_ON_PREVIOUS_TEXT,
        }

    def _transcribe_one(self, wav: np.ndarray) -> str:
        segments, _ = self._model.transcribe(
            wav,
            **self._decoding,
            vad_filter=False,
        )
        return "".join(segment.text for segment in segments).strip()  # segments is a lazy generator

    def _transcribe_batched(self, wavs: list[np.ndarray]) -> list[str]:
        """Decode many short utterances in GPU batches.

        BatchedInferencePipeline batches the chunks of *one* recording, so the utterances are laid end
        to end with a second of silence between them and each is named as one chunk through
        ``clip_timestamps``; the silence keeps a rounded clip boundary from taking a neighbour's samples,
        and each segment is mapped back to its utterance by its start time.
        """
        if not wavs:
            return []
        assert self._batched is not None
        gap = SCORING_RATE  # one second
        starts = np.cumsum([0] + [len(w) + gap for w in wavs[:-1]])
        audio = np.concatenate([np.pad(w, (0, gap)) for w in wavs]).astype(np.float32)
        clips = [
            {"start": s / SCORING_RATE, "end": (s + len(w)) / SCORING_RATE}
            for s, w in zip(starts, wavs, strict=True)
        ]
        segments, _ = self._batched.transcribe(
            audio,
            **self._decoding,
            clip_timestamps=clips,
            batch_size=self.batch_size,
        )
        parts: list[list[str]] = [[] for _ in wavs]
        boundaries = (starts - gap / 2) / SCORING_RATE
        for segment in segments:
            parts[int(np.searchsorted(boundaries, segment.start, side="right")) - 1].append(segment.text)
        return ["".join(p).strip() for p in parts]


def faster_whisper_repo(model: str) -> str:
    """The hub repository of a faster-whisper model name ("large-v3" -> Systran/faster-whisper-large-v3)."""
    if "/" in model:
        return model
    from faster_whisper.utils import _MODELS

    if model not in _MODELS:
        raise ValueError(
            f"faster-whisper model {model!r}: not a directory, a hub id nor one of {sorted(_MODELS)}"
        )
    return str(_MODELS[model])


BACKENDS = {"openai-whisper": OpenAIWhisper, "faster-whisper": FasterWhisper}


def make_transcriber(cfg: dict[str, Any]) -> Transcriber:
    """Build a transcriber from config: ``{"backend": "faster-whisper", "model": ..., <backend options>}``.

    Unknown backends or options raise with the accepted names, before any model is loaded.
    """
    options = dict(cfg)
    backend = options.pop("backend", None)
    if backend not in BACKENDS:
        raise ValueError(f"asr backend {backend!r} unknown; choose one of {sorted(BACKENDS)}")
    cls = BACKENDS[backend]
    accepted = set(inspect.signature(cls).parameters)
    unknown = set(options) - accepted
    if unknown:
        raise ValueError(
            f"asr backend {backend!r}: unknown options {sorted(unknown)}; accepted {sorted(accepted)}"
        )
    return cls(**options)

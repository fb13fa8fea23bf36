"""Lyra v2 (Google's SoundStream-style RVQ speech codec) through its TFLite models.

Lyra v2 runs three TFLite models per 20 ms frame (16 kHz, 320 samples): ``soundstream_encoder``
(audio -> 64-dim feature), ``quantizer`` (``encode``: feature -> up to 46 residual VQ indices of 4 bits;
``decode``: indices -> feature, ``-1`` marking unused slots) and ``lyragan`` (feature -> 320 samples).
It is the one RVQ codec with pretrained weights that runs offline here, so it stands in for the paper's
RVQ codecs in tests and offline runs.

Traps this adapter exists to handle (tests/test_codec_lyra.py covers each):

* the encoder and decoder keep streaming state across calls and ``reset_all_variables()`` does not
  clear it, so every utterance gets freshly built interpreters (about 1 ms): otherwise the codes of
  an utterance depend on which utterances were processed before it;
* unused quantizer slots must be ``-1`` (a ``0`` would add codeword 0 of that stage);
* an index >= 16 makes TFLite raise, so codes are range-checked before decoding;
* a quantizer count over 46 is capped silently by the model, so it is refused here instead.

A decode-only build (``decode_only=True``) loads the quantizer and LyraGAN models, not the encoder: the
encoder file is hashed for ``info`` (its checksum is the weights id), never handed to the TFLite runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nacbench.codecs import register
from nacbench.codecs.base import CodecAdapter, CodecInfo, WeightsUnavailableError
from nacbench.codecs.weights import cached_file, default_cache_dir, require_local_files, sha256_file
from nacbench.startup import phase

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 320
FEATURE_DIM = 64
MAX_QUANTIZERS = 46
CODEBOOK_SIZE = 16
#: index value the quantizer's ``decode`` reads as "this stage was not transmitted"
UNUSED_SLOT = -1
#: ``lyra_config.binarypb`` identifier the Lyra 1.3.x code accepts (its kVersionMinor)
CONFIG_IDENTIFIER = 3

#: google/lyra tag v1.3.2; raw files under lyra/model_coeffs/ at this commit
LYRA_REVISION = "47698dadf0010abff6a848e02642f55f806d4842"
LYRA_BASE_URL = f"https://raw.githubusercontent.com/google/lyra/{LYRA_REVISION}/lyra/model_coeffs/"
#: filename -> sha256 of the files at LYRA_REVISION
LYRA_FILES: dict[str, str] = {
    "soundstream_encoder.tflite": "237da0b16226fb0a68d49551c81bebf614e42142af72764448359f68581e88f1",
    "quantizer.tflite": "841ee05989687d32d1f616a8ad1419fc7eda37599d3c05c7cf5a0d60ccf8ac5c",
    "lyragan.tflite": "50e7839cda4f30599a3a34cfaddcd9c98449b049eee884e1a74295780448ad06",
    "lyra_config.binarypb": "2d88972e9536ba54deed37db380728b3c58eab9bca1d173ae523098b0774cdf5",
}
CACHE_SUBDIR = "lyra-v2"
ENCODER_MODEL = "soundstream_encoder.tflite"
#: the TFLite models a decode-only build loads
DECODER_MODELS: tuple[str, ...] = ("quantizer.tflite", "lyragan.tflite")


def resolve_model_files(name: str, model_dir: str | Path | None) -> dict[str, Path]:
    """The four Lyra files: from ``model_dir`` when given, else from (or downloaded into) the cache."""
    if model_dir is not None:
        return require_local_files(model_dir, LYRA_FILES, option=f"codecs.{name}.model_dir")
    cache_dir = default_cache_dir() / CACHE_SUBDIR
    hint = (
        f"offline, set codecs.{name}.model_dir to a folder holding {', '.join(LYRA_FILES)} "
        f"(google/lyra lyra/model_coeffs/ at {LYRA_REVISION})"
    )
    return {
        filename: cached_file(LYRA_BASE_URL + filename, sha256, cache_dir, filename, hint=hint)
        for filename, sha256 in LYRA_FILES.items()
    }


def read_config_identifier(path: Path) -> int:
    """Field 1 (varint) of the ``LyraConfig`` proto2 message, without a protobuf dependency."""
    data = path.read_bytes()
    if not data or data[0] != 0x08:  # field 1, wire type 0 (varint)
        raise WeightsUnavailableError(f"{path}: not a LyraConfig message with an identifier field")
    value, shift = 0, 0
    for byte in data[1:]:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value
    raise WeightsUnavailableError(f"{path}: truncated identifier varint")


def frame_audio(wav: np.ndarray) -> np.ndarray:
    """``[frames, 320]`` float32 in [-1, 1], the last partial frame zero-padded."""
    wav = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
    n_frames = -(-len(wav) // FRAME_SAMPLES)
    framed = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.float32)
    framed[: len(wav)] = wav
    return framed.reshape(n_frames, FRAME_SAMPLES)


def decoder_indices(codes: np.ndarray) -> np.ndarray:
    """``[frames, 46, 1, 1]`` int32 quantizer input: the codes, then ``-1`` in every unused slot."""
    n_quantizers, n_frames = codes.shape
    indices = np.full((n_frames, MAX_QUANTIZERS, 1, 1), UNUSED_SLOT, dtype=np.int32)
    indices[:, :n_quantizers, 0, 0] = codes.T
    return indices


class _LyraModels:
    """The TFLite model bytes, from which fresh interpreters are built per utterance; ``models``: which
    of the ``.tflite`` files (all three, or :data:`DECODER_MODELS` for a decode-only build)."""

    def __init__(self, files: dict[str, Path], models: Sequence[str]) -> None:
        with phase("imports"):
            from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter
        with phase("weights"):
            self._blobs = {name: files[name].read_bytes() for name in models}

    def runner(self, model: str, signature: str) -> Any:
        interpreter = self._interpreter(model_content=self._blobs[model])
        return interpreter.get_signature_runner(signature)

    def quantizer_runners(self) -> tuple[Any, Any]:
        """``encode`` and ``decode`` runners sharing one interpreter (the quantizer is stateless)."""
        interpreter = self._interpreter(model_content=self._blobs["quantizer.tflite"])
        return interpreter.get_signature_runner("encode"), interpreter.get_signature_runner("decode")


class LyraAdapter(CodecAdapter):
    """Lyra v2 at ``num_quantizers`` x 4 bits per 20 ms frame (30 -> 6 kbps, 46 -> 9.2 kbps)."""

    def __init__(self, info: CodecInfo, models: _LyraModels, decode_only: bool = False) -> None:
        self.info = info
        self._models = models
        self._num_quantizers = info.n_codebooks
        self.decode_only = decode_only

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.require_encoder("encode")
        return [self._encode_one(wav) for wav in wavs]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._decode_one(np.asarray(c)) for c in codes]

    def _encode_one(self, wav: np.ndarray) -> np.ndarray:
        frames = frame_audio(wav)
        encoder = self._models.runner(ENCODER_MODEL, "serving_default")
        quantize, _ = self._models.quantizer_runners()
        count = np.int32(self._num_quantizers)
        codes = np.empty((self._num_quantizers, len(frames)), dtype=np.int64)
        for t, frame in enumerate(frames):
            feature = encoder(input_audio=frame[None, :])["output_0"]
            codes[:, t] = quantize(input_frames=feature, num_quantizers=count)["output_0"][
                : self._num_quantizers, 0, 0
            ]
        self.check_codes(codes)
        return codes

    def _decode_one(self, codes: np.ndarray) -> np.ndarray:
        self.check_codes(codes)
        _, dequantize = self._models.quantizer_runners()
        generator = self._models.runner("lyragan.tflite", "serving_default")
        out = np.empty((codes.shape[1], FRAME_SAMPLES), dtype=np.float32)
        for t, indices in enumerate(decoder_indices(codes)):
            feature = dequantize(encoding_indices=indices)["output_0"]
            out[t] = generator(input_audio=feature)["output_0"][0]
        # Lyra's own decoder hands out int16, i.e. clips to full scale: do the same.
        return np.clip(out.reshape(-1), -1.0, 1.0)

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The SoundStream encoder's 64-d feature per 20 ms frame, ``[64, frames]``: what Lyra's RVQ
        quantizes (frames as :meth:`encode` gives codes)."""
        self.require_encoder("encode_latent")
        encoder = self._models.runner(ENCODER_MODEL, "serving_default")
        out = []
        for wav in wavs:
            frames = frame_audio(wav)
            latent = np.empty((FEATURE_DIM, len(frames)), dtype=np.float32)
            for t, frame in enumerate(frames):
                latent[:, t] = encoder(input_audio=frame[None, :])["output_0"].reshape(FEATURE_DIM)
            out.append(latent)
        return out

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """LyraGAN on ``[64, frames]`` features (any 64-d vectors: the RVQ's sums or another quantizer's
        reconstruction), clipped to full scale as :meth:`decode` is."""
        generator = self._models.runner("lyragan.tflite", "serving_default")
        out = []
        for i, latent in enumerate(latents):
            latent = self.latent_array(latent, FEATURE_DIM, i)
            audio = [generator(input_audio=v.reshape(1, 1, FEATURE_DIM))["output_0"][0] for v in latent.T]
            wav = np.concatenate(audio) if audio else np.zeros(0, np.float32)
            out.append(np.clip(wav, -1.0, 1.0).astype(np.float32))
        return out

    def codeword_vectors(self) -> list[np.ndarray]:
        """Per stage k, ``[16, 64]``: the quantizer's decoded feature when only slot k holds index i.

        The RVQ ``decode`` sums one codeword per used stage, so these are exactly the vectors the
        LyraGAN decoder consumes (checked additive on these weights).
        """
        _, dequantize = self._models.quantizer_runners()
        vectors = []
        for k in range(self._num_quantizers):
            indices = np.full((CODEBOOK_SIZE, MAX_QUANTIZERS, 1, 1), UNUSED_SLOT, dtype=np.int32)
            indices[:, k, 0, 0] = np.arange(CODEBOOK_SIZE)
            rows = [dequantize(encoding_indices=one)["output_0"].reshape(FEATURE_DIM) for one in indices]
            vectors.append(np.stack(rows).astype(np.float32))
        return vectors


def _lyra_info(name: str, num_quantizers: int, files: dict[str, Path]) -> CodecInfo:
    with phase("weights"):
        shas = {filename: sha256_file(path) for filename, path in files.items()}
    bitrate = num_quantizers * 4 * SAMPLE_RATE // FRAME_SAMPLES
    return CodecInfo(
        name=name,
        display_name=f"Lyra v2 ({bitrate / 1000:g} kbps)",
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        frame_rate=SAMPLE_RATE / FRAME_SAMPLES,
        codebook_sizes=(CODEBOOK_SIZE,) * num_quantizers,
        quantizer="rvq",
        delay_samples=0,
        weights_id=f"lyra-v2 {ENCODER_MODEL} sha256:{shas[ENCODER_MODEL][:16]}",
        random_weights=False,
        extra={
            "num_quantizers": num_quantizers,
            "max_quantizers": MAX_QUANTIZERS,
            "lyra_release": f"google/lyra@{LYRA_REVISION}",
            "matches_pinned_release": shas == LYRA_FILES,
            "file_sha256": shas,
        },
    )


@register("lyra")
def build_lyra(
    name: str,
    device: str = "cpu",
    model_dir: str | Path | None = None,
    num_quantizers: int = 30,
    decode_only: bool = False,
    **unknown: Any,
) -> LyraAdapter:
    """Build Lyra v2; ``device`` is accepted for a uniform factory signature (TFLite runs on CPU).
    ``decode_only``: the quantizer and LyraGAN models only (see the module doc)."""
    if unknown:
        raise ValueError(
            f"codecs.{name}: unknown option(s) {sorted(unknown)} for adapter 'lyra'; "
            "known: model_dir, num_quantizers"
        )
    if isinstance(num_quantizers, bool) or not isinstance(num_quantizers, int):
        raise ValueError(f"codecs.{name}.num_quantizers: expected an integer, got {num_quantizers!r}")
    if not 1 <= num_quantizers <= MAX_QUANTIZERS:
        # The model would cap a larger count silently; refuse it so the declared bitrate is the real one.
        raise ValueError(f"codecs.{name}.num_quantizers: {num_quantizers} outside 1..{MAX_QUANTIZERS}")
    files = resolve_model_files(name, model_dir)
    identifier = read_config_identifier(files["lyra_config.binarypb"])
    if identifier != CONFIG_IDENTIFIER:
        raise WeightsUnavailableError(
            f"{files['lyra_config.binarypb']}: Lyra config identifier {identifier}, this adapter drives "
            f"release 1.{CONFIG_IDENTIFIER}.x models (identifier {CONFIG_IDENTIFIER})"
        )
    models = DECODER_MODELS if decode_only else (ENCODER_MODEL, *DECODER_MODELS)
    return LyraAdapter(_lyra_info(name, num_quantizers, files), _LyraModels(files, models), bool(decode_only))

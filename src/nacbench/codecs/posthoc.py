"""The quantizer swap's codec: a base codec's encoder and decoder around a quantizer fitted post hoc.

``encode`` = the base codec's ``encode_latent``, then the fitted quantizer; ``decode`` = its inverse,
then the base codec's ``decode_latent``. Everything else (rates, frame rate, delay, weights) is the
base codec's, so a swapped codec differs from its base in the quantizer alone. The code layout comes
from the fitted quantizer file (post-hoc FSQ: one codebook of ``2**bits`` levels per used principal
component; post-hoc RVQ: one codebook of ``2**bits`` entries per stage), so the channel, the labellings
and the expected-distortion table treat it like any codec. Names and derivation: :mod:`nacbench.swap`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nacbench.codecs import build_codec, register
from nacbench.codecs.base import Capability, CodecAdapter, CodecInfo
from nacbench.codecs.weights import sha256_file
from nacbench.posthoc import PosthocFSQ, PosthocQuantizer, load_quantizer

#: how a swapped codec's quantizer is named in tables (its ``CodecInfo.quantizer`` is ``fsq`` or ``rvq``)
QUANTIZER_LABELS = {"fsq": "post-hoc FSQ", "rvq": "post-hoc RVQ"}


class PosthocAdapter(CodecAdapter):
    """A base codec with latent access, its quantizer replaced by a fitted one."""

    def __init__(
        self, info: CodecInfo, base: CodecAdapter, quantizer: PosthocQuantizer, decode_only: bool
    ) -> None:
        self.info = info
        self.base = base
        self.quantizer = quantizer
        self.decode_only = decode_only

    @property
    def device(self) -> str:
        return str(getattr(self.base, "device", "cpu"))

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.require_encoder("encode")
        return [self.quantizer.quantize(latent) for latent in self.base.encode_latent(wavs)]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.base.decode_latent([self.quantizer.dequantize(c) for c in codes])

    def input_gain_db(self, wav: np.ndarray) -> float:
        return self.base.input_gain_db(wav)

    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, what each index contributes to the latent the decoder consumes."""
        return self.quantizer.codeword_vectors()

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """The fitted quantizer's reconstruction (post-hoc FSQ adds the fit set's mean, which its
        codeword vectors leave out): what :meth:`decode` hands the base's decoder."""
        codes = np.asarray(codes, dtype=np.int64)
        self.check_codes(codes)
        return self.quantizer.dequantize(codes)

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.require_encoder("encode_latent")
        return self.base.encode_latent(wavs)

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.base.decode_latent(latents)


@register("posthoc")
def build_posthoc(
    name: str,
    base: str,
    base_options: Mapping[str, Any],
    quantizer: str,
    bits: int,
    quantizer_file: str,
    fit: Mapping[str, Any],
    device: str = "cpu",
    random_weights: bool = False,
    decode_only: bool = False,
) -> PosthocAdapter:
    """Build ``base`` (decode-only when asked) and load the fitted quantizer from ``quantizer_file``.

    Refuses a base without latent access, and a quantizer file fitted otherwise than ``fit`` (the
    settings :func:`nacbench.swap.fit_settings` derives from config) says, naming the codec and the file.
    """
    base_codec = build_codec(base, dict(base_options), device=device, decode_only=decode_only)
    needs = [Capability.DECODE_LATENT] + ([] if decode_only else [Capability.ENCODE_LATENT])
    for capability in needs:
        base_codec.require(capability, f"the quantizer swap ({name})")
    fitted = load_quantizer(quantizer_file)
    meta = fitted.meta
    differs = {k: (meta.get(k), v) for k, v in fit.items() if meta.get(k) != v}
    if meta.get("kind") != quantizer or int(fit["bits_per_frame"]) != int(bits) or differs:
        raise ValueError(
            f"codecs.{name}: {quantizer_file} was not fitted as this codec asks ({quantizer}, {bits} bits "
            f"per frame); differing settings (file, asked): {differs}. Delete it to refit."
        )
    b = base_codec.info
    if bool(random_weights) != b.random_weights:
        raise ValueError(
            f"codecs.{name}: random_weights={random_weights} but its base {base!r} has random_weights={b.random_weights}"
        )
    info = CodecInfo(
        name=name,
        # the base's display name states its own rate: name the base codec, then what this one sends
        display_name=f"{base} + {QUANTIZER_LABELS[quantizer]}, {bits} bits/frame ({bits * b.frame_rate / 1000:g} kbps)",
        input_sample_rate=b.input_sample_rate,
        output_sample_rate=b.output_sample_rate,
        frame_rate=b.frame_rate,
        codebook_sizes=fitted.codebook_sizes,
        quantizer="fsq" if isinstance(fitted, PosthocFSQ) else "rvq",
        delay_samples=b.delay_samples,
        weights_id=f"{b.weights_id}; quantizer sha256:{sha256_file(quantizer_file)}",
        random_weights=b.random_weights,
        parameters=dict(b.parameters),
        extra={
            "base_codec": base,
            "swap_quantizer": quantizer,
            "bits_per_frame": int(bits),
            "fit": {k: v for k, v in meta.items() if k not in {"kind", "bits_per_frame"}},
        },
    )
    return PosthocAdapter(info, base_codec, fitted, bool(decode_only))

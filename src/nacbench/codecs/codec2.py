"""Codec2 (David Rowe's parametric speech codec) through pycodec2, as a classical baseline.

Codec2 has no codebooks in the neural-codec sense: each frame is a bit-packed parameter record
(pitch, voicing, energy, LSPs). The adapter therefore exposes every real bit of a frame as its own
2-entry "codebook", codes ``[bits_per_frame, frames]`` of 0/1, so the channel stage flips exactly the
bits codec2 would transmit. Codec2 packs a frame MSB-first into ``bytes_per_frame`` bytes; where the
bit count is not a multiple of 8 (1300: 52 bits in 7 bytes) the trailing padding bits are not part of
the code and are written back as zero.

pycodec2's ``encode``/``decode`` process ONE frame per call (its buffers are sized for more but the C
call handles a single frame), so the adapter calls them frame by frame, with a fresh codec state per
utterance so the result does not depend on utterance order.

A fresh codec state is not enough for the decoder: libcodec2 draws the phases of unvoiced harmonics
and the post-filter's noise from ONE process-wide linear congruential generator (``codec2_rand``, state
``next`` in codec2.c, seeded 1 at load), so decoding the same bits twice in one process gives different
audio. The adapter resets that state to its load-time seed before each utterance (located through the
library's ELF symbol table and checked against the LCG's known first output); where that is not
possible it says so in ``info.extra["decoder_rng"]`` and warns.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from nacbench.codecs import register
from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.startup import phase

SAMPLE_RATE = 8_000

#: output delay in samples at 8 kHz, per mode. Codec2 analyses each 10 ms step with a window centred
#: M_PITCH/2 = 160 samples behind the newest input sample and overlap-adds the synthesis so that the
#: frame centre is the last output sample of the step: 160 samples. The delay that maximises STOI on the
#: LibriSpeech/Arctic utterances in ../shared lies at 152-160 (broad peak) for 3200 and 1300; envelope
#: cross-correlation lands 5-20 samples lower, because the synthesis spreads energy ahead of onsets.
#: 700C (pycodec2 mode 700) adds its rate-K interpolation: STOI peaks at 236-244, so 240.
DELAY_SAMPLES: dict[int, int] = {3200: 160, 2400: 160, 1600: 160, 1400: 160, 1300: 160, 1200: 160, 700: 240}


def _pycodec2() -> Any:
    with phase("imports"):
        import pycodec2

    return pycodec2


#: codec2_rand(): next = next * 1103515245 + 12345 (unsigned long); returns (next / 65536) % 32768
_LCG_MULTIPLIER, _LCG_INCREMENT, _LCG_SEED = 1103515245, 12345, 1

_ELF_SECTION = np.dtype(
    [("name", "<u4"), ("type", "<u4"), ("flags", "<u8"), ("addr", "<u8"), ("offset", "<u8"), ("size", "<u8"),
     ("link", "<u4"), ("info", "<u4"), ("addralign", "<u8"), ("entsize", "<u8")]
)  # fmt: skip
_ELF_SYMBOL = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]
)
_SHT_SYMTAB = 2


def elf_symbol_values(path: Path, names: set[str]) -> dict[str, int]:
    """``st_value`` of ``names`` in the full symbol table (.symtab, local symbols too) of a 64-bit LE ELF.

    The dynamic table would not do: ``next`` is a file-static variable, present only in .symtab.
    """
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shnum = int.from_bytes(data[0x3C:0x3E], "little")
    sections = np.frombuffer(data, dtype=_ELF_SECTION, count=shnum, offset=shoff)
    found: dict[str, int] = {}
    for symtab in sections[sections["type"] == _SHT_SYMTAB]:
        strtab = sections[symtab["link"]]
        strings = data[strtab["offset"] : strtab["offset"] + strtab["size"]]
        symbols = np.frombuffer(
            data, dtype=_ELF_SYMBOL, count=int(symtab["size"]) // 24, offset=int(symtab["offset"])
        )
        for symbol in symbols:
            start = int(symbol["name"])
            name = strings[start : strings.index(b"\0", start)].decode("ascii", "replace")
            if name in names:
                found[name] = int(symbol["value"])
    return found


def _loaded_libcodec2() -> Path:
    """Path of the libcodec2 that pycodec2 loaded (from this process's memory map)."""
    _pycodec2()
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1]
        if Path(path).name.startswith("libcodec2"):
            return Path(path)
    raise RuntimeError("libcodec2 is not mapped into this process")


class _Codec2Rng:
    """Handle on libcodec2's process-wide ``next``; ``reset()`` puts it back to the load-time seed."""

    def __init__(self) -> None:
        path = _loaded_libcodec2()
        offsets = elf_symbol_values(path, {"next", "codec2_rand"})
        if set(offsets) != {"next", "codec2_rand"}:
            raise RuntimeError(f"{path}: symbols 'next'/'codec2_rand' not in its symbol table (stripped?)")
        lib = ctypes.CDLL(str(path))  # the already-loaded copy: dlopen matches the same file
        address = ctypes.cast(lib.codec2_rand, ctypes.c_void_p).value
        if address is None:  # ctypes gives None for a NULL pointer; dlsym found the symbol, so it is not
            raise RuntimeError(f"{path}: codec2_rand resolved to a NULL address")
        base = address - offsets["codec2_rand"]
        self._state = ctypes.c_ulong.from_address(base + offsets["next"])
        self._rand = lib.codec2_rand
        self._rand.restype = ctypes.c_int
        self.reset()
        expected = ((_LCG_SEED * _LCG_MULTIPLIER + _LCG_INCREMENT) >> 16) % 32768
        if self._rand() != expected:
            raise RuntimeError(f"{path}: 'next' is not codec2_rand's state (first draw after reset differs)")
        self.reset()

    def reset(self) -> None:
        self._state.value = _LCG_SEED


def _decoder_rng() -> tuple[_Codec2Rng | None, str]:
    try:
        return _Codec2Rng(), "libcodec2 codec2_rand state reset to its seed (1) before each utterance"
    except (OSError, RuntimeError, ValueError) as exc:
        reason = f"not resettable ({exc}): decoded audio depends on what this process decoded before"
        warnings.warn(f"codec2: {reason}", RuntimeWarning, stacklevel=3)
        return None, reason


def to_pcm16(wav: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] -> int16, the format codec2 reads (clipped, not wrapped, at full scale)."""
    scaled = np.round(np.asarray(wav, dtype=np.float64).reshape(-1) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def unpack_frame_bits(packed: np.ndarray, bits_per_frame: int) -> np.ndarray:
    """``[frames, bytes_per_frame]`` uint8 -> ``[bits_per_frame, frames]`` int64 of 0/1 (MSB first)."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=1, bitorder="big")
    return bits[:, :bits_per_frame].T.astype(np.int64)


def pack_frame_bits(bits: np.ndarray, bytes_per_frame: int) -> np.ndarray:
    """``[bits_per_frame, frames]`` of 0/1 -> ``[frames, bytes_per_frame]`` uint8, padding bits zero."""
    n_bits, n_frames = bits.shape
    padded = np.zeros((n_frames, bytes_per_frame * 8), dtype=np.uint8)
    padded[:, :n_bits] = bits.T
    return np.packbits(padded, axis=1, bitorder="big")


class Codec2Adapter(CodecAdapter):
    """One Codec2 mode at 8 kHz; the pipeline resamples to and from 16 kHz with nacbench.audio.resample."""

    def __init__(
        self,
        info: CodecInfo,
        mode: int,
        samples_per_frame: int,
        bytes_per_frame: int,
        rng: _Codec2Rng | None,
        decode_only: bool = False,
    ) -> None:
        self.info = info
        self.mode = mode
        self.samples_per_frame = samples_per_frame
        self.bytes_per_frame = bytes_per_frame
        self._rng = rng
        self.decode_only = decode_only

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.require_encoder("encode")
        return [self._encode_one(wav) for wav in wavs]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._decode_one(np.asarray(c)) for c in codes]

    def _encode_one(self, wav: np.ndarray) -> np.ndarray:
        pcm = to_pcm16(wav)
        n_frames = -(-len(pcm) // self.samples_per_frame)
        frames = np.zeros((n_frames, self.samples_per_frame), dtype=np.int16)
        frames.reshape(-1)[: len(pcm)] = pcm
        codec = _pycodec2().Codec2(self.mode)
        packed = np.zeros((n_frames, self.bytes_per_frame), dtype=np.uint8)
        for t, frame in enumerate(frames):
            packed[t] = np.frombuffer(codec.encode(frame), dtype=np.uint8)
        return unpack_frame_bits(packed, self.info.n_codebooks)

    def _decode_one(self, codes: np.ndarray) -> np.ndarray:
        self.check_codes(codes)
        packed = pack_frame_bits(codes, self.bytes_per_frame)
        codec = _pycodec2().Codec2(self.mode)
        if self._rng is not None:
            self._rng.reset()
        out = np.empty((len(packed), self.samples_per_frame), dtype=np.int16)
        for t, frame in enumerate(packed):
            out[t] = codec.decode(frame.tobytes())
        return out.reshape(-1).astype(np.float32) / 32768.0


def _pycodec2_version() -> str:
    try:
        return version("pycodec2")
    except PackageNotFoundError:
        return "unknown"


@register("codec2")
def build_codec2(
    name: str, device: str = "cpu", mode: int = 3200, decode_only: bool = False, **unknown: Any
) -> Codec2Adapter:
    """Build Codec2 in ``mode`` (bit/s; 700 means 700C); ``device`` is accepted and ignored (CPU only).
    ``decode_only``: the same codec (its encoder costs nothing to set up), with ``encode`` refused, like
    every decode-only build's."""
    if unknown:
        raise ValueError(
            f"codecs.{name}: unknown option(s) {sorted(unknown)} for adapter 'codec2'; known: mode"
        )
    if isinstance(mode, bool) or mode not in DELAY_SAMPLES:
        raise ValueError(
            f"codecs.{name}.mode: {mode!r} is not a Codec2 mode; choose one of {sorted(DELAY_SAMPLES)}"
        )
    codec = _pycodec2().Codec2(mode)
    samples_per_frame = int(codec.samples_per_frame())
    bits_per_frame = int(codec.bits_per_frame())
    bytes_per_frame = int(codec.bytes_per_frame())
    rng, rng_note = _decoder_rng()
    info = CodecInfo(
        name=name,
        display_name=f"Codec2 {'700C' if mode == 700 else mode}",
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        frame_rate=SAMPLE_RATE / samples_per_frame,
        codebook_sizes=(2,) * bits_per_frame,
        quantizer="parametric",
        delay_samples=DELAY_SAMPLES[mode],
        weights_id=f"codec2 (pycodec2 {_pycodec2_version()}, no trained weights)",
        random_weights=False,
        extra={
            "mode": mode,
            "samples_per_frame": samples_per_frame,
            "bytes_per_frame": bytes_per_frame,
            "bit_order": "codec2 packing, MSB first, padding bits dropped",
            "decoder_rng": rng_note,
        },
    )
    return Codec2Adapter(info, mode, samples_per_frame, bytes_per_frame, rng, bool(decode_only))

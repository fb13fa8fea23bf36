"""Opus (RFC 6716, libopus) through the opuslib-next ctypes bindings: the codec a real-time voice link
would use, as a classical baseline that conceals its own lost packets.

**Codes.** The encoder runs at constant bitrate (``OPUS_SET_VBR(0)``, which libopus calls hard CBR: it
pads a frame that comes out short with the packet format's own padding, TOC code 3), 20 ms packets at
16 kHz, so every packet has exactly ``bitrate / 400`` bytes (checked on every packet). Each byte is one 256-entry "codebook": codes ``[bytes, frames]``.
The application is VOIP, so at speech rates the encoder runs SILK (linear prediction; the mode that
carries in-band FEC), choosing the audio bandwidth itself below the 16 kHz rate's wideband ceiling
(narrowband at 6 and 9.6 kbit/s, wideband from 12 kbit/s with libopus 1.3.1).

**Losses, not bit errors.** An Opus packet is range coded: one flipped bit desynchronises the decoder for
the rest of the packet, so a corrupted packet is a lost packet, and a real receiver drops it (UDP
checksum, SRTP authentication). The static layout says so (``bit_errors=False``) and config validation
keeps Opus off the bit-error channels. Losses are Opus's own business: :meth:`OpusAdapter.decode_lost`
runs the decoder's packet-loss concealment (``opus_decode`` with no packet), and with ``fec`` the
in-band FEC: when packet ``t`` is lost and packet ``t + 1`` arrived, frame ``t`` is decoded from the
low-rate copy (SILK's LBRR) that packet ``t + 1`` carries (``decode_fec=1``).

**FEC needs a bitrate.** libopus codes LBRR only when the rate left after CBR's and the expected loss's
costs clears a threshold (``decide_fec`` in opus_encoder.c: 12 kbit/s for narrowband and more for wider
bands, scaled by the expected loss); at 16 kHz with hard CBR, libopus 1.3.1 codes it from 19.2 kbit/s at
10 % expected loss (16.8 at 25 %, 24.8 at 1 %), never at 6-12 kbit/s. Below it ``fec=True`` would be the PLC under a "+FEC" label, so the factory checks on a probe
signal that FEC decoding differs from the PLC and refuses the build otherwise.

**Delay.** The encoder's lookahead (``OPUS_GET_LOOKAHEAD``: 104 samples at 16 kHz, 2.5 ms plus the VOIP
application's 4 ms delay compensation); the decoder adds none, so decoded audio lines up with the input
after removing it (tests/test_codec_opus.py cross-correlates).

**State.** Each utterance gets a fresh encoder and decoder (utterances are independent calls); libopus
keeps no process-wide state, so the same input gives the same bytes and the same audio. The distro's
float build picks SIMD kernels at run time, so bytes may differ between CPUs; ``weights_id`` records
the library version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from nacbench.codecs import OpusSettings, opus_settings, register
from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.startup import phase

SAMPLE_RATE = 16_000
#: samples per 20 ms packet at 16 kHz
FRAME_SAMPLES = 320
#: the options the factory takes (beyond ``name``, ``device`` and ``decode_only``)
OPTIONS = ("bitrate", "fec", "packet_loss_perc", "complexity")
#: how to get the system library the bindings load
INSTALL_HINT = (
    "install the system library libopus (Debian/Ubuntu: apt-get install libopus0; conda: conda install "
    "-c conda-forge libopus; macOS: brew install opus) and the bindings (pip install opuslib-next; "
    "tools/setup.sh does both)"
)


def _opuslib() -> Any:
    """The opuslib_next package; its import loads libopus and raises a bare Exception without it."""
    with phase("imports"):
        try:
            import opuslib_next
            import opuslib_next.api.decoder
            import opuslib_next.api.encoder
            import opuslib_next.api.info
        except Exception as exc:  # ModuleNotFoundError, or "Could not find Opus library"
            raise RuntimeError(f"Opus is not available ({exc}): {INSTALL_HINT}") from exc
    return opuslib_next


def libopus_version() -> str:
    """The loaded library's version string, e.g. ``"libopus 1.3.1"``."""
    raw = _opuslib().api.info.get_version_string()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def to_pcm16(wav: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] -> int16, what the encoder reads (clipped, not wrapped, at full scale)."""
    scaled = np.round(np.asarray(wav, dtype=np.float64).reshape(-1) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


@contextmanager
def _encoder(settings: OpusSettings) -> Iterator[Any]:
    """A fresh libopus encoder for ``settings``, destroyed on exit."""
    lib = _opuslib()
    api, ctl = lib.api.encoder, lib.api.ctl
    state = api.create_state(SAMPLE_RATE, 1, lib.APPLICATION_VOIP)
    try:
        api.encoder_ctl(state, ctl.set_bitrate, settings.bitrate)
        api.encoder_ctl(state, ctl.set_vbr, 0)  # hard CBR: every packet padded to the byte budget
        api.encoder_ctl(state, ctl.set_complexity, settings.complexity)
        api.encoder_ctl(state, ctl.set_inband_fec, int(settings.fec))
        api.encoder_ctl(state, ctl.set_packet_loss_perc, settings.packet_loss_perc)
        api.encoder_ctl(state, ctl.set_dtx, 0)  # no discontinuous transmission: a packet every 20 ms
        yield state
    finally:
        api.destroy(state)


@contextmanager
def _decoder() -> Iterator[Any]:
    """A fresh libopus decoder at 16 kHz mono, destroyed on exit."""
    api = _opuslib().api.decoder
    state = api.create_state(SAMPLE_RATE, 1)
    try:
        yield state
    finally:
        api.destroy(state)


def encoder_lookahead(settings: OpusSettings) -> int:
    """``OPUS_GET_LOOKAHEAD`` of an encoder with ``settings``: samples at 16 kHz."""
    lib = _opuslib()
    with _encoder(settings) as state:
        return int(lib.api.encoder.encoder_ctl(state, lib.api.ctl.get_lookahead))


def encode_packets(pcm: np.ndarray, settings: OpusSettings) -> list[bytes]:
    """int16 samples -> one packet per 20 ms (the tail zero-padded to a whole frame), fresh encoder.

    Raises RuntimeError if a packet is not exactly ``settings.bytes_per_packet`` bytes: hard CBR
    promises it, and the code layout (one codebook per byte) depends on it.
    """
    lib = _opuslib()
    n_frames = -(-len(pcm) // FRAME_SAMPLES)
    frames = np.zeros((n_frames, FRAME_SAMPLES), dtype=np.int16)
    frames.reshape(-1)[: len(pcm)] = pcm
    size = settings.bytes_per_packet
    packets: list[bytes] = []
    with _encoder(settings) as state:
        for t, frame in enumerate(frames):
            packet = bytes(lib.api.encoder.encode(state, frame.tobytes(), FRAME_SAMPLES, size))
            if len(packet) != size:
                raise RuntimeError(
                    f"libopus ({libopus_version()}) emitted {len(packet)} bytes for frame {t} at "
                    f"{settings.bitrate} bit/s with VBR off, not the {size} that hard CBR promises"
                )
            packets.append(packet)
    return packets


class _Decoding:
    """One utterance's decoder: each call decodes one 20 ms frame to float32."""

    def __init__(self, state: Any) -> None:
        self._api = _opuslib().api.decoder
        self._state = state

    def _run(self, packet: bytes | None, fec: bool, what: str) -> np.ndarray:
        length = 0 if packet is None else len(packet)
        try:
            raw = self._api.decode_float(self._state, packet, length, FRAME_SAMPLES, fec, 1)
        except _opuslib().OpusError as exc:
            raise ValueError(f"libopus refused {what}: {exc}") from exc
        out = np.frombuffer(raw, dtype=np.float32)
        if len(out) != FRAME_SAMPLES:
            raise ValueError(f"libopus decoded {len(out)} samples from {what}, expected {FRAME_SAMPLES}")
        return out

    def packet(self, packet: bytes, t: int) -> np.ndarray:
        return self._run(packet, False, f"packet {t}")

    def conceal(self, t: int) -> np.ndarray:
        """The decoder's PLC for lost frame ``t`` (no packet: libopus extrapolates from its state)."""
        return self._run(None, False, f"the concealment of frame {t}")

    def fec(self, next_packet: bytes, t: int) -> np.ndarray:
        """Lost frame ``t`` from the FEC copy in packet ``t + 1`` (the PLC when it carries none)."""
        return self._run(next_packet, True, f"the FEC of frame {t} in packet {t + 1}")


def _probe_signal() -> np.ndarray:
    """What :func:`spends_fec` encodes: 1 s of a voiced, pitch-gliding harmonic tone (SILK codes FEC
    for active speech only, so the probe must sound voiced to its VAD)."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    phase_ = 2 * np.pi * np.cumsum(120.0 + 30.0 * np.sin(2 * np.pi * 1.5 * t)) / SAMPLE_RATE
    harmonics = np.arange(1, 25)[:, None]
    wav = (np.sin(harmonics * phase_) / harmonics).sum(axis=0) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return to_pcm16(0.25 * wav / np.abs(wav).max())


def spends_fec(settings: OpusSettings) -> bool:
    """Whether libopus codes in-band FEC at ``settings``: on a voiced probe, does decoding a frame from
    the next packet's FEC differ from the PLC? (libopus falls back to the PLC when it finds no FEC.)"""
    packets = encode_packets(_probe_signal(), settings)
    for t in range(10, len(packets) - 1, 5):
        with _decoder() as fec_state, _decoder() as plc_state:
            fec, plc = _Decoding(fec_state), _Decoding(plc_state)
            for u in range(t):
                fec.packet(packets[u], u)
                plc.packet(packets[u], u)
            if not np.array_equal(fec.fec(packets[t + 1], t), plc.conceal(t)):
                return True
    return False


class OpusAdapter(CodecAdapter):
    """Opus at 16 kHz, hard CBR, 20 ms packets; decodes with its own PLC and (optionally) in-band FEC."""

    def __init__(self, info: CodecInfo, settings: OpusSettings, decode_only: bool = False) -> None:
        self.info = info
        self.settings = settings
        self.decode_only = decode_only

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.require_encoder("encode")
        return [self._encode_one(wav) for wav in wavs]

    def _encode_one(self, wav: np.ndarray) -> np.ndarray:
        packets = encode_packets(to_pcm16(wav), self.settings)
        packed = np.frombuffer(b"".join(packets), dtype=np.uint8)
        return packed.reshape(len(packets), self.settings.bytes_per_packet).T.astype(np.int64)

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._decode_one(np.asarray(c), None, i) for i, c in enumerate(codes)]

    def decode_lost(self, codes: Sequence[np.ndarray], lost: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Decode with lost packets concealed by libopus: the PLC, or with ``fec`` the FEC copy in the
        next packet where that one arrived. A lost frame's codes are never read."""
        if len(codes) != len(lost):
            raise ValueError(f"codec {self.info.name!r}: {len(codes)} code arrays but {len(lost)} loss masks")
        return [
            self._decode_one(np.asarray(c), np.asarray(m), i)
            for i, (c, m) in enumerate(zip(codes, lost, strict=True))
        ]

    def _decode_one(self, codes: np.ndarray, lost: np.ndarray | None, index: int) -> np.ndarray:
        if codes.ndim != 2:
            self.check_codes(codes)  # raises, naming the expected shape
        n_frames = codes.shape[1]
        if lost is None:
            lost = np.zeros(n_frames, dtype=bool)
        elif lost.dtype != np.bool_ or lost.shape != (n_frames,):
            raise ValueError(
                f"codec {self.info.name!r}: utterance {index}: the loss mask must be bool [{n_frames}] "
                f"(one flag per frame), got {lost.dtype} {lost.shape}"
            )
        self.check_codes(codes[:, ~lost])  # a lost frame's codes may hold anything
        packets = [None if gone else codes[:, t].astype(np.uint8).tobytes() for t, gone in enumerate(lost)]
        out = np.zeros((n_frames, FRAME_SAMPLES), dtype=np.float32)
        with _decoder() as state:
            decoding = _Decoding(state)
            try:
                for t, packet in enumerate(packets):
                    following = packets[t + 1] if t + 1 < n_frames else None
                    if packet is not None:
                        out[t] = decoding.packet(packet, t)
                    elif self.settings.fec and following is not None:
                        out[t] = decoding.fec(following, t)
                    else:
                        out[t] = decoding.conceal(t)
            except ValueError as exc:
                raise ValueError(f"codec {self.info.name!r}: utterance {index}: {exc}") from exc
        return out.reshape(-1)


def _bindings_version() -> str:
    try:
        return version("opuslib-next")
    except PackageNotFoundError:
        return "unknown"


@register("opus")
def build_opus(name: str, device: str = "cpu", decode_only: bool = False, **options: Any) -> OpusAdapter:
    """Build Opus with ``options`` (``bitrate`` required; ``fec``, ``packet_loss_perc``, ``complexity``:
    see :func:`nacbench.codecs.opus_settings`); ``device`` is accepted and ignored (CPU only).
    ``decode_only``: the same codec with ``encode`` refused, like every decode-only build's (its info
    still asks an encoder for the lookahead: libopus builds one in microseconds)."""
    del device
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(
            f"codecs.{name}: unknown option(s) {unknown} for adapter 'opus'; known: {', '.join(OPTIONS)}"
        )
    try:
        settings = opus_settings(options)
    except ValueError as exc:
        raise ValueError(f"codecs.{name}.{exc}") from exc
    if settings.fec and not spends_fec(settings):
        raise ValueError(
            f"codecs.{name}.fec: {libopus_version()} codes no in-band FEC at {settings.bitrate} bit/s with "
            f"packet_loss_perc {settings.packet_loss_perc}, so fec would be the PLC alone: libopus codes FEC "
            "only when the rate left after CBR's and the expected loss's costs clears 12 kbit/s "
            "(narrowband; more for wider bands); libopus 1.3.1 at 16 kHz needs 19200 bit/s at 10 % "
            "expected loss, 16800 at 25 %; raise bitrate or drop fec"
        )
    kbps = f"{settings.bitrate / 1000:g}"
    lib_version = libopus_version()
    info = CodecInfo(
        name=name,
        display_name=f"Opus {kbps} kbps" + (" +FEC" if settings.fec else ""),
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        frame_rate=SAMPLE_RATE / FRAME_SAMPLES,
        codebook_sizes=(256,) * settings.bytes_per_packet,
        quantizer="other",
        delay_samples=encoder_lookahead(settings),
        weights_id=lib_version,
        random_weights=False,
        extra={
            "bitrate": settings.bitrate,
            "fec": settings.fec,
            "packet_loss_perc": settings.packet_loss_perc,
            "complexity": settings.complexity,
            "libopus": lib_version,
            "opuslib_next": _bindings_version(),
            "application": "voip",
            "vbr": "off (hard CBR)",
            "bytes_per_packet": settings.bytes_per_packet,
            "samples_per_frame": FRAME_SAMPLES,
            "code_layout": "one 256-entry codebook per packet byte, in packet order",
        },
    )
    return OpusAdapter(info, settings, bool(decode_only))

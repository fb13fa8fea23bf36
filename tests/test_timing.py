"""encRTF timer: times the encoder alone, with warm-up, and records how it measured."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.timing import encoder_rtf

SLEEP_S = 0.02


class SleepyAdapter(CodecAdapter):
    """Encodes by sleeping a fixed time; decoding must never be called by the timer."""

    def __init__(self) -> None:
        self.info = CodecInfo(
            name="sleepy",
            display_name="Sleepy",
            input_sample_rate=16_000,
            output_sample_rate=16_000,
            frame_rate=50.0,
            codebook_sizes=(4,),
            quantizer="other",
        )
        self.device = torch.device("cpu")
        self.encode_calls = 0

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        import time

        self.encode_calls += 1
        time.sleep(SLEEP_S)
        return [np.zeros((1, len(w) // 320), dtype=np.int64) for w in wavs]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise AssertionError("encoder_rtf must not decode")


def test_encoder_rtf_times_encode_only_with_warmup() -> None:
    adapter = SleepyAdapter()
    wavs = [np.zeros(16_000, dtype=np.float32), np.zeros(8_000, dtype=np.float32)]
    result = encoder_rtf(adapter, wavs, repeats=3, warmup=2)
    assert adapter.encode_calls == 5  # 2 warm-up + 3 timed
    assert result["audio_s"] == pytest.approx(1.5)
    assert result["repeats"] == 3 and result["warmup"] == 2 and len(result["seconds"]) == 3
    assert result["median_s"] >= SLEEP_S
    assert result["enc_rtf"] == pytest.approx(result["median_s"] / 1.5)
    assert result["enc_rtf"] > 0
    assert result["device"] == "cpu"
    assert result["torch"] == torch.__version__


def test_encoder_rtf_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="no waveforms"):
        encoder_rtf(SleepyAdapter(), [])
    with pytest.raises(ValueError, match="repeats"):
        encoder_rtf(SleepyAdapter(), [np.zeros(10, dtype=np.float32)], repeats=0)


def test_time_repeats_warms_up_and_stops_at_its_budget() -> None:
    from nacbench.timing import time_repeats

    calls: list[int] = []

    def call() -> None:
        import time

        calls.append(1)
        time.sleep(SLEEP_S)

    seconds = time_repeats(call, torch.device("cpu"), repeats=4, warmup=1)
    assert len(calls) == 5 and len(seconds) == 4 and min(seconds) >= SLEEP_S
    calls.clear()
    seconds = time_repeats(call, torch.device("cpu"), repeats=50, warmup=0, budget_s=SLEEP_S)
    assert len(seconds) == 1 and len(calls) == 1  # at least one, then the budget is spent
    with pytest.raises(ValueError, match="repeats >= 1"):
        time_repeats(call, torch.device("cpu"), repeats=0)

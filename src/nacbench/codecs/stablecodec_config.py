"""A reconstruction of stable-codec-speech-16k's ``model_config.json``, for random-weight builds offline.

The real file lives only in the gated hub repository (``stabilityai/stable-codec-speech-16k``), so a
random-weight StableCodec could not be built without a hub account. This module rebuilds the
architecture from what is published; the adapter uses it only when ``random_weights`` is set and no
``model_config`` is given, and then marks every artifact (``CodecInfo.extra["config"]`` =
``"reconstructed"``, ``weights_id`` and the display name say so). Real weights always come with the
real file. Nothing built on it says anything about StableCodec's quality: it is the machinery's stand-in.

Provenance, field by field (the format is stable-audio-tools 0.0.17's ``create_model_from_config``):

* **16 kHz, mono** (``sample_rate``, ``io_channels``): the model's name and the paper (arXiv 2411.19842).
* **25 frames/s** (``downsampling_ratio`` 640): stable-codec's post-hoc presets are named
  ``1x46656_400bps``, ``2x15625_700bps``, ``4x729_1000bps``; their bits per frame (15.5, 27.9, 38.0)
  give those rates at 25 Hz (388, 697, 951 bps), not at 50 Hz; the paper we reproduce (arXiv
  2509.09550, Table 3) runs StableCodec at 16 kHz with one 2^16 codebook (16 bits x 25 Hz = 400 bps).
* **A 6-dimensional latent** (``latent_dim``): every post-hoc preset in stable-codec's ``model.py`` has
  6 levels per stage, and its ``ResidualFSQBottleneck`` quantizes the encoder output directly, so the
  encoder emits 6 channels; summaries of arXiv 2411.19842 state a "6-dimensional bottleneck".
* **The training bottleneck** (``dithered_fsq``, 6 x 17 levels): the documentation of a public wrapper
  that reads the released model's ``bottleneck.quantizer`` (anytrain's ``codec.stable_codec``) reports
  6 dimensions of 17 levels (17^6 = 24,137,569 codes). The adapter never uses
  it (the post-hoc FSQ replaces it) and it has no parameters.
* **Transformer encoder and decoder** (``taae``: the paper's Transformer Audio AutoEncoder): stable-audio-
  tools 0.0.17 added ``TAAEEncoder``/``TAAEDecoder``, ``PatchedPretransform`` and ``DitheredFSQ`` in one
  update (January 2025), alongside stable-codec 0.1.1. The block internals are fixed in that code and
  match the paper's description: strided convolutions between chains of transformer layers, pre-norm
  with a large epsilon, QK layer norm, gated SiLU feed-forward (x4), RoPE, LayerScale, heads of 128, and
  sliding-window attention (``sliding_window`` [63, 64] is the classes' default; without FlashAttention,
  as on a CPU, the package attends over the whole sequence and prints a warning).
* **Assumed, not published in what we could read**: the waveform is patched by 320 samples (50 Hz,
  ``PatchedPretransform``), one block runs at 50 Hz and a stride-2 block at 25 Hz (the paper's "blocks at
  different temporal resolutions"), width 1024 throughout and 14 transformer layers per block: chosen
  so that the total is 953 M parameters, the paper's "950 M" (arXiv 2509.09550 says "1B").

The layout the channel sees (one 2^16 post-hoc FSQ codebook at 25 Hz, 16 kHz in and out) does not
depend on the assumed part; the cost of a job (parameters, depth per rate) does, roughly.
"""

from __future__ import annotations

import json
from typing import Any

#: names this reconstruction in ``weights_id``; change it whenever the dict below changes
RECONSTRUCTED_CONFIG_ID = "nacbench-stable-codec-speech-16k-v1"

_TRANSFORMER_PART: dict[str, Any] = {
    "channels": 1024,
    "c_mults": [1, 1],
    "strides": [1, 2],
    "latent_dim": 6,
    "transformer_depths": [14, 14],
    "sliding_window": [63, 64],
}

_CONFIG: dict[str, Any] = {
    "model_type": "autoencoder",
    "sample_rate": 16_000,
    "audio_channels": 1,
    "model": {
        "pretransform": {"type": "patched", "config": {"channels": 1, "patch_size": 320}},
        "encoder": {"type": "taae", "config": {"in_channels": 320, **_TRANSFORMER_PART}},
        "decoder": {"type": "taae", "config": {"out_channels": 320, **_TRANSFORMER_PART}},
        "bottleneck": {"type": "dithered_fsq", "config": {"dim": 6, "levels": 17}},
        "latent_dim": 6,
        "downsampling_ratio": 640,
        "io_channels": 1,
    },
}


def reconstructed_model_config() -> dict[str, Any]:
    """A fresh copy of the reconstructed ``model_config.json`` contents (callers may modify it: through
    JSON, so that the encoder's and the decoder's lists are not shared)."""
    copied: dict[str, Any] = json.loads(json.dumps(_CONFIG))
    return copied

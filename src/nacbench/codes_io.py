"""Code artifacts on disk: one ``.npz`` per shard, readable without this package.

Layout (all arrays, so ``numpy.load`` alone opens it):
``utt_ids`` [N] str; ``frames`` [N] int64; ``codes`` [n_codebooks, sum(frames)] int64 (utterances
concatenated along time, in ``utt_ids`` order); ``random_weights`` scalar bool; plus any per-utterance
extras a stage adds (``bits_sent``, ``bits_flipped`` ...). Concatenating keeps the file compact and loads
a shard in one read, whatever its number of utterances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class CodeShard:
    utt_ids: list[str]
    codes: list[np.ndarray]
    random_weights: bool
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.utt_ids) != len(self.codes):
            raise ValueError(f"{len(self.utt_ids)} utterance ids for {len(self.codes)} code arrays")


def save_shard(path: str | Path, shard: CodeShard, n_codebooks: int) -> None:
    """Write atomically (temp file + rename) so an interrupted job never leaves a readable half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.array([c.shape[1] for c in shard.codes], dtype=np.int64)
    for utt, c in zip(shard.utt_ids, shard.codes, strict=True):
        if c.ndim != 2 or c.shape[0] != n_codebooks:
            raise ValueError(f"{path}: codes of {utt} have shape {c.shape}, expected [{n_codebooks}, frames]")
    flat = (
        np.concatenate(shard.codes, axis=1).astype(np.int64)
        if shard.codes
        else np.zeros((n_codebooks, 0), np.int64)
    )
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        utt_ids=np.array(shard.utt_ids, dtype=str),
        frames=frames,
        codes=flat,
        random_weights=np.array(shard.random_weights),
        **shard.extras,
    )
    tmp.replace(path)


def load_shard(path: str | Path) -> CodeShard:
    with np.load(path, allow_pickle=False) as data:
        utt_ids = [str(u) for u in data["utt_ids"]]
        frames = data["frames"]
        flat = data["codes"]
        bounds = np.concatenate([[0], np.cumsum(frames)])
        codes = [flat[:, bounds[i] : bounds[i + 1]] for i in range(len(utt_ids))]
        extras = {k: data[k] for k in data.files if k not in {"utt_ids", "frames", "codes", "random_weights"}}
        return CodeShard(utt_ids, codes, bool(data["random_weights"]), extras)

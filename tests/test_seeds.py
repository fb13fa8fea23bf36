"""Random streams: the channel's stream stays bit-identical, the named streams are apart, and no module
other than nacbench.seeds builds a generator."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nacbench import seeds, stages
from nacbench.artifacts import CodeShard, load_shard, save_shard
from nacbench.codecs.base import CodecInfo
from nacbench.labelling import make_labelling

SRC = Path(__file__).resolve().parents[1] / "src" / "nacbench"


def test_channel_stage_draws_the_pinned_errors(tmp_path: Path) -> None:
    """Received codes of two small shards, pinned from the channel stage as it was before nacbench.seeds
    existed (derive_rng(seed, codec, dataset, shard, model, P_flip, burst or 0) in stages.py): moving
    the derivation must not change a single published error pattern."""
    info, codes, out = tmp_path / "codec.json", tmp_path / "codes.npz", tmp_path / "out.npz"
    CodecInfo("toy", "toy", 16000, 16000, 50.0, (16, 5), "other").write(info)
    sizes = np.array([[16], [5]])
    clean = [(np.arange(24).reshape(2, 12) * 7) % sizes, (np.arange(10).reshape(2, 5) * 3) % sizes]
    save_shard(codes, CodeShard(["a", "b"], clean, False), 2)
    pinned = {
        "bsc-p0.1-seed0": (
            [
                [[1, 14, 14, 5, 12, 3, 10, 1, 12, 15, 6, 12], [4, 1, 1, 0, 3, 4, 0, 3, 0, 2, 0, 1]],
                [[0, 13, 6, 9, 12], [0, 3, 1, 4, 2]],
            ],
            [11, 3],
            [2, 0],
        ),
        "ge-p0.05-b4-seed3": (
            [
                [[0, 7, 14, 5, 12, 3, 10, 1, 8, 15, 6, 9], [4, 1, 3, 0, 2, 4, 1, 3, 0, 2, 4, 1]],
                [[0, 1, 6, 6, 12], [0, 3, 0, 2, 2]],
            ],
            [1, 8],
            [0, 1],
        ),
    }
    for channel, (received, flipped, out_of_range) in pinned.items():
        stages.transmit_shard(
            str(codes), str(info), channel, "toy", "ds", "001", str(out), out_of_range="wrap"
        )
        shard = load_shard(out)
        assert [c.tolist() for c in shard.codes] == received, channel
        assert shard.extras["bits_flipped"].tolist() == flipped
        assert shard.extras["out_of_range"].tolist() == out_of_range


def test_channel_rng_is_the_historical_derivation() -> None:
    # draws pinned from derive_rng(s, "lyra", "librispeech", "003", model, p, burst or 0.0) before the move
    bsc = seeds.channel_rng(0, "lyra", "librispeech", "003", "bsc", 0.01, None)
    ge = seeds.channel_rng(1, "lyra", "librispeech", "003", "ge", 0.01, 4.0)
    assert bsc.integers(0, 2**62, 3).tolist() == [
        3834292695401190931,
        3150322260324797238,
        1794404264441960964,
    ]
    assert ge.integers(0, 2**62, 3).tolist() == [3213965783967630282, 4006731391275478506, 528949417791942716]


def test_labelling_streams_are_unchanged() -> None:
    """The random labelling and the switching search's start, pinned before the move."""
    lab = make_labelling("random", [8, 16], seed=3, codec="dac")
    assert [f.tolist() for f in lab.forward] == [
        [0, 6, 1, 5, 3, 2, 7, 4],
        [6, 14, 1, 5, 0, 2, 15, 9, 12, 11, 4, 10, 13, 3, 7, 8],
    ]
    assert seeds.switching_rng(5).permutation(8).tolist() == [7, 3, 6, 2, 1, 5, 0, 4]


def test_named_streams_are_apart() -> None:
    draws = [
        seeds.channel_rng(0, "labelling", "random", "x", "bsc", 0.0, None),
        seeds.labelling_rng(0, "x", 0),
        seeds.switching_rng(0),
        seeds.arctic_rng(0, "bdl"),
        seeds.bootstrap_rng(0, ("bdl",)),
        seeds.fit_rng(0, "bdl"),
        seeds.arctic_rng(1, "bdl"),
        seeds.arctic_rng(0, "slt"),
    ]
    values = [int(rng.integers(0, 2**62)) for rng in draws]
    assert len(set(values)) == len(values)


def test_bootstrap_key_parts_are_named_by_value() -> None:
    def first(key: tuple) -> int:
        return int(seeds.bootstrap_rng(0, key).integers(0, 2**62))

    # a group key from pandas holds numpy scalars; the same values from Python name the same stream
    assert first(("stoi", "dac", np.float64(0.01))) == first(("stoi", "dac", 0.01))
    assert first(("stoi", "dac", 0.01)) != first(("stoi", "dac", "0.01"))
    assert first(("dac", True)) != first(("dac", 1))
    assert first(("dac", float("nan"))) == first(("dac", np.nan))  # GE-less burst_length
    assert first(("dac", "bsc")) != first(("bsc", "dac"))


def test_no_other_module_builds_a_generator() -> None:
    """Every numpy random stream is derived in nacbench.seeds; a Generator, SeedSequence, RandomState,
    bit generator, numpy's global state or the standard library's ``random`` anywhere else would be a
    stream outside the table. (Type annotations ``np.random.Generator`` are fine.)"""
    pattern = re.compile(
        r"default_rng|SeedSequence|RandomState|PCG64|MT19937|Philox|SFC64"
        r"|(?:np|numpy)\.random\.(?!Generator\b)\w+|random\.Generator\s*\("
        r"|^\s*import random\b|^\s*from random import"
    )
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "seeds.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []
    # the test sees what it should: seeds.py itself matches
    assert pattern.search((SRC / "seeds.py").read_text())


def test_seed_must_be_a_non_negative_integer() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        seeds.arctic_rng(-1, "bdl")
    with pytest.raises(TypeError, match="str or numbers"):
        seeds.fit_rng(0, None)  # type: ignore[arg-type]  # a wrong type on purpose: the call must raise


def test_random_weight_parts_have_their_own_pinned_seeds() -> None:
    """Random-weight codecs seed each part by name (torchutil.part_seed): a decode-only build then has the
    full build's decoder. The seeds are pinned: changing them changes every random-weight artifact."""
    import torch

    from nacbench.codecs.torchutil import part_seed, random_init_id, seeded_part

    assert part_seed(0, "decoder") == 8_647_710_068_799_704_784
    seeds_ = {part_seed(s, p) for s in (0, 1) for p in ("encoder", "decoder", "generator.quantizer")}
    assert len(seeds_) == 6 and all(0 <= v < 2**63 for v in seeds_)
    assert random_init_id(3) == "random-init(seed=3, per-part)"
    state = torch.random.get_rng_state()
    with seeded_part(0, "decoder"):
        first = torch.rand(3)
    with seeded_part(0, "encoder"), seeded_part(0, "decoder"):  # nesting: the inner part's seed rules
        again = torch.rand(3)
    assert torch.equal(first, again) and torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="integer"):
        part_seed(0.5, "decoder")  # type: ignore[arg-type]  # a wrong type on purpose

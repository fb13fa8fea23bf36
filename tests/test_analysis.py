"""Statistics of the report: bootstrap means, break-down P_flip, and Study B code agreement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nacbench.analysis import (
    agreement_to_json,
    align_frames,
    breakdown_pflip,
    code_agreement,
    crossing_points,
    mean_ci,
    mean_cosine,
)
from nacbench.analysis.breakdown import REASON_ALREADY_BELOW, REASON_NEVER
from nacbench.analysis.summary import POOLED_KEYS, pooled_condition_keys
from nacbench.fsq import levels_to_indices

P_GRID = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
LEVELS = (4,) * 8


def score_rows(codec, curve, clean=0.9, n_utt=10, seeds=(0, 1, 2), labellings=("natural",), offsets=None):
    """Tidy rows where utterance i scores ``offset_i + clean`` clean and ``offset_i + curve(p)`` at p.

    The default offsets are symmetric around 0, so the pooled means are exactly ``clean`` and ``curve``.
    """
    offsets = np.linspace(-0.05, 0.05, n_utt) if offsets is None else offsets
    rows = []
    for u, off in enumerate(offsets):
        base = {"codec": codec, "dataset": "libri", "utt_id": f"u{u}", "error": "", "random_weights": False}
        rows.append(
            {**base, "model": "clean", "p_flip": 0.0, "seed": -1, "labelling": "natural", "stoi": clean + off}
        )
        for lab in labellings:
            for p in P_GRID:
                for s in seeds:
                    rows.append(
                        {
                            **base,
                            "model": "bsc",
                            "p_flip": p,
                            "seed": s,
                            "labelling": lab,
                            "stoi": curve(p) + off,
                        }
                    )
    return pd.DataFrame(rows)


def log_linear(value_at: float, p_at: float, slope: float = 0.1):
    """A curve linear in log10 p passing through ``value_at`` at ``p_at``."""
    return lambda p: value_at - slope * (np.log10(p) - np.log10(p_at))


# ------------------------------------------------------------------------------------------ mean_ci


def test_mean_ci_pools_seeds_and_drops_nan():
    df = pd.DataFrame(
        {
            "codec": ["a"] * 5,
            "utt_id": ["u0", "u0", "u1", "u1", "u2"],
            "stoi": [0.5, 0.7, 0.9, np.nan, 0.3],
        }
    )
    out = mean_ci(df, ["codec"], "stoi", n_boot=500, seed=1).iloc[0]
    assert out["mean"] == pytest.approx((0.5 + 0.7 + 0.9 + 0.3) / 4)
    assert (out["n_utterances"], out["n_scores"], out["n_missing"]) == (3, 4, 1)
    assert out["ci_low"] <= out["mean"] <= out["ci_high"]
    assert out["ci_low"] >= 0.3 and out["ci_high"] <= 0.9


def test_mean_ci_resamples_whole_utterances():
    """Repeating every score over 5 seeds adds no information: a cluster bootstrap gives the same
    interval as one seed, whereas a row bootstrap would shrink it by about sqrt(5)."""
    rng = np.random.default_rng(3)
    values = rng.normal(0.8, 0.1, size=30)
    one = pd.DataFrame({"codec": "a", "utt_id": [f"u{i}" for i in range(30)], "stoi": values})
    five = pd.concat([one.assign(seed=s) for s in range(5)], ignore_index=True)
    a = mean_ci(one, ["codec"], "stoi", n_boot=400, seed=0).iloc[0]
    b = mean_ci(five, ["codec"], "stoi", n_boot=400, seed=0).iloc[0]
    assert b["mean"] == pytest.approx(a["mean"])
    assert b["ci_high"] - b["ci_low"] == pytest.approx(a["ci_high"] - a["ci_low"], rel=1e-9)
    assert a["ci_high"] - a["ci_low"] > 0.03  # ~ 2 * 1.96 * 0.1 / sqrt(30) = 0.072


def test_mean_ci_is_deterministic_and_independent_of_other_groups():
    df = score_rows("a", log_linear(0.8, 0.05))
    both = pd.concat([df, score_rows("b", log_linear(0.7, 0.01))], ignore_index=True)
    first = mean_ci(both, ["codec", "p_flip"], "stoi", n_boot=200, seed=5)
    again = mean_ci(both, ["codec", "p_flip"], "stoi", n_boot=200, seed=5)
    alone = mean_ci(df, ["codec", "p_flip"], "stoi", n_boot=200, seed=5)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first[first["codec"] == "a"].reset_index(drop=True), alone)
    other_seed = mean_ci(df, ["codec", "p_flip"], "stoi", n_boot=200, seed=6)
    assert not np.allclose(other_seed["ci_low"], alone["ci_low"])


def test_mean_ci_single_utterance_has_no_interval():
    df = pd.DataFrame({"codec": "a", "utt_id": "u0", "seed": [0, 1], "stoi": [0.5, 0.6]})
    out = mean_ci(df, ["codec"], "stoi").iloc[0]
    assert out["mean"] == pytest.approx(0.55)
    assert np.isnan(out["ci_low"]) and np.isnan(out["ci_high"])


def test_mean_ci_names_missing_columns():
    with pytest.raises(KeyError, match="pesq"):
        mean_ci(pd.DataFrame({"codec": ["a"], "utt_id": ["u"]}), ["codec"], "pesq")


# ---------------------------------------------------------------------------------------- breakdown


def test_crossing_points_vectorised():
    log_p = np.log10(np.array([0.01, 0.1, 1.0]))
    curves = np.array(
        [
            [0.85, 0.75, 0.65],  # crosses 0.8 halfway between 0.01 and 0.1 -> 10**-1.5
            [0.85, 0.80, 0.65],  # exactly at threshold at 0.1
            [0.89, 0.88, 0.87],  # never
            [0.70, 0.60, 0.50],  # already below
        ]
    )
    got = crossing_points(curves, np.full(4, 0.9), log_p, margin=0.1)
    assert got[0] == pytest.approx(10**-1.5)
    assert got[1] == pytest.approx(0.1)
    assert got[2] == np.inf
    assert got[3] == 0.0


@pytest.mark.parametrize("p_cross", [0.05, 0.03])
def test_breakdown_finds_known_crossing(p_cross):
    """Clean 0.9, STOI linear in log10 p through 0.8 at p_cross: on the grid (0.05) and between (0.03)."""
    df = score_rows("neucodec", log_linear(0.8, p_cross))
    out = breakdown_pflip(df, metric="stoi", margin=0.1, n_boot=300, seed=0)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["clean_mean"] == pytest.approx(0.9)
    assert row["threshold"] == pytest.approx(0.8)
    assert row["p_breakdown"] == pytest.approx(p_cross, rel=1e-6)
    assert row["reason"] == ""
    # offsets are shared by clean and perturbed scores, so resampling barely moves the crossing
    assert row["ci_low"] <= p_cross <= row["ci_high"]
    assert row["ci_high"] / row["ci_low"] < 1.5


def test_breakdown_interval_widens_with_utterance_noise():
    rng = np.random.default_rng(0)
    tidy = score_rows("c", log_linear(0.8, 0.03), n_utt=40)
    noise = tidy.groupby(["utt_id", "p_flip"])["stoi"].transform(lambda s: s + rng.normal(0, 0.05))
    noisy = tidy.assign(stoi=noise)
    quiet = breakdown_pflip(tidy, n_boot=300).iloc[0]
    loud = breakdown_pflip(noisy, n_boot=300).iloc[0]
    assert loud["ci_high"] - loud["ci_low"] > quiet["ci_high"] - quiet["ci_low"]
    again = breakdown_pflip(noisy, n_boot=300).iloc[0]
    assert (again["ci_low"], again["ci_high"]) == (loud["ci_low"], loud["ci_high"])


def test_breakdown_reasons_when_not_bracketed():
    never = score_rows("flat", lambda p: 0.88 + 0 * p)
    already = score_rows("bad", lambda p: 0.5 + 0 * p)
    out = breakdown_pflip(pd.concat([never, already]), n_boot=100).set_index("codec")
    assert np.isnan(out.loc["flat", "p_breakdown"]) and out.loc["flat", "reason"] == REASON_NEVER
    assert np.isnan(out.loc["bad", "p_breakdown"]) and out.loc["bad", "reason"] == REASON_ALREADY_BELOW


def test_breakdown_per_labelling_shares_clean_rows():
    """Clean rows are filed under 'natural' only, yet the 'gray' curve is compared with them too."""
    df = score_rows("c", log_linear(0.8, 0.02), labellings=("natural", "gray"))
    out = breakdown_pflip(df, n_boot=50).set_index("labelling")
    assert set(out.index) == {"natural", "gray"}
    assert out.loc["gray", "p_breakdown"] == pytest.approx(0.02)
    assert out.loc["gray", "clean_mean"] == pytest.approx(0.9)


def test_breakdown_lower_is_better_metric():
    df = score_rows("c", log_linear(0.8, 0.05)).rename(columns={"stoi": "mel_mse"})
    df["mel_mse"] = 1.0 - df["mel_mse"]  # clean 0.1, rising through 0.2 at p = 0.05
    row = breakdown_pflip(df, metric="mel_mse", margin=0.1, n_boot=50).iloc[0]
    assert row["threshold"] == pytest.approx(0.2)
    assert row["p_breakdown"] == pytest.approx(0.05)


# ------------------------------------------------------------------------------------------ codes


def codes_from_levels(level_rows) -> np.ndarray:
    """[frames, 8] level digits -> the encode stage's [1, frames] flat FSQ indices."""
    return levels_to_indices(np.asarray(level_rows), LEVELS)[None, :]


def test_align_frames_trims_the_tail():
    a = np.arange(50)[None, :]
    b = np.arange(51)[None, :] + 100
    a_t, b_t, info = align_frames(a, b)
    assert a_t.shape == b_t.shape == (1, 50)
    assert b_t[0, 0] == 100 and b_t[0, -1] == 149  # head kept, last frame dropped
    assert info == {"frames_a": 50, "frames_b": 51, "frames_kept": 50, "frames_dropped": 1}
    with pytest.raises(ValueError, match="differ by 3"):
        align_frames(np.zeros((1, 50)), np.zeros((1, 53)))


def test_identical_codes_agree_fully():
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 4, size=(200, 8))
    codes = codes_from_levels(levels)
    res = code_agreement([(codes, codes.copy())], LEVELS)
    assert res["exact_match_rate"] == 1.0
    np.testing.assert_array_equal(res["level_accuracy"], np.ones(8))
    assert res["mean_level_accuracy"] == 1.0 and res["within_one_rate"] == 1.0
    conf = res["confusion"]
    assert conf.shape == (8, 4, 4) and conf.sum() == 200 * 8
    assert np.all(conf[:, ~np.eye(4, dtype=bool)] == 0)  # diagonal only
    np.testing.assert_array_equal(conf[3].diagonal(), np.bincount(levels[:, 3], minlength=4))


def test_one_level_shift_in_one_dimension():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 3, size=(100, 8))  # levels 0..2, so +1 stays in range
    dist = ref.copy()
    dist[:, 2] += 1
    res = code_agreement([(codes_from_levels(ref), codes_from_levels(dist))], LEVELS)
    assert res["exact_match_rate"] == 0.0
    expected = np.ones(8)
    expected[2] = 0.0
    np.testing.assert_array_equal(res["level_accuracy"], expected)
    assert res["mean_level_accuracy"] == pytest.approx(7 / 8)
    assert res["within_one_rate"] == 1.0
    # dimension 2's confusion sits on the super-diagonal
    conf2 = res["confusion"][2]
    assert conf2.trace() == 0
    assert conf2.diagonal(offset=1).sum() == 100


def test_two_level_shift_and_pooling_over_utterances():
    ref1 = np.zeros((30, 8), dtype=int)
    dist1 = ref1.copy()
    dist1[:, 0] = 2  # two levels away in dimension 0
    ref2 = np.full((10, 8), 3)
    res = code_agreement(
        [
            (codes_from_levels(ref1), codes_from_levels(dist1)),
            (codes_from_levels(ref2), codes_from_levels(ref2)),
        ],
        LEVELS,
    )
    # pooled over 40 frames: 10 of them match exactly
    assert res["exact_match_rate"] == pytest.approx(10 / 40)
    assert res["level_accuracy"][0] == pytest.approx(10 / 40)
    assert res["within_one_per_dim"][0] == pytest.approx(10 / 40)
    assert res["within_one_rate"] == pytest.approx((40 * 8 - 30) / (40 * 8))
    assert res["confusion"][0, 0, 2] == 30 and res["confusion"][0, 3, 3] == 10
    assert (res["n_frames"], res["n_utterances"]) == (40, 2)


def test_code_agreement_aligns_50_vs_51_frames_and_serialises():
    ref = codes_from_levels(np.ones((50, 8), dtype=int))
    dist = codes_from_levels(np.ones((51, 8), dtype=int))
    res = code_agreement([(ref, dist)], LEVELS)
    assert res["frames_dropped"] == 1 and res["n_frames"] == 50
    text = json.dumps(agreement_to_json(res))
    assert json.loads(text)["confusion"][0][1][1] == 50


def test_code_agreement_rejects_out_of_range_codes():
    with pytest.raises(ValueError, match="outside"):
        code_agreement([(np.array([[70000]]), np.array([[0]]))], LEVELS)


def test_mean_cosine_known_values():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])  # cos 1, cos 0, zero frame left out
    assert mean_cosine(a, b) == pytest.approx(0.5)
    assert mean_cosine(a[:2], -a[:2]) == pytest.approx(-1.0)
    # pooled over utterances by frames, and tail-trimmed 3 vs 2 frames
    pooled = mean_cosine([a[:2], np.ones((1, 2))], [b[:2], np.ones((2, 2))])
    assert pooled == pytest.approx((1 + 0 + 1) / 3)


def test_pooled_condition_keys_drop_channel_parameters_that_name_nothing():
    """A table is pooled by what ran and the channel condition; an all-NaN burst length (no GE channel)
    separates nothing, and a column the table lacks is not asked for."""
    tidy = pd.DataFrame(
        {
            "codec": ["a"],
            "labelling": ["natural"],
            "model": ["bsc"],
            "p_flip": [0.01],
            "burst_length": [np.nan],
        }
    )
    assert pooled_condition_keys(tidy) == ["codec", "labelling", "model", "p_flip"]
    assert pooled_condition_keys(tidy.assign(dataset="ds", burst_length=8.0)) == [
        "codec",
        "dataset",
        "labelling",
        "model",
        "p_flip",
        "burst_length",
    ]
    # a packet-loss condition's rate and concealment separate conditions only where some row has them
    lossy = tidy.assign(dataset="ds", burst_length=8.0, fer=[0.1], concealment=["repeat"])
    assert pooled_condition_keys(lossy) == list(POOLED_KEYS)
    assert pooled_condition_keys(tidy.assign(fer=[np.nan], concealment=[None]))[-1] == "p_flip"

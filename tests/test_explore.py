"""Unit tests of nacbench.explore (the notebook's helpers) on small artifacts written in tmp_path with the
pipeline's own writers, so the layout under test is the one the stages produce."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nacbench import explore
from nacbench.artifacts import CodeShard, save_shard
from nacbench.audio import write_audio
from nacbench.channel import transmit
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.conditions import ChannelSpec
from nacbench.data.manifest import Utterance, write_manifest
from nacbench.seeds import derive_rng

SIZES = (16, 4, 2)  # widths 4, 2, 1: unequal widths catch a wrong bit layout
UTTS = ["u0", "u1", "u2"]
FRAMES = [7, 5, 9]
CHANNELS = ["clean", "bsc-p0.01-seed0", "bsc-p0.1-seed0", "bsc-p0.1-seed1", "bsc-p0.1-seed0-gray"]


def _clean_codes(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, np.array(SIZES)[:, None], size=(len(SIZES), n)) for n in FRAMES]


def _write_run(
    results: Path, codec: str = "toy", random_weights: bool = False
) -> dict[str, list[np.ndarray]]:
    """A run with one codec, one dataset, one shard: clean codes, a few channels, listening files."""
    info = CodecInfo(codec, codec, 16000, 16000, 50.0, SIZES, "other", random_weights=random_weights)
    (results / "codes" / codec).mkdir(parents=True)
    info.write(results / "codes" / codec / "codec.json")
    clean = _clean_codes()
    save_shard(
        results / "codes" / codec / "ds" / "000.npz", CodeShard(UTTS, clean, random_weights), len(SIZES)
    )
    received = {}
    for channel in CHANNELS:
        spec = ChannelSpec.parse(channel)
        labelling = None
        if spec.labelling != "natural":  # the test needs the files, not the labelling: fake a gray run
            spec = ChannelSpec(spec.model, spec.p_flip, spec.seed)
        result = transmit(clean, SIZES, spec, derive_rng(0, codec, channel), labelling)
        extras = {"bits_sent": result.bits_sent, "bits_flipped": result.bits_flipped}
        extras["out_of_range"] = result.out_of_range
        path = results / "channel" / codec / "ds" / channel / "000.npz"
        save_shard(path, CodeShard(UTTS, result.codes, random_weights, extras), len(SIZES))
        received[channel] = result.codes
        for utt in UTTS[:2]:  # the listening subset: the first two utterances
            write_audio(
                results / "listen" / codec / "ds" / channel / "000" / f"{utt}.flac", np.zeros(800), 16000
            )
    return {"clean": clean, **received}


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    results = tmp_path / "results"
    return results, _write_run(results)


def test_list_conditions_reads_every_artifact_and_orders_clean_first(run) -> None:
    results, _ = run
    (results / "channel" / "toy" / "ds" / "clean" / "001.npz.tmp.npz").write_bytes(b"half")
    conditions = explore.list_conditions(results)
    assert len(conditions) == len(CHANNELS)
    assert conditions["channel"].tolist() == [
        "clean",
        "bsc-p0.01-seed0",
        "bsc-p0.1-seed0",
        "bsc-p0.1-seed1",
        "bsc-p0.1-seed0-gray",
    ]
    gray = conditions.iloc[-1]
    assert (gray["model"], gray["p_flip"], gray["seed"], gray["labelling"]) == ("bsc", 0.1, 0, "gray")
    assert conditions["has_codes"].all()
    assert (conditions["n_listen"] == 2).all()
    assert not conditions["random_weights"].any()


def test_list_conditions_copes_with_partial_runs(tmp_path: Path) -> None:
    assert explore.list_conditions(tmp_path).empty
    (tmp_path / "listen" / "toy" / "ds" / "clean" / "000").mkdir(parents=True)
    (tmp_path / "listen" / "toy" / "ds" / "not-a-channel" / "000").mkdir(parents=True)
    with pytest.warns(UserWarning, match="not-a-channel"):
        conditions = explore.list_conditions(tmp_path)
    assert conditions["channel"].tolist() == ["clean"]
    assert not conditions["has_codes"].any()
    assert pd.isna(conditions["random_weights"].iloc[0])  # no codec.json yet: unknown, not False


def test_condition_overview_is_one_row_per_model_and_labelling(run) -> None:
    results, _ = run
    overview = explore.condition_overview(explore.list_conditions(results))
    assert overview[["model", "labelling"]].values.tolist() == [
        ["clean", "natural"],
        ["bsc", "natural"],
        ["bsc", "gray"],
    ]
    natural = overview.iloc[1]
    assert natural["p_flip"] == "0.01, 0.1"
    assert natural["seeds"] == "0, 1"
    assert natural["n_listen"] == 6


def test_pick_channel_takes_the_nearest_p_flip_on_a_log_scale(run) -> None:
    results, _ = run
    conditions = explore.list_conditions(results)
    assert explore.pick_channel(conditions, "toy", "ds", 0.05)["channel"] == "bsc-p0.1-seed0"
    assert explore.pick_channel(conditions, "toy", "ds", 0.02)["channel"] == "bsc-p0.01-seed0"
    assert explore.pick_channel(conditions, "toy", "ds", 0.1, model="ge") is None
    assert explore.pick_channel(conditions, "other", "ds", 0.1) is None


def test_load_pair_returns_that_utterance_from_both_stages(run) -> None:
    results, saved = run
    clean, received = explore.load_pair(results, "toy", "ds", "bsc-p0.1-seed0", "000", "u1")
    np.testing.assert_array_equal(clean, saved["clean"][1])
    np.testing.assert_array_equal(received, saved["bsc-p0.1-seed0"][1])
    with pytest.raises(KeyError, match="nope"):
        explore.load_pair(results, "toy", "ds", "clean", "000", "nope")
    with pytest.raises(FileNotFoundError, match="bsc-p0.5-seed0"):
        explore.load_pair(results, "toy", "ds", "bsc-p0.5-seed0", "000", "u1")


def test_bit_errors_places_each_flip_at_its_bit() -> None:
    clean = np.zeros((3, 4), dtype=np.int64)
    received = clean.copy()
    received[1, 2] = 0b10  # codebook 1 (2 bits, rows 4-5): its MSB at frame 2 -> row 4
    received[0, 0] = 0b0001  # codebook 0 (4 bits, rows 0-3): its LSB at frame 0 -> row 3
    received[2, 3] = 1  # codebook 2 (1 bit, row 6) at frame 3
    errors = explore.bit_errors(clean, received, (4, 2, 1))
    assert errors.shape == (7, 4)
    assert sorted(zip(*np.nonzero(errors), strict=True)) == [(3, 0), (4, 2), (6, 3)]
    with pytest.raises(ValueError, match="shape"):
        explore.bit_errors(clean, received[:, :3], (4, 2, 1))


def test_bit_errors_recovers_the_channel_flip_count(run) -> None:
    results, _ = run
    counts = explore.flip_counts(results)
    for utt_index, utt in enumerate(UTTS):
        clean, received = explore.load_pair(results, "toy", "ds", "bsc-p0.1-seed1", "000", utt)
        path = results / "channel" / "toy" / "ds" / "bsc-p0.1-seed1" / "000.npz"
        with np.load(path) as data:
            expected = int(data["bits_flipped"][utt_index])
        assert int(explore.bit_errors(clean, received, (4, 2, 1)).sum()) == expected
    assert counts.loc[counts["channel"] == "clean", "bits_flipped"].item() == 0


def test_flip_counts_and_pooled_rates(run) -> None:
    results, _ = run
    counts = explore.flip_counts(results)
    bits_per_frame = 7
    assert (counts["bits_sent"] == sum(FRAMES) * bits_per_frame).all()
    assert (counts["n_utterances"] == 3).all()
    pooled = explore.pooled_flip_rates(counts)
    natural = pooled[(pooled["labelling"] == "natural") & (pooled["p_flip"] == 0.1)].iloc[0]
    both_seeds = counts[(counts["p_flip"] == 0.1) & (counts["labelling"] == "natural")]
    assert natural["bits_sent"] == both_seeds["bits_sent"].sum()
    assert natural["measured"] == pytest.approx(
        both_seeds["bits_flipped"].sum() / both_seeds["bits_sent"].sum()
    )
    se = np.sqrt(0.1 * 0.9 / natural["bits_sent"])
    assert natural["z"] == pytest.approx((natural["measured"] - 0.1) / se)
    assert np.isnan(pooled.loc[pooled["model"] == "clean", "z"]).all()


def test_listening_table_keeps_one_seed_per_p_flip(run) -> None:
    results, _ = run
    conditions = explore.list_conditions(results)
    table = explore.listening_table(results, conditions, "toy", "ds", "u0")
    assert table["channel"].tolist() == ["clean", "bsc-p0.01-seed0", "bsc-p0.1-seed0"]
    assert all(p.is_file() for p in table["path"])
    everything = explore.listening_table(results, conditions, "toy", "ds", "u0", first_seed_only=False)
    assert len(everything) == 4
    assert explore.listening_table(results, conditions, "toy", "ds", "u2").empty  # not in the subset
    wav, rate = explore.read_for_listening(table["path"].iloc[0])
    assert (wav.shape, rate) == ((800,), 16000)


def test_original_audio_path_resolves_manifest_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative manifest path is relative to where the workflow ran (the working directory), not to
    the results folder's parent: offline results live two levels down, in ``results/offline``."""
    results = tmp_path / "results" / "offline"
    utts = [
        Utterance("a", "s", "/abs/a.flac", 1.0, 16000, "A"),
        Utterance("b", "s", "corpus/b.flac", 1.0, 16000, "B"),
    ]
    write_manifest(utts, results / "data" / "ds" / "manifest.tsv")
    assert explore.original_audio_path(results, "ds", "a") == Path("/abs/a.flac")
    monkeypatch.chdir(tmp_path)
    assert explore.original_audio_path(results, "ds", "b") == tmp_path.resolve() / "corpus" / "b.flac"
    elsewhere = tmp_path / "repo"
    assert (
        explore.original_audio_path(results, "ds", "b", workdir=elsewhere) == elsewhere / "corpus" / "b.flac"
    )
    with pytest.raises(KeyError, match="manifest.tsv"):
        explore.original_audio_path(results, "ds", "c")


def _tidy(random_codec: str | None) -> pd.DataFrame:
    """A small tidy score table: two codecs, clean + BSC at two P_flips, two seeds, four utterances."""
    rng = np.random.default_rng(1)
    rows = []
    for codec in ("alpha", "beta"):
        for model, p, seeds in (("clean", 0.0, [-1]), ("bsc", 0.01, [0, 1]), ("bsc", 0.1, [0, 1])):
            for seed in seeds:
                for utt in range(4):
                    stoi = float(np.clip(0.9 - 3 * p + 0.02 * rng.standard_normal(), 0, 1))
                    rows.append(
                        {
                            "codec": codec,
                            "dataset": "ds",
                            "channel": "x",
                            "model": model,
                            "p_flip": p,
                            "seed": seed,
                            "labelling": "natural",
                            "utt_id": f"u{utt}",
                            "stoi": np.nan if (codec == "beta" and utt == 0) else stoi,
                            "error": "stoi: too short" if (codec == "beta" and utt == 0) else "",
                            "random_weights": codec == random_codec,
                        }
                    )
    return pd.DataFrame(rows)


def _texts(fig) -> list[str]:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found.append(ax.get_title())
        found.extend(t.get_text() for t in ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            found.extend(t.get_text() for t in legend.get_texts())
    return found


def _stamped(ax) -> bool:
    return any(RANDOM_WEIGHTS_LABEL in t.get_text() for t in ax.texts)


@pytest.mark.parametrize(
    "draw", [explore.figure_metric_curve, explore.figure_utterance_scatter], ids=["curve", "scatter"]
)
def test_score_figures_label_random_weight_codecs(draw) -> None:
    marked = _texts(draw(_tidy("beta")))
    assert any("beta (random weights)" in t for t in marked)
    assert not any("alpha (random" in t for t in marked)
    assert RANDOM_WEIGHTS_LABEL not in _texts(draw(_tidy(None)))
    all_random = _tidy("beta").assign(random_weights=True)
    assert RANDOM_WEIGHTS_LABEL in _texts(draw(all_random))


def test_random_weights_mark_only_their_own_lines_and_panels() -> None:
    """alpha is real, beta random: beta's line is dotted, and no panel showing alpha is stamped."""
    curve = explore.figure_metric_curve(_tidy("beta"))
    styles = {line.get_label(): line.get_linestyle() for line in curve.axes[0].get_lines()}
    assert styles["beta (random weights)"] == ":" and styles["alpha"] == "-"
    assert not _stamped(curve.axes[0]) and RANDOM_WEIGHTS_LABEL not in [t.get_text() for t in curve.texts]
    scatter = explore.figure_utterance_scatter(_tidy("beta"))
    panels = {ax.get_title(): ax for ax in scatter.axes if ax.get_title()}
    assert _stamped(panels["beta (random weights)"]) and not _stamped(panels["alpha"])


def test_metric_curve_draws_one_line_per_codec_at_each_p_flip() -> None:
    fig = explore.figure_metric_curve(_tidy(None))
    lines = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [0.01, 0.1])
    assert lines[0].get_ydata()[0] > lines[0].get_ydata()[1]  # the toy scores fall with P_flip


def test_metric_curve_keeps_a_panel_for_a_metric_with_no_finite_value() -> None:
    """A metric that failed everywhere gets Fig. 3's empty-panel note, not a log-scaling error."""
    tidy = _tidy(None).assign(stoi=np.nan, error="stoi: too short")
    fig = explore.figure_metric_curve(tidy)
    fig.savefig(io.BytesIO(), format="png")  # rendering is where an empty log axis used to fail
    notes = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "no finite values of stoi" in notes and "too short" in notes


def test_code_and_flip_figures_label_random_weights(run) -> None:
    results, _ = run
    clean, received = explore.load_pair(results, "toy", "ds", "bsc-p0.1-seed0", "000", "u0")
    errors = explore.bit_errors(clean, received, (4, 2, 1))
    for random_weights in (False, True):
        figures = [
            explore.figure_codes(clean, received, "toy", random_weights=random_weights),
            explore.figure_bit_errors(errors, (4, 2, 1), "toy", random_weights=random_weights),
        ]
        for fig in figures:
            assert (RANDOM_WEIGHTS_LABEL in _texts(fig)) is random_weights
    pooled = explore.pooled_flip_rates(explore.flip_counts(results))
    assert RANDOM_WEIGHTS_LABEL in _texts(explore.figure_flip_rates(pooled, random={"toy"}))
    mixed = pd.concat([pooled, pooled.assign(codec="real")])  # a real codec beside the random one
    assert RANDOM_WEIGHTS_LABEL not in _texts(explore.figure_flip_rates(mixed, random={"toy"}))
    assert RANDOM_WEIGHTS_LABEL not in _texts(explore.figure_flip_rates(pooled))


def test_random_flag_comes_from_codec_json(tmp_path: Path) -> None:
    _write_run(tmp_path, codec="rnd", random_weights=True)
    assert explore.list_conditions(tmp_path)["random_weights"].all()
    assert explore.codec_info(tmp_path, "rnd").random_weights
    assert explore.codec_info(tmp_path, "absent") is None


def test_load_scores_and_failure_table(tmp_path: Path) -> None:
    assert explore.load_scores(tmp_path) is None
    (tmp_path / "tables").mkdir()
    _tidy("beta").to_parquet(tmp_path / "tables" / "scores_zz.parquet")
    _tidy(None).to_parquet(tmp_path / "tables" / "scores_aa.parquet")
    dataset, tidy = explore.load_scores(tmp_path)
    assert dataset == "aa" and not tidy["random_weights"].any()
    assert explore.load_scores(tmp_path, "zz")[0] == "zz"
    assert explore.load_scores(tmp_path, "missing") is None
    failures = explore.failure_table(_tidy("beta"))
    beta = failures[failures["codec"] == "beta"]
    assert (
        beta["random_weights"].all()
        and not failures.loc[failures["codec"] == "alpha", "random_weights"].any()
    )
    assert beta["nan_stoi"].sum() == 5  # utterance 0 under clean + 2 P_flips x 2 seeds
    assert "stoi: too short" in beta["reasons"].iloc[0]


def test_pick_example_prefers_a_codec_with_a_perturbed_channel(tmp_path: Path) -> None:
    _write_run(tmp_path, codec="zeta")
    (tmp_path / "listen" / "alpha" / "ds" / "clean" / "000").mkdir(parents=True)  # clean listening only
    conditions = explore.list_conditions(tmp_path)
    assert explore.pick_example(conditions) == ("zeta", "ds")
    assert explore.pick_example(conditions, codec="alpha") == ("alpha", "ds")
    with pytest.raises(LookupError, match="nope"):
        explore.pick_example(conditions, codec="nope")


def test_first_listened_and_condition_labels(run) -> None:
    results, _ = run
    conditions = explore.list_conditions(results)
    assert explore.first_listened(results, conditions, "toy", "ds") == ("u0", "000")
    assert explore.first_listened(results, conditions, "toy", "other") is None
    labels = [explore.condition_label(row) for _, row in conditions.iterrows()]
    assert labels[0] == "clean (codec, no bit errors)"
    assert labels[1] == "BSC P_flip=0.01 (seed 0)"
    assert labels[-1] == "BSC P_flip=0.1 (seed 0), gray labelling"
    random_row = conditions.iloc[1].copy()
    random_row["random_weights"] = np.bool_(True)  # as pandas hands it out
    assert explore.condition_label(random_row).endswith(f"({RANDOM_WEIGHTS_LABEL})")


def test_code_example_uses_the_utterance_and_nearest_condition(run) -> None:
    results, saved = run
    conditions = explore.list_conditions(results)
    example = explore.code_example(results, conditions, "toy", "ds", 0.2, utt="u2")
    assert example is not None
    assert (example.utt, example.condition["channel"]) == ("u2", "bsc-p0.1-seed0")
    np.testing.assert_array_equal(example.received, saved["bsc-p0.1-seed0"][2])
    assert example.errors.shape == (7, FRAMES[2])
    assert "u2" in example.title and "P_flip=0.1" in example.title
    assert explore.code_example(results, conditions, "toy", "ds", 0.2).utt == "u0"  # default: first utterance
    assert explore.code_example(results, conditions, "toy", "ds", 0.2, model="ge") is None
    assert explore.shard_utterances(results, "toy", "ds", "000") == UTTS


def test_bursty_channels_are_kept_apart_from_the_bsc(run) -> None:
    results, saved = run
    spec = ChannelSpec("ge", 0.1, 0, burst_length=8.0)
    sent = transmit(saved["clean"], SIZES, spec, derive_rng(0, spec.name))
    extras = {"bits_sent": sent.bits_sent, "bits_flipped": sent.bits_flipped}
    save_shard(
        results / "channel" / "toy" / "ds" / spec.name / "000.npz",
        CodeShard(UTTS, sent.codes, False, extras),
        3,
    )
    conditions = explore.list_conditions(results)
    assert conditions["channel"].iloc[-2:].tolist() == [spec.name, "bsc-p0.1-seed0-gray"]  # GE after BSC
    assert explore.pick_channel(conditions, "toy", "ds", 0.1, model="ge")["burst_length"] == 8.0
    pooled = explore.pooled_flip_rates(explore.flip_counts(results, conditions))
    at_01 = pooled[(pooled["p_flip"] == 0.1) & (pooled["labelling"] == "natural")]
    assert sorted(at_01["model"]) == ["bsc", "ge"]
    assert at_01.loc[at_01["model"] == "ge", "bits_flipped"].item() == int(sent.bits_flipped.sum())
    assert any(", GE, natural" in t for t in _texts(explore.figure_flip_rates(pooled)))

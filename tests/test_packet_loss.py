"""The packet-loss study wired in: channel names, common losses across codecs, the decode stage's
concealment, the study's plan and config checks, and its statistics (break-down FER, corpus WER)."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from nacbench import packet_loss, plan
from nacbench.analysis.breakdown import breakdown_pflip
from nacbench.analysis.summary import mean_ci, scored_metrics
from nacbench.artifacts import CodeShard, load_shard, save_shard
from nacbench.conditions import (
    CHANNEL_WILDCARD,
    CONDITION_COLUMNS,
    ChannelSpec,
    ErasureSpec,
    condition_columns,
    parse_channel,
)
from nacbench.config import ConfigError, validate_config
from nacbench.erasure import G192_BAD, G192_GOOD, frame_packets, gilbert_losses
from nacbench.seeds import erasure_rng
from nacbench.swap import with_derived_codecs

REPO = Path(__file__).resolve().parents[1]
IID = "erasure-iid-fer0.2-p20ms-repeat-seed0"


def merged_config(**study: object) -> dict:
    """config.yaml with the offline overlay, ``study`` over its study_packet_loss section."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    overlay = yaml.safe_load((REPO / "configs" / "offline.yaml").read_text())
    update_config(config, overlay)  # nested, as Snakemake merges --configfile layers
    if study:
        config["study_packet_loss"] = {**config["study_packet_loss"], **study}
    return config


# ------------------------------------------------------------------------------------------ names


def test_erasure_channels_share_the_channel_grammar_and_columns() -> None:
    assert re.fullmatch(CHANNEL_WILDCARD, IID) and re.fullmatch(CHANNEL_WILDCARD, "bsc-p0.1-seed0")
    assert isinstance(parse_channel(IID), ErasureSpec) and isinstance(parse_channel("clean"), ChannelSpec)
    row = condition_columns("lyra", "librispeech", "erasure-gilbert-fer0.1-b3-p20ms-silence-seed2", "000")
    assert tuple(row) == CONDITION_COLUMNS
    assert row["model"] == "gilbert" and row["fer"] == 0.1 and row["burst_length"] == 3.0
    assert row["concealment"] == "silence" and row["seed"] == 2 and math.isnan(row["p_flip"])
    bsc = condition_columns("lyra", "librispeech", "bsc-p0.1-seed0", "000")
    assert bsc["p_flip"] == 0.1 and math.isnan(bsc["fer"]) and bsc["concealment"] is None
    with pytest.raises(ValueError, match="not an erasure channel name"):
        parse_channel("erasure-iid-fer2")


# ------------------------------------------------------------------------------------------ losses


def test_gilbert_masks_are_prefix_stable() -> None:
    """A longer mask from the same stream extends a shorter one: codecs whose streams span a packet
    more or less share every loss they both cover."""
    short = gilbert_losses(300, 0.1, 3.0, erasure_rng(0, "ls", "u1", "gilbert", 0.1, 3.0, 20.0))
    long = gilbert_losses(5000, 0.1, 3.0, erasure_rng(0, "ls", "u1", "gilbert", 0.1, 3.0, 20.0))
    assert short.tolist() == long[:300].tolist()


def test_every_codec_loses_the_same_packets() -> None:
    """The same 6 s utterance at 25, 50 and 75 Hz: one loss mask over the same 300 packets (the stream
    is the utterance's, not the codec's), each frame lost with the packet it starts in, and a lost
    frame carrying the last received frame's codes (repeat)."""
    spec = ErasureSpec.parse(IID)
    at_50hz = None
    for rate in (50.0, 25.0, 75.0):
        frames = int(6.0 * rate)
        codes = [np.arange(frames, dtype=np.int64)[None, :] % 7]
        received, extras = packet_loss.erase_codes(codes, ["u1"], rate, spec, "ls")
        assert int(extras["packets_sent"][0]) == 300
        lost = extras["lost_frames"]
        if at_50hz is None:
            at_50hz = lost  # one frame per packet: the packet mask itself
            assert int(extras["packets_lost"][0]) == int(lost.sum())
        assert lost.tolist() == at_50hz[frame_packets(frames, rate, 0.02)].tolist()
        first_received = int(np.flatnonzero(~lost)[0])
        for t in np.flatnonzero(lost):
            if t > first_received:
                last = int(np.flatnonzero(~lost[:t])[-1])
                assert received[0][0, t] == codes[0][0, last]


def test_silence_and_plc_conditions_mark_their_frames() -> None:
    codes = [np.random.default_rng(0).integers(0, 16, size=(4, 250))]
    spec = ErasureSpec.parse(IID.replace("repeat", "silence"))
    _, silence = packet_loss.erase_codes(codes, ["u1"], 50.0, spec, "ls")
    assert silence["silenced_frames"].tolist() == silence["lost_frames"].tolist()
    plc = ErasureSpec.parse(IID.replace("repeat", "plc"))
    _, own = packet_loss.erase_codes(codes, ["u1"], 50.0, plc, "ls")
    assert not own["silenced_frames"].any() and own["lost_frames"].tolist() == silence["lost_frames"].tolist()
    assert str(own["concealment"]) == "plc"
    stats = json.loads(str(own["loss_stats"]))
    assert stats["lost"] == int(own["packets_lost"].sum()) and stats["bursts"] == int(
        own["loss_bursts"].sum()
    )


def test_a_pattern_is_replayed_across_utterances_by_their_durations(tmp_path: Path) -> None:
    spec = ErasureSpec("pattern", pattern="trace", concealment="repeat")
    pattern = np.arange(40) % 3 == 0
    codes = [np.zeros((1, 50), np.int64), np.zeros((1, 25), np.int64)]  # 1 s and 0.5 s at 50 Hz
    _, extras = packet_loss.erase_codes(codes, ["a", "b"], 50.0, spec, "ls", pattern, [1.0, 0.5])
    lost = extras["lost_frames"]
    assert lost[:50].tolist() == pattern.tolist() + pattern[:10].tolist()  # wraps after 40 packets
    assert lost[50:].tolist() == pattern[10:35].tolist()  # b starts after a's 50 packets: 50 mod 40
    assert bool(extras["pattern_wrapped"])
    with pytest.raises(ValueError, match="pass its mask and the durations"):
        packet_loss.erase_codes(codes, ["a", "b"], 50.0, spec, "ls")


# ------------------------------------------------------------------------------------------ decode


def test_lyra_decodes_a_lossy_shard_with_silence_and_repeat(shared_dir: Path, tmp_path: Path) -> None:
    """The decode stage on real Lyra v2: silence zeroes exactly the lost frames' audio (after the
    codec's delay), repeat decodes the concealed codes; the received shard records the losses."""
    from nacbench.audio import read_audio
    from nacbench.codecs import build_codec
    from nacbench.stages import transmit_and_decode

    options = {"adapter": "lyra", "model_dir": str(shared_dir / "models" / "lyra-v2"), "num_quantizers": 30}
    codec = build_codec("lyra", options)
    wav = read_audio(sorted((shared_dir / "corpus" / "cmu_arctic").rglob("*.wav"))[0])[: 3 * 16000]
    codes = codec.encode([wav])
    codes_path = tmp_path / "codes.npz"
    save_shard(codes_path, CodeShard(["u1"], codes, False), codec.info.n_codebooks)
    codec.info.write(tmp_path / "codec.json")
    decoded = {}
    for concealment in ("silence", "repeat"):
        channel = f"erasure-iid-fer0.2-p20ms-{concealment}-seed0"
        out = tmp_path / concealment
        transmit_and_decode(
            "lyra", options, "cpu", str(codes_path), str(tmp_path / "codec.json"), channel, "ls", "000",
            str(out / "received.npz"), str(out / "audio"), str(out / "listen"), [],
        )  # fmt: skip
        decoded[concealment] = read_audio(out / "audio" / "u1.wav", expected_rate=16000)
        received = load_shard(out / "received.npz")
        assert int(received.extras["packets_lost"][0]) > 0
    lost = load_shard(tmp_path / "silence" / "received.npz").extras["lost_frames"]
    delay = codec.info.delay_samples
    per_frame = 16000 // 50
    fade = 32  # silence_audio's 2 ms raised-cosine ramps at 16 kHz, inside each silenced run
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        span = decoded["silence"][delay + start * per_frame + fade : delay + end * per_frame - fade]
        assert span.size and np.all(span == 0.0)
    kept = np.flatnonzero(~lost)
    assert np.abs(decoded["repeat"]).max() > 0
    assert any(np.any(decoded["silence"][delay + t * per_frame : delay + (t + 1) * per_frame]) for t in kept)


def test_lyra_decodes_the_fit_sets_mean_latent_in_place_of_lost_frames(
    shared_dir: Path, tmp_path: Path
) -> None:
    """mean-latent on real Lyra v2: the decode stage hands LyraGAN the received codes' RVQ sums with the
    fit set's mean latent in the lost frames; audio up to the first loss is that of the codes."""
    from nacbench.audio import read_audio
    from nacbench.codecs import build_codec
    from nacbench.erasure import conceal_latent
    from nacbench.stages import read_mean_latent, transmit_and_decode

    options = {"adapter": "lyra", "model_dir": str(shared_dir / "models" / "lyra-v2"), "num_quantizers": 30}
    codec = build_codec("lyra", options)
    wavs = [
        read_audio(p)[: 2 * 16000] for p in sorted((shared_dir / "corpus" / "cmu_arctic").rglob("*.wav"))[:3]
    ]
    codes = codec.encode(wavs[:1])
    save_shard(tmp_path / "codes.npz", CodeShard(["u1"], codes, False), codec.info.n_codebooks)
    codec.info.write(tmp_path / "codec.json")
    fit = np.concatenate([x.T for x in codec.encode_latent(wavs[1:])])  # [frames, 64]: a fit set
    np.savez(tmp_path / "fit_latents.npz", latents=fit)  # a file from before the mean was stored
    mean = read_mean_latent(str(tmp_path / "fit_latents.npz"))
    np.testing.assert_allclose(mean, fit.mean(axis=0), rtol=1e-5)
    channel = "erasure-iid-fer0.2-p20ms-mean-latent-seed0"
    transmit_and_decode(
        "lyra", options, "cpu", str(tmp_path / "codes.npz"), str(tmp_path / "codec.json"), channel, "ls",
        "000", str(tmp_path / "received.npz"), str(tmp_path / "audio"), str(tmp_path / "listen"), [],
        latents_path=str(tmp_path / "fit_latents.npz"),
    )  # fmt: skip
    got = read_audio(tmp_path / "audio" / "u1.wav", expected_rate=16000)
    received = load_shard(tmp_path / "received.npz")
    lost = received.extras["lost_frames"]
    assert lost.any() and not received.extras["silenced_frames"].any()
    (expected,) = codec.decode_latent([conceal_latent(codec.dequantize(codes[0]), lost, mean)])
    np.testing.assert_array_equal(got, expected)
    first = int(np.flatnonzero(lost)[0]) * (16000 // 50)
    plain = codec.decode(codes)[0]
    np.testing.assert_array_equal(got[:first], plain[:first])
    assert not np.array_equal(got[first:], plain[first:])
    with pytest.raises(ValueError, match="no fit-set latents"):
        transmit_and_decode(
            "lyra", options, "cpu", str(tmp_path / "codes.npz"), str(tmp_path / "codec.json"), channel,
            "ls", "000", str(tmp_path / "r2.npz"), str(tmp_path / "a2"), str(tmp_path / "l2"), [],
        )  # fmt: skip


# ------------------------------------------------------------------------------------------ plan, config


def test_the_plan_follows_the_study_and_its_overrides() -> None:
    config = merged_config(codecs=["lyra", "neucodec"])
    conditions = plan.packet_loss_conditions(config)
    fers, bursts = config["study_packet_loss"]["fer"], config["study_packet_loss"]["bursts"]
    concealments = config["study_packet_loss"]["concealments"]
    assert len(conditions["lyra"]) == 1 + len(concealments) * len(fers) * (1 + len(bursts))
    assert conditions["neucodec"] == [
        "clean",
        "erasure-iid-fer0.1-p20ms-repeat-seed0",
        "erasure-gilbert-fer0.1-b3-p20ms-repeat-seed0",
    ]
    assert {c.channel for c in plan.conditions(config) if c.codec == "neucodec"} >= set(
        conditions["neucodec"]
    )
    # the study's metrics and WER on its conditions; nothing added where no study asks
    lossy = plan.score_metrics(config, "lyra", "librispeech", conditions["lyra"][1])
    assert {"plcmos", "dnsmos_ovrl", plan.WER_KEY} <= set(lossy)
    assert plan.score_metrics(config, "lyra~fsq16", "librispeech", "bsc-p0.1-seed0") == config["metrics"]
    assert plan.score_metrics(config, "lyra", "cmu_arctic", "clean") == config["metrics"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fer": [1.0]}, "study_packet_loss.fer.0"),
        ({"bursts": [0.5]}, "study_packet_loss.bursts.0"),
        ({"fer": [0.6], "bursts": [1]}, "the rate can be at most 0.5"),
        (
            {"codecs": ["codec2-3200"], "concealments": ["mean-latent"], "overrides": {}},
            "codec 'codec2-3200' cannot take 'mean-latent'",
        ),
        ({"overrides": {"lyra": {"fer": [0.9], "bursts": [1]}}}, "overrides.lyra: a loss rate of 0.9"),
        ({"codecs": ["lyra", "nope"]}, r"study_packet_loss.codecs\[1\]: unknown codec 'nope'"),
        ({"breakdown_margin": {"visqol": 0.1}}, "breakdown_margin.visqol: not scored"),
        ({"metrics": {"plcmos": {"bogus": 1}}}, "study_packet_loss.metrics.plcmos.bogus"),
    ],
)
def test_bad_packet_loss_settings_are_named(change: dict, message: str) -> None:
    config = merged_config(**{"codecs": ["lyra"], **change})
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_mean_latent_is_planned_for_codecs_with_latent_access() -> None:
    config = merged_config(
        codecs=["lyra", "lyra~fsq120"], concealments=["repeat", "mean-latent"], overrides={}
    )
    validate_config(config)
    channels = plan.packet_loss_conditions(with_derived_codecs(config))
    assert "erasure-iid-fer0.1-p20ms-mean-latent-seed0" in channels["lyra~fsq120"]


def test_malformed_pattern_files_are_named_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "trace.txt"
    bad.write_text("0 1 0\n1 x 0\n")
    config = merged_config(codecs=["lyra"], patterns={"trace": str(bad)})
    with pytest.raises(ConfigError, match=rf"patterns.trace: {re.escape(str(bad))}, line 2: 'x'"):
        validate_config(config)
    good = tmp_path / "trace.g192"
    good.write_bytes(np.array([G192_GOOD, G192_BAD, G192_GOOD], "<u2").tobytes())
    config = merged_config(codecs=["lyra"], patterns={"trace": str(good)})
    validate_config(config)
    assert "erasure-pattern-trace-p20ms-repeat" in plan.packet_loss_conditions(config)["lyra"]


def test_external_codecs_are_refused_by_the_study() -> None:
    config = merged_config(codecs=["ext"])
    config["codecs"]["ext"] = {"adapter": "external", "rules": "x.smk"}
    with pytest.raises(ConfigError, match="codec 'ext' is external"):
        validate_config(config)


# ------------------------------------------------------------------------------------------ statistics


def lossy_table() -> pd.DataFrame:
    """Two utterances, clean and i.i.d. losses at three rates, scores falling with the rate; WER edits."""
    rows = []
    for utt, words in (("u1", 10), ("u2", 30)):
        rows.append({"model": "clean", "fer": math.nan, "stoi": 0.95, "word_errors": 1, "ref_words": words})
        for fer, stoi, errors in ((0.01, 0.93, 2), (0.1, 0.8, 5), (0.3, 0.6, 15)):
            rows.append({"model": "iid", "fer": fer, "stoi": stoi, "word_errors": errors, "ref_words": words})
        for row in rows[-4:]:
            row |= {
                "utt_id": utt,
                "codec": "x",
                "dataset": "d",
                "concealment": None,
                "burst_length": math.nan,
            }
            if row["model"] == "iid":
                row["concealment"] = "repeat"
    table = pd.DataFrame(rows)
    table["wer"] = table["word_errors"] / table["ref_words"]
    return table


def test_wer_pools_as_a_corpus_rate() -> None:
    table = lossy_table()
    clean = mean_ci(table[table["model"] == "clean"], ["codec"], "wer", n_boot=0)
    assert clean["mean"].iloc[0] == pytest.approx(2 / 40)  # not the mean of 1/10 and 1/30
    assert "wer" in scored_metrics(table) and "stoi" in scored_metrics(table)


def test_breakdown_fer_compares_each_concealment_with_the_codecs_clean_rows() -> None:
    table = lossy_table()
    result = breakdown_pflip(
        table,
        "stoi",
        0.1,
        n_boot=0,
        channel_model="iid",
        by=("codec", "dataset", "concealment", "burst_length"),
        x="fer",
        condition_by=("concealment", "burst_length"),
    )
    assert len(result) == 1 and result["concealment"].iloc[0] == "repeat"
    # clean 0.95, threshold 0.85: between FER 0.01 (0.93) and 0.1 (0.8), log-interpolated
    frac = (0.93 - 0.85) / (0.93 - 0.8)
    assert result["p_breakdown"].iloc[0] == pytest.approx(10 ** (-2 + frac))
    wer = breakdown_pflip(
        table, "wer", 0.1, n_boot=0, channel_model="iid",
        by=("codec", "dataset", "concealment", "burst_length"), x="fer", condition_by=("concealment", "burst_length"),
    )  # fmt: skip
    # corpus WER: clean 2/40, 4/40, 10/40 -> crosses 0.15 between FER 0.01 and 0.1
    frac = (0.15 - 0.1) / (0.25 - 0.1)
    assert wer["p_breakdown"].iloc[0] == pytest.approx(10 ** (-2 + frac))


def test_old_score_shards_get_the_new_condition_columns(tmp_path: Path) -> None:
    from nacbench.artifacts import write_parquet
    from nacbench.stages import tidy_scores

    old = {k: v for k, v in condition_columns("lyra", "ls", "bsc-p0.1-seed0", "000").items()}
    old.pop("fer"), old.pop("concealment")
    write_parquet(pd.DataFrame([{**old, "utt_id": "u1", "stoi": 0.9}]), tmp_path / "old.parquet")
    new = condition_columns("lyra", "ls", IID, "000")
    write_parquet(pd.DataFrame([{**new, "utt_id": "u1", "stoi": 0.7}]), tmp_path / "new.parquet")
    tidy = tidy_scores(
        [str(tmp_path / "old.parquet"), str(tmp_path / "new.parquet")],
        str(tmp_path / "t.parquet"),
        str(tmp_path / "t.csv.gz"),
    )
    assert set(CONDITION_COLUMNS) <= set(tidy.columns)
    assert tidy["fer"].isna().tolist() == [True, False]


def test_opus_under_bit_errors_is_refused() -> None:
    config = merged_config()
    config = copy.deepcopy(config)
    config["study_a"]["codecs"] = [*config["study_a"]["codecs"], "opus-6k"]
    with pytest.raises(
        ConfigError, match=r"study_a.codecs\[\d+\]: codec 'opus-6k' cannot go through bit errors"
    ):
        validate_config(config)


def test_the_figure_has_one_panel_per_loss_model() -> None:
    """i.i.d. rows carry a NaN burst length: they are one panel however many rows there are."""
    from nacbench.plots import loss_panels

    rows = pd.DataFrame(
        {
            "model": ["iid"] * 50 + ["gilbert"] * 20 + ["gilbert"] * 5 + ["clean"],
            "burst_length": [math.nan] * 50 + [3.0] * 20 + [8.0] * 5 + [math.nan],
        }
    )
    assert loss_panels(rows)[0][0] == "iid" and len(loss_panels(rows)) == 3
    assert [b for _, b in loss_panels(rows)[1:]] == [3.0, 8.0]


def test_summary_keeps_conditions_whose_keys_are_nan() -> None:
    """Clean rows have no FER or concealment (NaN keys): their means must survive the reshaping."""
    from nacbench.tables import summary_table

    table = lossy_table().assign(labelling="natural", p_flip=math.nan)
    summary = summary_table(table, ["stoi", "wer"], n_boot=0)
    clean = summary[summary["model"] == "clean"]
    assert clean["stoi_mean"].tolist() == [pytest.approx(0.95)]
    assert summary["stoi_mean"].notna().all() and summary["wer_mean"].notna().all()

"""Condition names and columns: one grammar for paths, wildcards and tables."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from nacbench import conditions
from nacbench.conditions import (
    CHANNEL_WILDCARD,
    CONDITION_COLUMNS,
    CONFIGURED_CODEC_NAME,
    LABELLING_WILDCARD,
    ChannelSpec,
    condition_columns,
    shard_name,
)
from nacbench.config import load_schema

REPO = Path(__file__).resolve().parents[1]
NAMES = [
    "clean",
    "clean-gray",
    "bsc-p0.01-seed0",
    "bsc-p1e-05-seed12",
    "bsc-p0.1-seed3-distortion-aware",
    "ge-p0.01-b8-seed0",
    "ge-p0.05-b2.5-seed1-random",
]


def test_condition_columns_cover_every_condition_field_in_order() -> None:
    ge = condition_columns("dac", "librispeech", "ge-p0.01-b8-seed2-gray", "004")
    assert tuple(ge) == CONDITION_COLUMNS
    assert ge == {
        "codec": "dac",
        "dataset": "librispeech",
        "channel": "ge-p0.01-b8-seed2-gray",
        "model": "ge",
        "p_flip": 0.01,
        "burst_length": 8.0,
        "seed": 2,
        "labelling": "gray",
        "shard": "004",
        "fer": ge["fer"],
        "concealment": None,
    }
    assert math.isnan(ge["fer"])  # a bit-error channel has no erasure rate
    clean = condition_columns("dac", "librispeech", "clean", "000")
    assert clean["seed"] == -1 and math.isnan(clean["burst_length"])
    with pytest.raises(ValueError, match="not a channel name"):
        condition_columns("dac", "librispeech", "bsc-0.01", "000")


def test_wildcard_constraint_is_the_channel_grammar() -> None:
    """The Snakemake constraint accepts exactly the names parse accepts (no anchors, no named groups)."""
    wildcard = re.compile(rf"^(?P<channel>{CHANNEL_WILDCARD})$")
    for name in NAMES:
        assert wildcard.match(name), name
        assert ChannelSpec.parse(name).name == name
    for bad in [
        "bsc",
        "bsc-p0.01",
        "ge-p0.01-seed0",
        "bsc-p0.01-seed0-natural",
        "clean/000",
        "awgn-p1-seed0",
    ]:
        assert not wildcard.match(bad), bad
        with pytest.raises(ValueError):
            ChannelSpec.parse(bad)
    assert "(?P<" not in CHANNEL_WILDCARD and not CHANNEL_WILDCARD.startswith("^")
    labelling = re.compile(rf"^(?:{LABELLING_WILDCARD})$")
    assert [x for x in conditions.LABELLINGS if labelling.match(x)] == ["gray", "random", "distortion-aware"]


def test_codec_name_matches_the_config_schema() -> None:
    schema = load_schema()
    patterns = [v["propertyNames"]["pattern"] for v in schema["properties"].values() if "propertyNames" in v]
    assert f"^{CONFIGURED_CODEC_NAME}$" in patterns


def test_shard_names() -> None:
    assert [shard_name(i) for i in (0, 7, 123)] == ["000", "007", "123"]
    with pytest.raises(ValueError, match="shard index"):
        shard_name(1000)


def test_summary_keys_keep_burst_lengths_apart() -> None:
    """Two GE conditions that differ only in burst length are two rows of the summary, not one."""
    from nacbench.tables import summary_table

    rows = [
        condition_columns("dac", "ds", channel, "000") | {"utt_id": utt, "stoi": value}
        for channel, base in (("ge-p0.01-b2-seed0", 0.9), ("ge-p0.01-b8-seed0", 0.5), ("clean", 1.0))
        for utt, value in (("u1", base), ("u2", base + 0.01))
    ]
    summary = summary_table(pd.DataFrame(rows), ["stoi"], n_boot=10)
    ge = summary[summary["model"] == "ge"].sort_values("burst_length")
    assert ge["burst_length"].tolist() == [2.0, 8.0]
    assert ge["stoi_mean"].round(3).tolist() == [0.905, 0.505]
    assert len(summary) == 3
    without_ge = pd.DataFrame(rows[-2:]).assign(**condition_columns("dac", "ds", "clean", "000"))
    assert "burst_length" not in summary_table(without_ge, ["stoi"], n_boot=10).columns

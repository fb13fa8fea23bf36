"""Config validation: the shipped configs pass; each kind of mistake stops with the field named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nacbench import plan
from nacbench.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]


def deep_update(base: dict, overlay: dict) -> dict:
    """Snakemake's --configfile semantics: dicts merge recursively, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = (
            deep_update(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def load(*overlays: str) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in overlays:
        config = deep_update(config, yaml.safe_load((REPO / "configs" / name).read_text()))
    return config


@pytest.mark.parametrize("overlays", [(), ("quick.yaml",), ("offline.yaml",)])
def test_shipped_configs_are_valid(overlays: tuple[str, ...]) -> None:
    validate_config(load(*overlays))


def test_offline_a_hub_codec_not_downloaded_stops_the_run_only_when_a_study_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline run, offline and with an empty hub cache: the shipped Transformers entries that no study
    names (dac-hf, encodec-hf, neucodec-hf) do not stop it; naming one in a study does, with the fix."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = load("offline.yaml")
    validate_config(config)
    config["study_a"]["codecs"].append("dac-hf")
    expect_error(config, "codecs.dac-hf.model: 'descript/dac_24khz'", "huggingface-cli download")


def test_shipped_configs_write_to_their_own_results_folders() -> None:
    """The offline overlay's random-weight artifacts and the quick overlay's subset never land where the
    full run looks for its own."""
    folders = {
        name: load(*overlays)["results"]
        for name, overlays in {"full": (), "quick": ("quick.yaml",), "offline": ("offline.yaml",)}.items()
    }
    assert folders == {"full": "results", "quick": "results/quick", "offline": "results/offline"}


def expect_error(config: dict, *fragments: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_wrong_type_names_the_field() -> None:
    config = load()
    config["data"]["librispeech"]["shards"] = "many"
    expect_error(config, "data.librispeech.shards", "'many' is not of type 'integer'")


def test_p_flip_outside_unit_interval_names_the_field() -> None:
    config = load()
    config["study_a"]["channels"]["bsc"]["p_flip"] = [0.01, 1.5]
    expect_error(config, "study_a.channels.bsc.p_flip[1]", "1.5")


def test_unknown_codec_in_a_study_names_the_field() -> None:
    config = load()
    config["study_a"]["codecs"].append("soundstream")
    expect_error(
        config, f"study_a.codecs[{len(config['study_a']['codecs']) - 1}]", "unknown codec 'soundstream'"
    )


def test_unknown_adapter_is_refused() -> None:
    config = load()
    config["codecs"]["mine"] = {"adapter": "nope"}
    expect_error(config, "codecs.mine.adapter", "unknown adapter 'nope'")


def test_unknown_top_level_key_is_refused() -> None:
    config = load()
    config["sedd"] = 1
    expect_error(config, "Additional properties are not allowed ('sedd' was unexpected)")


def test_labelling_that_does_not_fit_stops_before_any_job() -> None:
    config = load("offline.yaml")
    config["study_labelling"]["codecs"] = ["codec2-3200"]
    config["study_labelling"]["labellings"] = ["natural", "distortion-aware"]
    expect_error(config, "study_labelling.labellings", "codec2-3200", "codeword vectors")


def test_fit_set_is_required_and_checked() -> None:
    config = load()
    del config["fit"]
    expect_error(config, "'fit' is a required property")
    config = load()
    config["fit"]["dataset"] = "timit"
    expect_error(config, "fit.dataset", "unknown dataset 'timit'")
    config = load("offline.yaml")
    config["fit"]["utterances"] = 401  # 4 speakers x 100 utterances at most
    expect_error(config, "fit.utterances", "401 asked for", "data.cmu_arctic holds at most 400")
    config = load("quick.yaml")
    config["fit"] = {"dataset": "librispeech", "utterances": 41}  # quick keeps 40
    expect_error(config, "fit.utterances", "data.librispeech holds at most 40")


@pytest.mark.parametrize("overlays", [(), ("quick.yaml",), ("offline.yaml",)])
def test_shipped_fit_sets_are_out_of_sample(overlays: tuple[str, ...]) -> None:
    config = load(*overlays)
    assert plan.fit_set(config)[0] == "cmu_arctic" and not plan.fit_in_sample(config)
    config["fit"]["dataset"] = config["study_a"]["dataset"]
    assert plan.fit_in_sample(config)


def test_plan_of_the_full_config() -> None:
    config = load()
    conds = plan.conditions(config)
    # Study A: 7 codecs x (clean + 7 P_flip x 1 seed) on LibriSpeech; packet loss: the paper's 5 codecs
    # x 2 concealments x 5 FER x (i.i.d. + Gilbert) beside their clean, and 3 Opus rates x (clean + its
    # own concealment x 5 FER x 2 models); + 2 codecs clean on Arctic
    assert len([c for c in conds if c.dataset == "librispeech"]) == 7 * 8 + 5 * 2 * 5 * 2 + 3 * (1 + 5 * 2)
    assert {c.codec for c in conds if c.dataset == "cmu_arctic"} == {"neucodec", "distill-neucodec"}
    assert len(plan.shard_names(config, "librispeech")) == 20
    assert "bsc-p0.001-seed0" in {c.channel for c in conds}


def test_plan_natural_labelling_keeps_paper_paths() -> None:
    config = load("offline.yaml")
    channels = {c.channel for c in plan.conditions(config) if c.codec == "lyra"}
    assert "bsc-p0.01-seed0" in channels  # natural: no suffix
    assert "bsc-p0.01-seed0-gray" in channels
    assert "bsc-p0.01-seed0-distortion-aware" in channels
    assert not any(c.endswith("-natural") for c in channels)


@pytest.mark.parametrize("overlays", [(), ("offline.yaml",)])
def test_shipped_codec_entries_build(overlays: tuple[str, ...], shared_dir: Path) -> None:
    """Every codec entry of the shipped configs is accepted by its adapter (random weights, small
    semantic model: this checks the options, not the weights)."""
    from nacbench.codecs import build_codec

    for name, options in load(*overlays)["codecs"].items():
        if options["adapter"] == "stablecodec":
            continue  # its random build is the 953 M-parameter reconstruction: tests/test_codec_paper.py
        opts = {k: v for k, v in options.items() if k != "conda_env"}
        if opts["adapter"] in ("neucodec", "dac", "encodec"):
            opts["random_weights"] = True
        if opts["adapter"] == "neucodec":
            opts["random_semantic_layers"] = 1
        if opts["adapter"] == "transformers":  # hub models: their architecture, with random weights
            opts["random_weights"] = True
            if opts.get("family") in ("xcodec2", "neucodec"):
                opts.setdefault("config_overrides", {"semantic_model_config": {"num_hidden_layers": 1}})
        codec = build_codec(name, opts)
        assert codec.info.name == name


@pytest.mark.parametrize(
    ("settings", "field", "text"),
    [
        ({"f_min": 9000.0, "f_max": 8000.0}, "metrics.mel_mse.f_min", "below f_max"),
        ({"win_length": 2048}, "metrics.mel_mse.win_length", "longer than n_fft (1024)"),
        ({"f_max": 11025.0}, "metrics.mel_mse.f_max", "Nyquist frequency of 16000 Hz"),
        ({"n_fft": 256, "win_length": 256, "n_mels": 128}, "metrics.mel_mse.n_mels", "bands are empty"),
    ],
)
def test_mel_settings_that_cannot_score_are_refused(settings: dict, field: str, text: str) -> None:
    """Before: f_min above f_max passed and gave every row mel-MSE 0.0; win_length above n_fft passed
    and failed every utterance after all decoding was done."""
    config = load()
    config["metrics"]["mel_mse"].update(settings)
    expect_error(config, field, text)


def test_unknown_metric_and_margin_are_refused() -> None:
    config = load()
    config["metrics"]["visqol"] = {}
    config["study_labelling"]["breakdown_margin"]["sdr"] = 1.0
    expect_error(config, "metrics.visqol: unknown metric", "study_labelling.breakdown_margin.sdr")


def test_an_overlay_that_turns_wer_off_drops_its_margin_with_null() -> None:
    """Before: the base config's ``wer`` margin could not be removed by an overlay (mappings merge), so an
    overlay with ``wer_utterances: 0`` and the labelling study could not start at all."""
    config = load()
    config["study_a"]["wer_utterances"] = 0
    expect_error(config, "study_labelling.breakdown_margin.wer: not a scored metric", "`wer: null` drops it")
    config = deep_update(config, {"study_labelling": {"breakdown_margin": {"wer": None}}})
    validate_config(config)
    assert plan.breakdown_margins(config) == {"stoi": 0.1, "pesq": 0.5}


def test_the_issue12_benchmark_configuration_is_valid() -> None:
    """benchmarks/offline_issue12.yaml is a whole configuration over config.yaml (not over the offline
    overlay): the offline run as issue 12 set its target, which bench_offline_run.py times."""
    config = deep_update(
        yaml.safe_load((REPO / "config.yaml").read_text()),
        yaml.safe_load((REPO / "benchmarks" / "offline_issue12.yaml").read_text()),
    )
    validate_config(config)
    assert config["study_packet_loss"]["codecs"] == [] and config["study_swap"]["codecs"] == []


def test_a_registered_metric_is_configured_with_its_own_checks(toy_metric) -> None:
    """A metric added as a module needs no schema edit: its config entry is checked by the metric."""
    config = load()
    config["metrics"]["toy"] = {}
    config["study_labelling"]["breakdown_margin"]["toy"] = 0.5
    validate_config(config)
    config["metrics"]["toy"] = {"scale": 2}
    expect_error(config, "metrics.toy.scale: not a parameter of metric 'toy'")


def test_code_analysis_needs_quantizer_output() -> None:
    """Known from the static codec table: DAC has no ``quantizer_output`` (and no FSQ levels)."""
    config = load()
    config["study_b"]["reference_codec"] = "dac"
    expect_error(config, "study_b.reference_codec", "'dac'", "'quantizer_output'", "code analysis")


def test_external_codec_cannot_join_the_labelling_study() -> None:
    config = load()
    config["codecs"]["g711"] = {"adapter": "external", "rules": "workflow/rules/examples/g711.smk"}
    config["study_labelling"]["codecs"] = ["g711"]
    expect_error(config, "study_labelling.codecs[0]", "'g711' is external")


def test_codec_options_the_static_table_cannot_lay_out_are_refused() -> None:
    config = load("offline.yaml")
    config["codecs"]["codec2-3200"]["mode"] = 3000
    expect_error(config, "codecs.codec2-3200.mode", "not a Codec2 mode")


def test_codebooks_that_are_no_power_of_two_need_an_out_of_range_policy() -> None:
    """An X-Codec2 with FSQ levels [5, 5, 5] (125 entries in 7 bits) is a valid codec; under
    out_of_range: error the first flip to 125..127 would stop its channel job, so validation says so."""
    config = load("offline.yaml")
    config["codecs"]["odd"] = {
        "adapter": "transformers",
        "family": "xcodec2",
        "random_weights": True,
        "config_overrides": {"quantization_levels": [5, 5, 5]},
    }
    config["study_a"]["codecs"] = [*config["study_a"]["codecs"], "odd"]
    config["study_a"]["out_of_range"] = "error"
    expect_error(config, "study_a.out_of_range: 'error'", "codec 'odd'", "[125]", "'clamp' or 'wrap'")
    config["study_a"]["out_of_range"] = "clamp"
    validate_config(config)


def test_own_recordings_need_only_a_folder() -> None:
    config = load()
    config["data"]["mine"] = {
        "reader": "audio_folder",
        "root": "/recordings",
        "shards": 2,
        "on_error": "skip",
    }
    config["study_a"]["dataset"] = "mine"
    validate_config(config)


@pytest.mark.parametrize(
    ("dataset", "fragments"),
    [
        ({"reader": "audio_folder", "root": None}, ("data.mine.root", "audio_folder reader cannot download")),
        (
            {"reader": "audio_folder", "root": "/x", "speakers": ["bdl"]},
            ("data.mine.speakers", "not an option"),
        ),
        ({"reader": "cmu_arctic", "root": None}, ("data.mine.speakers: required for the cmu_arctic reader",)),
        ({"reader": "timit", "root": "/x"}, ("data.mine.reader: unknown reader 'timit'", "audio_folder")),
    ],
)
def test_dataset_sections_are_checked_against_their_reader(dataset: dict, fragments: tuple[str, ...]) -> None:
    config = load()
    config["data"]["mine"] = {"shards": 1, "on_error": "error", **dataset}
    expect_error(config, *fragments)


def test_study_b_needs_a_reader_that_provides_transcripts(monkeypatch: pytest.MonkeyPatch) -> None:
    from nacbench.data.readers import READERS, Reader

    monkeypatch.setitem(
        READERS, "silent", Reader("silent", READERS["audio_folder"].read, provides_transcripts=False)
    )
    config = load()
    config["data"]["mine"] = {"reader": "silent", "root": "/x", "shards": 1, "on_error": "error"}
    config["study_a"]["dataset"] = "mine"
    validate_config(config)  # Study A needs no text
    config["study_b"]["dataset"] = "mine"
    expect_error(config, "study_b.dataset: dataset 'mine' uses the silent reader", "Study B (WER/CER)")


def test_figure3_axes_in_the_schema_are_the_plots_axes() -> None:
    from nacbench.config import load_schema
    from nacbench.plots import X_AXES

    schema = load_schema()
    assert schema["properties"]["study_a"]["properties"]["figure3_x_axis"]["enum"] == list(X_AXES)

"""The quantizer swap: derived codec names and conditions, start-up checks that name the field, shared
error positions, and the post-hoc codec on real Lyra v2 (../shared)."""

from __future__ import annotations

import copy
import glob
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from snakemake.utils import update_config

from nacbench import swap
from nacbench.channel import codes_to_bits
from nacbench.codecs.base import CodecInfo
from nacbench.config import ConfigError, validate_config
from nacbench.stages import transmit_codes

REPO = Path(__file__).resolve().parents[1]


def offline_config(**study: Any) -> dict[str, Any]:
    """config.yaml + configs/offline.yaml, as Snakemake merges them, with ``study_swap`` overrides."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "configs" / "offline.yaml").read_text()))
    update_config(config, {"study_swap": study})
    config["study_swap"]["overrides"] = study.get("overrides", {})  # the overlay's are for its own codecs
    return config


def errors_of(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


def test_names_parse_back_and_the_native_rate_is_the_base_itself() -> None:
    config = offline_config(
        codecs=["lyra"], bits=[16], rate_sweep={"bits": [32, 120], "p_flip": [0.1], "seeds": [0]}
    )
    names = [s.name for s in swap.swap_codecs(config)]
    assert names == [
        "lyra",
        "lyra~fsq120",
        "lyra~rvq120",
        "lyra~native32",
        "lyra~fsq32",
        "lyra~rvq32",
        "lyra~native16",
        "lyra~fsq16",
        "lyra~rvq16",
    ]
    assert swap.parse_name("lyra~fsq120") == ("lyra", "fsq", 120)
    assert swap.parse_name("lyra") is None and swap.parse_name("lyra~fsq") is None
    derived = swap.with_derived_codecs(config)["codecs"]
    assert derived["lyra~native16"] == {**config["codecs"]["lyra"], "num_quantizers": 4}
    assert derived["lyra~rvq16"]["fit"] == {
        "kind": "rvq",
        "bits_per_frame": 16,
        "stages": 4,
        "bits": 4,
        "seed": 0,
    }
    assert derived["lyra~fsq120"]["quantizer_file"].endswith("swap/lyra~fsq120/quantizer.npz")


def test_conditions_main_budgets_run_every_p_flip_and_seed_the_sweep_its_own() -> None:
    config = offline_config(
        codecs=["lyra"], bits=[16], seeds=[0, 1], rate_sweep={"bits": [32], "p_flip": [0.1], "seeds": [5]}
    )
    by_codec = {s.name: s for s in swap.swap_codecs(config)}
    p_flips = config["study_a"]["channels"]["bsc"]["p_flip"]
    main = swap.channels_of(config, by_codec["lyra~fsq16"])
    assert len(main) == 1 + 2 * len(p_flips) and main[0].model == "clean"
    assert [c.name for c in swap.channels_of(config, by_codec["lyra~rvq32"])] == ["clean", "bsc-p0.1-seed5"]


def test_a_codec_without_a_rate_option_has_no_native_row_at_other_budgets() -> None:
    config = offline_config(codecs=["lyra"], bits=[], rate_sweep=None)
    rows = {s.name for s in swap.swap_codecs(config)}
    assert rows == {"lyra", "lyra~fsq120", "lyra~rvq120"}
    config["codecs"]["lyra"] = {**config["codecs"]["lyra"], "adapter": "neucodec"}  # 16 bits, no rate option
    config["study_swap"]["bits"] = [8]
    names = {s.name for s in swap.swap_codecs(config)}
    assert "lyra~native8" not in names and {"lyra~fsq8", "lyra~rvq8"} <= names


def test_same_budget_codecs_draw_their_errors_at_the_same_positions() -> None:
    """Native (30 x 4-bit codebooks) and post-hoc FSQ (a different split of the same 120 bits) at one
    condition: the flipped (frame, bit) positions are identical; another budget's stream is not."""
    rng = np.random.default_rng(0)
    native = CodecInfo("lyra", "", 16000, 16000, 50.0, (16,) * 30, "rvq")
    fsq = CodecInfo("lyra~fsq120", "", 16000, 16000, 50.0, (256, 64, 16, *(4,) * 51), "fsq")
    assert native.bits_per_frame == fsq.bits_per_frame == 120

    def flipped(info: CodecInfo, stream: str) -> np.ndarray:
        from nacbench.artifacts import CodeShard

        codes = [
            rng.integers(0, np.array(info.codebook_sizes)[:, None], (info.n_codebooks, t)) for t in (40, 55)
        ]
        shard = CodeShard(["a", "b"], codes, False)
        received = transmit_codes(
            shard, info, "bsc-p0.05-seed3", info.name, "librispeech", "000", error_stream=stream
        )
        widths = info.bits_per_codebook
        return np.concatenate(
            [
                codes_to_bits(c, widths) ^ codes_to_bits(r, widths)
                for c, r in zip(codes, received.codes, strict=True)
            ]
        )

    config = offline_config(codecs=["lyra"], bits=[16])
    streams = swap.error_streams(config)
    assert streams["lyra"] == streams["lyra~fsq120"] == streams["lyra~rvq120"] == "lyra"
    assert streams["lyra~native16"] == streams["lyra~fsq16"] == "lyra~16"
    errors_native = flipped(native, streams["lyra"])
    assert errors_native.sum() > 0
    assert np.array_equal(errors_native, flipped(fsq, streams["lyra~fsq120"]))
    assert not np.array_equal(errors_native, flipped(fsq, "lyra~16"))


@pytest.mark.parametrize(
    ("study", "expected"),
    [
        (
            {"codecs": ["lyra"], "bits": [200]},
            "study_swap.bits: 200 bits per frame is no whole number of 'lyra''s num_quantizers (4 bits each, at most 46)",
        ),
        (
            {
                "codecs": ["lyra"],
                "bits": [],
                "fsq": {"allocation": "fixed", "bits_per_component": 1},
                "rvq": {"bits_per_stage": 1},
                "rate_sweep": None,
            },
            "study_swap.bits: 120 bits per frame do not fit 'lyra''s 64-d latent with post-hoc FSQ (fixed: at most 64 bits)",
        ),
        (
            {"codecs": ["codec2-3200"]},
            "study_swap.codecs[0]: codec 'codec2-3200' (adapter codec2) does not provide",
        ),
        ({"codecs": ["nope"]}, "study_swap.codecs[0]: unknown codec 'nope'"),
        (
            {"codecs": ["lyra"], "bits": [18]},
            "study_swap.bits: 18 bits per frame is no whole number of 'lyra''s num_quantizers",
        ),
        (
            {"codecs": ["lyra"], "bits": [16], "rvq": {"bits_per_stage": 5}},
            "study_swap.bits: 16 bits per frame cannot be split into RVQ stages of 5 bits",
        ),
        (
            {
                "codecs": ["lyra"],
                "rate_sweep": {"bits": [36], "p_flip": [0.1], "seeds": [0]},
                "fsq": {"allocation": "fixed", "bits_per_component": 8},
            },
            "study_swap.rate_sweep.bits: 36 bits per frame cannot be split into components of study_swap.fsq.bits_per_component = 8",
        ),
    ],
)
def test_bad_swap_configs_stop_at_start_up_naming_the_field(study: dict[str, Any], expected: str) -> None:
    assert expected in errors_of(offline_config(**study))


def test_a_rate_sweep_without_a_headline_margin_is_refused() -> None:
    config = offline_config(codecs=["lyra"])
    config["study_labelling"]["breakdown_margin"] = {"pesq": 0.5}
    assert "study_swap.rate_sweep: its break-down is of 'stoi'" in errors_of(config)


def test_a_fit_set_that_is_the_evaluation_set_is_refused_unless_allowed() -> None:
    config = offline_config(codecs=["lyra"])
    config["fit"]["dataset"] = "librispeech"
    assert "fit.dataset: 'librispeech' is study_a.dataset" in errors_of(copy.deepcopy(config))
    config["study_swap"]["allow_in_sample"] = True
    validate_config(config)
    assert swap.in_sample(config)


def test_derived_names_can_be_studied_but_not_configured() -> None:
    config = offline_config(codecs=["lyra"])
    config["study_a"]["codecs"] = [*config["study_a"]["codecs"], "lyra~fsq120"]
    validate_config(config)  # a derived codec may be named in any study
    config["codecs"]["lyra-fsq"] = {"adapter": "posthoc"}
    assert "codecs.lyra-fsq.adapter: 'posthoc' codecs are derived by study_swap" in errors_of(config)
    config = offline_config(codecs=["lyra"])
    config["codecs"]["lyra~x"] = dict(config["codecs"]["lyra"])
    assert "codecs: 'lyra~x' does not match" in errors_of(config)


LYRA = REPO.parent / "shared" / "models" / "lyra-v2"


@pytest.fixture(scope="module")
def lyra_swap(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real Lyra v2 latents of a few shared Arctic wavs, a post-hoc FSQ and RVQ fitted on them."""
    if not LYRA.is_dir():
        pytest.skip("../shared (Lyra v2) is not beside the checkout")
    from nacbench.audio import read_audio
    from nacbench.codecs import build_codec
    from nacbench.posthoc import PosthocFSQ, PosthocRVQ

    wavs = [
        read_audio(p)
        for p in sorted(glob.glob(str(REPO.parent / "shared/corpus/cmu_arctic/*/wav/*.wav")))[:6]
    ]
    lyra = build_codec("lyra", {"adapter": "lyra", "model_dir": str(LYRA), "num_quantizers": 4})
    latents = lyra.encode_latent(wavs)
    folder = tmp_path_factory.mktemp("swap")
    files = {}
    for kind, fitted in (
        ("fsq", PosthocFSQ.fit(latents[1:], 16)),
        ("rvq", PosthocRVQ.fit(latents[1:], 4, 4, seed=0, name="lyra~rvq16")),
    ):
        fitted.meta.update({"bits_per_component": 2} if kind == "fsq" else {})
        files[kind] = folder / f"{kind}.npz"
        fitted.to_npz(files[kind])
    return {"wav": wavs[0], "latent": latents[0], "files": files, "lyra": lyra}


@pytest.mark.parametrize("kind", ["fsq", "rvq"])
def test_the_swapped_round_trip_is_quantize_then_dequantize_then_lyragan(
    lyra_swap: dict[str, Any], kind: str
) -> None:
    from nacbench.codecs import build_codec
    from nacbench.posthoc import load_quantizer

    config = offline_config(codecs=["lyra"], bits=[16])
    derived = swap.with_derived_codecs(config)["codecs"][f"lyra~{kind}16"]
    options = {**derived, "quantizer_file": str(lyra_swap["files"][kind])}
    codec = build_codec(f"lyra~{kind}16", options)
    assert codec.info.bits_per_frame == 16 and codec.info.frame_rate == 50.0 and not codec.info.random_weights
    [codes] = codec.encode([lyra_swap["wav"]])
    fitted = load_quantizer(lyra_swap["files"][kind])
    assert np.array_equal(codes, fitted.quantize(lyra_swap["latent"]))
    [audio] = codec.decode([codes])
    [expected] = lyra_swap["lyra"].decode_latent([fitted.dequantize(codes)])
    assert np.array_equal(audio, expected)
    decoder = build_codec(f"lyra~{kind}16", options, decode_only=True)  # no encoder, same audio
    assert np.array_equal(decoder.decode([codes])[0], audio)
    # mean-latent concealment decodes dequantize(codes) where nothing was lost: the codes' own audio
    assert np.array_equal(decoder.decode_latent([decoder.dequantize(codes)])[0], audio)
    with pytest.raises(ValueError, match="was not fitted as this codec asks"):
        build_codec(
            f"lyra~{kind}16", {**options, "bits": 20, "fit": {**options["fit"], "bits_per_frame": 20}}
        )


def test_fewer_fit_frames_than_k_means_entries_names_the_codec_and_field(tmp_path: Path) -> None:
    import json

    from nacbench.artifacts import save_npz
    from nacbench.stages import fit_posthoc_quantizer

    latents = tmp_path / "fit_latents.npz"
    provenance = {"codec": "lyra", "dataset": "cmu_arctic", "utterances": 2, "in_sample": False}
    frames = np.array([5, 7])
    save_npz(
        latents,
        {"latents": np.ones((12, 64)), "frames": frames, "provenance": np.array(json.dumps(provenance))},
    )
    settings = {"kind": "rvq", "bits_per_frame": 16, "stages": 4, "bits": 4, "seed": 0}
    with pytest.raises(
        ValueError, match=r"codec 'lyra~rvq16': the fit set gives 12 latent frames.*fit\.utterances"
    ):
        fit_posthoc_quantizer(str(latents), settings, "lyra~rvq16", str(tmp_path / "q.npz"))
    assert not (tmp_path / "q.npz").exists()

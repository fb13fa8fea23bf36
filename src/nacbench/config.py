"""Start-up validation of the pipeline configuration.

The JSON Schema (``src/nacbench/schemas/config.schema.yaml``, package data) checks types and ranges; the
cross-field checks here need to know several sections at once (a codec named in a study must be defined,
a labelling must fit its codec). Every message names the offending field, so a typo stops the run before
any job starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nacbench import packet_loss
from nacbench.codecs import ADAPTERS, EXTERNAL_ADAPTER, Capability, StaticLayout, static_layout
from nacbench.codecs.base import conceals_in_latent
from nacbench.codecs.hf_layout import ModelNotCachedError
from nacbench.erasure import LATENT_CONCEALMENT
from nacbench.plan import breakdown_margins, study_a_conditions, study_b_codecs
from nacbench.swap import POSTHOC_ADAPTER, with_derived_codecs

#: the configuration schema, shipped inside the package so an installed (non-editable) nacbench has it
SCHEMA_FILE = resources.files("nacbench") / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message starts with the dotted path of the field."""


def _field(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def load_schema(path: Path | None = None) -> dict[str, Any]:
    """The JSON Schema as a dict: the package's own (:data:`SCHEMA_FILE`) unless ``path`` names another."""
    return yaml.safe_load((path or SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_errors(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """All schema violations, each as 'field: message', sorted by field."""
    validator = jsonschema.Draft202012Validator(schema or load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: _field(e.absolute_path))
    return [f"{_field(e.absolute_path)}: {e.message}" for e in errors]


def cross_field_errors(config: Mapping[str, Any]) -> list[str]:
    """Checks the schema cannot express: names that must refer to defined datasets and codecs."""
    errors: list[str] = []
    datasets = set(config["data"])
    configured = set(config["codecs"])
    for i, name in enumerate(config["study_swap"]["codecs"]):
        if name not in configured:
            errors.append(
                f"study_swap.codecs[{i}]: unknown codec {name!r}; defined under codecs: {sorted(configured)}"
            )
    swap = swap_errors(config) if not errors else []
    if errors or swap:
        return errors + swap
    # study_swap's codecs may be named in any study; bad base options are reported under codecs.<name>
    with contextlib.suppress(ValueError):
        config = with_derived_codecs(config)
    codecs = set(config["codecs"])

    def need_codec(field: str, name: str | None) -> None:
        if name is not None and name not in codecs:
            errors.append(f"{field}: unknown codec {name!r}; defined under codecs: {sorted(codecs)}")

    def need_dataset(field: str, name: str) -> None:
        if name not in datasets:
            errors.append(f"{field}: unknown dataset {name!r}; defined under data: {sorted(datasets)}")

    need_dataset("fit.dataset", config["fit"]["dataset"])
    need_dataset("study_a.dataset", config["study_a"]["dataset"])
    need_dataset("study_b.dataset", config["study_b"]["dataset"])
    for i, name in enumerate(config["study_a"]["codecs"]):
        need_codec(f"study_a.codecs[{i}]", name)
    for i, name in enumerate(config["study_labelling"]["codecs"]):
        need_codec(f"study_labelling.codecs[{i}]", name)
    for i, row in enumerate(config["study_b"]["rows"]):
        need_codec(f"study_b.rows[{i}].codec", row["codec"])
    for i, name in enumerate(config["study_b"]["extra_codecs"]):
        need_codec(f"study_b.extra_codecs[{i}]", name)
    need_codec("study_b.reference_codec", config["study_b"]["reference_codec"])
    need_codec("study_b.distilled_codec", config["study_b"]["distilled_codec"])
    studied = {
        *config["study_a"]["codecs"],
        *config["study_labelling"]["codecs"],
        *config["study_swap"]["codecs"],
        *packet_loss.codecs(config),
        *study_b_codecs(config),
    }
    for name, options in config["codecs"].items():
        if options["adapter"] == EXTERNAL_ADAPTER:
            if not isinstance(options.get("rules"), str):
                errors.append(f"codecs.{name}.rules: an external codec needs the path of its rule file")
        elif options["adapter"] == POSTHOC_ADAPTER and name in configured:
            errors.append(
                f"codecs.{name}.adapter: {POSTHOC_ADAPTER!r} codecs are derived by study_swap (named "
                "<base>~<quantizer><bits>), not configured"
            )
        elif options["adapter"] not in ADAPTERS:
            errors.append(
                f"codecs.{name}.adapter: unknown adapter {options['adapter']!r}; known: {sorted(ADAPTERS)}"
            )
        else:
            try:
                static_layout(options["adapter"], options)
            except ModelNotCachedError as exc:
                # offline and not downloaded: an error only for a codec that some study runs
                if name in studied:
                    errors.append(f"codecs.{name}.{exc}")
            except ValueError as exc:
                errors.append(f"codecs.{name}.{exc}")
    for i, name in enumerate(packet_loss.codecs(config)):
        need_codec(f"study_packet_loss.codecs[{i}]", name)
    try:
        study_a_conditions(config)  # every P_flip, its overrides' included, must spell a path name
    except ValueError as exc:
        errors.append(f"study_a.channels: {exc}")
    errors += labelling_errors(config)
    errors += packet_loss_errors(config)
    errors += out_of_range_errors(config)
    errors += capability_errors(config)
    errors += metric_errors(config)
    errors += dataset_errors(config)
    errors += fit_errors(config)
    return errors


def swap_errors(config: Mapping[str, Any]) -> list[str]:
    """The quantizer swap's needs, before any codec is derived: latent access for each base codec, every
    budget splittable as asked (native codebooks, fixed FSQ levels, RVQ stages), a fit set that is not
    the evaluation set unless allowed. (Fewer fit frames than k-means entries is found when the fit set's
    latents exist: the fit job names the codec and ``fit.utterances``.)"""
    from nacbench import swap
    from nacbench.posthoc import MAX_COMPONENT_BITS

    study, errors = config["study_swap"], []
    if study["codecs"] and swap.in_sample(config) and not study["allow_in_sample"]:
        errors.append(
            f"fit.dataset: {config['fit']['dataset']!r} is study_a.dataset, so the quantizer swap would fit "
            "its quantizers on the evaluation set; choose another fit dataset, or set "
            "study_swap.allow_in_sample: true (every swap artifact then says in-sample)"
        )
    for name in study.get("overrides") or {}:  # applies while the codec is in study_swap.codecs
        if name not in config["codecs"]:
            errors.append(
                f"study_swap.overrides.{name}: unknown codec; defined under codecs: {sorted(config['codecs'])}"
            )
    fsq = swap.fsq_settings(config)
    sweep = (study.get("rate_sweep") or {}).get("bits", [])
    margins = breakdown_margins(config)
    if study["codecs"] and sweep and swap.HEADLINE_METRIC not in margins:
        errors.append(
            f"study_swap.rate_sweep: its break-down is of {swap.HEADLINE_METRIC!r}, which needs a margin in "
            f"study_labelling.breakdown_margin (given for {sorted(margins)})"
        )
    for i, base in enumerate(study["codecs"]):
        options, field = config["codecs"][base], f"study_swap.codecs[{i}]"
        if options["adapter"] == EXTERNAL_ADAPTER:
            errors.append(
                f"{field}: codec {base!r} is external (a rule file): the quantizer swap needs latent access"
            )
            continue
        layout = _layout(config, base)
        if layout is None:
            continue  # reported under codecs.<name>
        missing = [
            c.value
            for c in (Capability.ENCODE_LATENT, Capability.DECODE_LATENT)
            if c not in layout.capabilities
        ]
        if missing:
            errors.append(
                f"{field}: codec {base!r} (adapter {options['adapter']}) does not provide {missing}: the "
                "quantizer swap needs latent access (encode_latent and decode_latent)"
            )
            continue
        native = swap.native_bits(config, base)
        rate = swap.rate_option(options["adapter"])
        swept = sweep if rate is not None else []  # the rate sweep is for codecs with a variable rate
        latent_dim = ADAPTERS[options["adapter"]].latent_dim
        for where, budgets in (
            ("study_swap.bits", [native, *study["bits"]]),
            ("study_swap.rate_sweep.bits", swept),
        ):
            for bits in budgets:
                if bits != native and rate is not None and (bits % rate[1] or bits // rate[1] > rate[2]):
                    errors.append(
                        f"{where}: {bits} bits per frame is no whole number of {base!r}'s {rate[0]} "
                        f"({rate[1]} bits each, at most {rate[2]}), so its native quantizer cannot run at it"
                    )
                if latent_dim and "fsq" in study["quantizers"]:
                    per = (
                        MAX_COMPONENT_BITS
                        if fsq["allocation"] == "water-filling"
                        else fsq["bits_per_component"]
                    )
                    if bits > latent_dim * per:
                        errors.append(
                            f"{where}: {bits} bits per frame do not fit {base!r}'s {latent_dim}-d latent with "
                            f"post-hoc FSQ ({fsq['allocation']}: at most {latent_dim * per} bits)"
                        )
                if (
                    "fsq" in study["quantizers"]
                    and fsq["allocation"] == "fixed"
                    and bits % fsq["bits_per_component"]
                ):
                    errors.append(
                        f"{where}: {bits} bits per frame cannot be split into components of "
                        f"study_swap.fsq.bits_per_component = {fsq['bits_per_component']} bits (codec {base!r})"
                    )
                if "rvq" in study["quantizers"]:
                    stage = swap.rvq_stage_bits(config, swap.SwapCodec(base, int(bits), "rvq", native))
                    if bits % stage:
                        errors.append(
                            f"{where}: {bits} bits per frame cannot be split into RVQ stages of {stage} bits "
                            f"(codec {base!r}; set study_swap.rvq.bits_per_stage)"
                        )
    return errors


def dataset_errors(config: Mapping[str, Any]) -> list[str]:
    """Each dataset section against its reader's registry entry, and what the studies need of it.

    The reader must exist, take the options given (a misspelt one is not silently ignored), have its
    required options, and have a ``root`` when it cannot download. Study B scores WER against the
    transcripts, so its dataset's reader must be able to provide them (Study A needs no text, unless a
    configured metric does).
    """
    from nacbench.data.readers import READERS
    from nacbench.metrics import METRICS, Need

    errors = []
    for name, ds in config["data"].items():
        reader = READERS.get(ds["reader"])
        if reader is None:
            errors.append(f"data.{name}.reader: unknown reader {ds['reader']!r}; known: {sorted(READERS)}")
        else:
            errors += reader.config_errors(ds, f"data.{name}")
    text_metrics = [m for m in config["metrics"] if m in METRICS and Need.TRANSCRIPT in METRICS[m].needs]
    # field -> (dataset, what needs its text)
    needs_text = {"study_b.dataset": (config["study_b"]["dataset"], "Study B (WER/CER)")}
    if text_metrics:
        needs_text["study_a.dataset"] = (config["study_a"]["dataset"], f"the metrics {text_metrics}")
    for field, (dataset, purpose) in needs_text.items():
        reader = READERS.get(config["data"].get(dataset, {}).get("reader", ""))
        if reader is not None and not reader.provides_transcripts:
            errors.append(
                f"{field}: dataset {dataset!r} uses the {reader.name} reader, which provides no "
                f"transcripts, but {purpose} needs them"
            )
    return errors


def metric_errors(config: Mapping[str, Any]) -> list[str]:
    """Metrics that are not registered, or whose settings cannot give a meaningful score.

    Each registered metric checks its own parameters (:meth:`nacbench.metrics.Metric.param_errors`) at
    the rate every score is computed at, e.g. mel-MSE's ``f_min >= f_max`` (which would score every
    utterance a fake perfect 0.0) or ``win_length > n_fft`` (which would fail every utterance after all
    decoding is done).
    """
    from nacbench.audio import SCORING_RATE
    from nacbench.metrics import METRICS

    errors = []
    for name, params in config["metrics"].items():
        if name not in METRICS:
            errors.append(f"metrics.{name}: unknown metric; registered: {sorted(METRICS)}")
            continue
        for param, problem in METRICS[name].param_errors(params or {}, SCORING_RATE):
            errors.append(f"metrics.{name}.{param}: {problem}")
    transcribed = {"wer"} if config["study_a"].get("wer_utterances") else set()
    for name in breakdown_margins(config):
        if name not in config["metrics"] and name not in transcribed:
            errors.append(
                f"study_labelling.breakdown_margin.{name}: not a scored metric; scored: "
                f"{sorted({*config['metrics'], *transcribed})} (`{name}: null` drops it)"
            )
    return errors


def packet_loss_errors(config: Mapping[str, Any]) -> list[str]:
    """What the packet-loss study and the bit-error studies cannot do, before any job runs: codecs
    refused under bit errors (entropy-coded packets, :attr:`StaticLayout.bit_errors`), codecs the study
    cannot conceal for (external ones; ``mean-latent`` without latent access), loss conditions the models
    cannot realise (a FER too high for its burst length, numbers a path cannot spell), pattern files
    that do not read (named with the byte offset or line), and the study's own metrics."""
    from nacbench.audio import SCORING_RATE
    from nacbench.erasure import PatternError, read_pattern
    from nacbench.metrics import METRICS

    errors: list[str] = []
    bit_error_studies = {
        "study_a.codecs": config["study_a"]["codecs"],
        "study_labelling.codecs": config["study_labelling"]["codecs"],
        "study_swap.codecs": config["study_swap"]["codecs"],
    }
    for field, names in bit_error_studies.items():
        for i, codec in enumerate(names):
            layout = _layout(config, codec)
            if layout is not None and not layout.bit_errors:
                errors.append(
                    f"{field}[{i}]: codec {codec!r} cannot go through bit errors: its packets are entropy "
                    "coded, so a flipped bit loses the whole packet; study it under packet loss "
                    "(study_packet_loss) instead"
                )
    study = packet_loss.study(config)
    if not study.get("codecs"):
        return errors
    for i, codec in enumerate(study["codecs"]):
        options = config["codecs"].get(codec)
        if options is not None and options["adapter"] == EXTERNAL_ADAPTER:
            errors.append(
                f"study_packet_loss.codecs[{i}]: codec {codec!r} is external (a rule file): concealment "
                "happens in the decode stage, which needs a Python adapter"
            )
    # an override of a codec the study does not run is kept, not an error: an overlay that narrows the
    # codec list should not have to restate the overrides
    for i, codec in enumerate(study["codecs"]):
        layout = _layout(config, codec)
        if layout is None or Capability.CONCEAL in layout.capabilities:
            continue  # reported elsewhere, or the codec conceals in its own decoder
        concealments = packet_loss.concealments_of(config, False, codec)
        if LATENT_CONCEALMENT in concealments and not conceals_in_latent(layout.capabilities):
            errors.append(
                f"study_packet_loss.codecs[{i}]: codec {codec!r} cannot take {LATENT_CONCEALMENT!r} "
                "concealment (it needs the codec's latent: encode_latent, decode_latent, and quantizer_output "
                f"or codeword_vectors); give it study_packet_loss.overrides.{codec}.concealments without it"
            )
    for codec in [None, *(c for c in study.get("overrides") or {} if c in study["codecs"])]:
        where = "study_packet_loss" + (f".overrides.{codec}" if codec else "")
        concealments = packet_loss.settings_of(config, codec).get("concealments", ["repeat"])
        for concealment in concealments:
            try:
                packet_loss.loss_specs(config, concealment, codec)
            except ValueError as exc:
                errors.append(f"{where}: {exc}")
                break
    for name, path in (study.get("patterns") or {}).items():
        try:
            read_pattern(path)
        except PatternError as exc:
            errors.append(f"study_packet_loss.patterns.{name}: {exc}")
    for name, params in (study.get("metrics") or {}).items():
        if name not in METRICS:
            errors.append(f"study_packet_loss.metrics.{name}: unknown metric; registered: {sorted(METRICS)}")
        else:
            problems = METRICS[name].param_errors(params or {}, SCORING_RATE)
            errors += [f"study_packet_loss.metrics.{name}.{k}: {v}" for k, v in problems]
    scored = {*config["metrics"], *(study.get("metrics") or {})} | (
        {"wer"} if study.get("wer_utterances") else set()
    )
    for name, margin in (study.get("breakdown_margin") or {}).items():
        if margin is not None and name not in scored:
            errors.append(
                f"study_packet_loss.breakdown_margin.{name}: not scored in the study; scored: {sorted(scored)} "
                f"(`{name}: null` drops it)"
            )
    return errors


def fit_errors(config: Mapping[str, Any]) -> list[str]:
    """A fit set larger than its dataset can ever be (known before any job runs; the manifest is checked
    again when usage is counted)."""
    fit = config["fit"]
    ds = config["data"].get(fit["dataset"])
    if ds is None:
        return []  # reported by the name checks
    from nacbench.data.readers import READERS

    limits = [int(ds["max_utterances"])] if ds.get("max_utterances") else []
    reader = READERS.get(ds["reader"])
    capacity = reader.capacity(ds) if reader is not None else None
    if capacity is not None:
        limits.append(capacity)
    if limits and int(fit["utterances"]) > min(limits):
        return [
            f"fit.utterances: {fit['utterances']} asked for, but data.{fit['dataset']} holds at most "
            f"{min(limits)} utterances"
        ]
    return []


def labelling_errors(config: Mapping[str, Any]) -> list[str]:
    """Labellings that cannot apply to a codec of the labelling study, found before any job runs."""
    from nacbench.labelling import LabellingError, check_labelling_fits

    errors = []
    for codec in config["study_labelling"]["codecs"]:
        layout = _layout(config, codec)
        if layout is None:
            continue  # reported by the name, adapter and capability checks
        for labelling in config["study_labelling"]["labellings"]:
            try:
                check_labelling_fits(
                    labelling, layout.codebook_sizes, layout.fsq_levels, layout.has_codeword_vectors, codec
                )
            except LabellingError as exc:
                errors.append(
                    f"study_labelling.labellings: {labelling!r} does not fit codec {codec!r}: {exc}"
                )
    return errors


def out_of_range_errors(config: Mapping[str, Any]) -> list[str]:
    """Codebooks that are not a power of two while ``study_a.out_of_range`` is ``error``.

    Such a codebook leaves bit patterns that name no entry (an FSQ X-Codec2 with levels [5, 5, 5]: 7 bits
    for 125 entries), and a flipped bit reaches them; the channel's ``error`` policy then stops the
    job at the first one (with P_flip up to 0.5, every job). Such codecs are allowed, with ``clamp`` or
    ``wrap``: this finds the conflict before any job runs, for every codec a study sends through the
    channel.
    """
    if config["study_a"]["out_of_range"] != "error":
        return []
    sb, names = config["study_b"], []
    names += (
        config["study_a"]["codecs"] + config["study_labelling"]["codecs"] + config["study_swap"]["codecs"]
    )
    names += [row["codec"] for row in sb["rows"]] + [sb["reference_codec"], sb["distilled_codec"]]
    names += sb["extra_codecs"]
    errors = []
    for codec in dict.fromkeys(n for n in names if n):
        layout = _layout(config, codec)
        if layout is None or layout.fitted:
            continue  # reported elsewhere, or fitted (post-hoc codebooks are powers of two)
        odd = sorted({int(s) for s in layout.codebook_sizes if int(s) & (int(s) - 1)})
        if odd:
            errors.append(
                f"study_a.out_of_range: 'error' stops the channel at the first received index outside a "
                f"codebook of codec {codec!r}, whose codebooks of {odd} entries are not powers of two (bit "
                "patterns that name no entry); set it to 'clamp' or 'wrap'"
            )
    return errors


def _layout(config: Mapping[str, Any], codec: str) -> StaticLayout | None:
    """The static layout of a configured codec; None when it has none (unknown, external, bad options)."""
    options = config["codecs"].get(codec)
    if options is None or options["adapter"] not in ADAPTERS:
        return None
    try:
        return static_layout(options["adapter"], options)
    except ValueError:
        return None  # reported under codecs.<name>


def capability_errors(config: Mapping[str, Any]) -> list[str]:
    """Studies that need an optional adapter capability a codec lacks, as far as the static table knows.

    The labelling study writes every codec's codewords and usage through its Python adapter, and the
    Study B code analysis projects codes through the reference codec's ``quantizer_output`` on FSQ
    levels. (Distortion-aware labelling's need for codeword vectors is checked per labelling, with the
    labelling's own reason, by :func:`labelling_errors`.)
    """
    errors = []

    def need(
        field: str, codec: str | None, capability: Capability | None, purpose: str
    ) -> StaticLayout | None:
        options = config["codecs"].get(codec) if codec else None
        if not codec or options is None:
            return None  # no codec, or an unknown one (reported by the name checks)
        if options["adapter"] == EXTERNAL_ADAPTER:
            errors.append(
                f"{field}: codec {codec!r} is external (a rule file): {purpose} needs a Python adapter"
            )
            return None
        layout = _layout(config, codec)
        if layout is not None and capability is not None and capability not in layout.capabilities:
            errors.append(
                f"{field}: codec {codec!r} (adapter {options['adapter']}) does not provide "
                f"{capability.value!r}, which {purpose} needs"
            )
        return layout

    for i, codec in enumerate(config["study_labelling"]["codecs"]):
        need(f"study_labelling.codecs[{i}]", codec, None, "the labelling study")
    sb = config["study_b"]
    if sb["reference_codec"] and sb["distilled_codec"]:
        layout = need(
            "study_b.reference_codec", sb["reference_codec"], Capability.QUANTIZER_OUTPUT, "the code analysis"
        )
        if layout is not None and layout.fsq_levels is None:
            errors.append(
                f"study_b.reference_codec: codec {sb['reference_codec']!r} has no FSQ levels; the code "
                "analysis compares FSQ levels"
            )
        need("study_b.distilled_codec", sb["distilled_codec"], None, "the code analysis")
    return errors


def external_codecs(config: Mapping[str, Any]) -> list[str]:
    """Codecs that live outside the Python environment (``adapter: external``): their own rule files
    write their artifacts, so the adapter rules must not match them."""
    return [name for name, o in config["codecs"].items() if o["adapter"] == EXTERNAL_ADAPTER]


def external_rule_files(config: Mapping[str, Any]) -> list[str]:
    """Rule files of the :func:`external_codecs`."""
    return [config["codecs"][name]["rules"] for name in external_codecs(config)]


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise ConfigError listing every problem (schema first, then cross-field checks)."""
    errors = schema_errors(config)
    if not errors:
        errors = cross_field_errors(config)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))

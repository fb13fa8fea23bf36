"""Start-up validation of the pipeline configuration.

The JSON Schema (``src/nacbench/schemas/config.schema.yaml``, package data) checks types and ranges; the
cross-field checks here need to know several sections at once (a codec named in a study must be defined,
a labelling must fit its codec). Every message names the offending field, so a typo stops the run before
any job starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nacbench.codecs import ADAPTER_MODULES, EXTERNAL_ADAPTER, static_layout

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
    codecs = set(config["codecs"])
    datasets = set(config["data"])

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
    for name, options in config["codecs"].items():
        if options["adapter"] == EXTERNAL_ADAPTER:
            if not isinstance(options.get("rules"), str):
                errors.append(f"codecs.{name}.rules: an external codec needs the path of its rule file")
        elif options["adapter"] not in ADAPTER_MODULES:
            errors.append(
                f"codecs.{name}.adapter: unknown adapter {options['adapter']!r}; known: {sorted(ADAPTER_MODULES)}"
            )
    errors += labelling_errors(config)
    for name, ds in config["data"].items():
        if ds["reader"] == "cmu_arctic" and not ds.get("speakers"):
            errors.append(f"data.{name}.speakers: required for the cmu_arctic reader")
    errors += fit_errors(config)
    return errors


def fit_errors(config: Mapping[str, Any]) -> list[str]:
    """A fit set larger than its dataset can ever be (known before any job runs; the manifest is checked
    again when usage is counted)."""
    fit = config["fit"]
    ds = config["data"].get(fit["dataset"])
    if ds is None:
        return []  # reported by the name checks
    limits = [int(ds["max_utterances"])] if ds.get("max_utterances") else []
    if ds["reader"] == "cmu_arctic" and ds.get("speakers"):
        limits.append(len(ds["speakers"]) * int(ds.get("utterances_per_speaker", 100)))
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
        options = config["codecs"].get(codec)
        if options is None or options["adapter"] not in ADAPTER_MODULES:
            continue  # reported by the name checks
        layout = static_layout(options["adapter"], options)
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


def external_rule_files(config: Mapping[str, Any]) -> list[str]:
    """Rule files of codecs that live outside the Python environment (``adapter: external``)."""
    return [o["rules"] for o in config["codecs"].values() if o["adapter"] == EXTERNAL_ADAPTER]


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise ConfigError listing every problem (schema first, then cross-field checks)."""
    errors = schema_errors(config)
    if not errors:
        errors = cross_field_errors(config)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))

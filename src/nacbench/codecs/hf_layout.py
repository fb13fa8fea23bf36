"""The code layout of a Transformers codec, from its config, without importing torch.

The ``transformers`` adapter (:mod:`nacbench.codecs.hf`) runs any audio codec family that Transformers
ships and this module describes (:data:`FAMILIES`: Mimi, X-Codec2, DAC, EnCodec and NeuCodec). A family
entry names the config and model classes and *which config fields* hold the code layout (codebook size
and count for an RVQ, the levels for an FSQ); the values themselves always come from a config: the built
model's config object in the adapter, and here, for config validation, the config the model will be
built from. A family whose config does not store its codebook count computes it from the fields that
do (EnCodec: from its largest target bandwidth, :func:`encodec_codebook_count`), the same rule its
config class applies.

Why not import the config class here. Config validation runs at every workflow start and must stay
fast, without torch (``ADAPTERS`` layouts never import it). Every Transformers config module imports
torch through ``transformers.modeling_rope_utils`` (measured: ``import
transformers.models.mimi.configuration_mimi`` takes 2.5 s and loads torch). So the static layout is
read from the same sources the build will use, as plain data:

- ``random_weights: true``: the family's default config (``<Family>Config()``) plus
  ``config_overrides``. The defaults are the class-level field defaults of the config class, read from
  its source file with :mod:`ast` (the file is located with ``importlib.util.find_spec("transformers")``,
  which imports nothing). tests/test_codec_transformers.py checks them against the imported class. A
  field without a literal default there (a future Transformers computing it) falls back to importing the
  class: slow, never wrong.
- a local folder: its ``config.json`` (fields it leaves out take the class defaults, as
  ``from_pretrained`` does).
- a hub id: its ``config.json`` in the Hugging Face cache at its pinned commit (``revision``, else the
  default pin or the lock file's: :mod:`nacbench.codecs.revisions`) once it has been downloaded;
  before that, the ``family`` option's defaults, and the build checks that the downloaded config gives
  the same layout (:func:`check_same_layout`). Offline (``HF_HUB_OFFLINE``), a
  hub id that is not in the cache stops validation, naming where to put it.

A Transformers older than :data:`MIN_TRANSFORMERS` (whose Mimi has another structure, and which has no
X-Codec2) is refused by name, from its installed metadata.

Errors: :class:`NotAnAudioCodecError` for a config whose ``model_type`` is no family here,
:class:`CodecLayoutError` for a layout that cannot be read; both are ``ValueError`` s whose message starts
with the option at fault (``model: ...``), so config validation reports them as ``codecs.<name>.model``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import importlib.util
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nacbench.codecs.base import Capability
from nacbench.codecs.revisions import (
    HubRevisionMismatchError,
    HubRevisionMissingError,
    check_cached,
    check_revision,
    download_command,
    hub_pin,
)
from nacbench.codecs.weights import hf_cache_dir, hub_offline

#: what every family's adapter provides: codeword vectors (labelling), the encoder's modules (encRTF),
#: the latent the quantizer consumes and the decoder on it (quantizer swap)
FAMILY_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.CODEWORD_VECTORS,
        Capability.ENCODER_MODULES,
        Capability.ENCODE_LATENT,
        Capability.DECODE_LATENT,
    }
)


#: the Transformers release the adapter is written and tested against: Mimi split into encoder and
#: decoder halves (``MimiModel.encoder(...).latents``) and X-Codec2 arrived in the 5.x series
MIN_TRANSFORMERS: tuple[int, int] = (5, 24)


class CodecLayoutError(ValueError):
    """A Transformers model whose code layout cannot be read from its config; the message starts with
    the option at fault."""


class NotAnAudioCodecError(CodecLayoutError):
    """A Transformers model whose config names no audio codec family the adapter reads."""


class ModelNotCachedError(CodecLayoutError):
    """Offline (``HF_HUB_OFFLINE``), a hub model that is not in the Hugging Face cache; the message says
    where to put it (the build raises it as a ``WeightsUnavailableError``)."""


@dataclass(frozen=True)
class Family:
    """One audio codec family of Transformers: its classes and the config fields of its code layout."""

    #: the config's ``model_type`` (also the ``family`` option's value)
    model_type: str
    display_name: str
    #: attribute names in ``transformers`` (``transformers.MimiConfig`` ...)
    config_class: str
    model_class: str
    #: the config class's source file, relative to ``transformers/models``
    config_file: str
    quantizer: Literal["rvq", "fsq"]
    #: RVQ: the fields of the codebook size, of the model's number of codebooks, and of the number a
    #: code must keep at least (Mimi's semantic codebooks); FSQ: the field of the levels
    codebook_size_field: str | None = None
    count_field: str | None = None
    min_count_field: str | None = None
    levels_field: str | None = None
    #: a config that stores no codebook count (EnCodec: a property of its config class): the fields
    #: it is computed from and the rule (``count_field`` then only names it in messages)
    count_inputs: tuple[str, ...] = ()
    count_rule: Callable[[Mapping[str, Any]], int] | None = None

    @property
    def layout_fields(self) -> tuple[str, ...]:
        count = self.count_inputs if self.count_rule is not None else (self.count_field,)
        fields = (self.codebook_size_field, *count, self.min_count_field, self.levels_field)
        return tuple(f for f in fields if f is not None)


def encodec_codebook_count(fields: Mapping[str, Any]) -> int:
    """EnCodec's number of codebooks, as ``EncodecConfig.num_quantizers`` computes it (Transformers 5.24):
    ``1000 * max bandwidth // (frame rate * bits per code)``, the frame rate ``ceil(rate / hop)`` and the
    bits ``ceil(log2(codebook_size))``; the 24 kHz model: 24 kbps at 75 frames/s x 10 bits = 32."""
    bandwidths, rate = fields["target_bandwidths"], fields["sampling_rate"]
    ratios, size = fields["upsampling_ratios"], fields["codebook_size"]
    if not isinstance(bandwidths, list | tuple) or not bandwidths or not isinstance(ratios, list | tuple):
        raise CodecLayoutError(
            f"model: target_bandwidths / upsampling_ratios are no lists: {bandwidths!r}, {ratios!r}"
        )
    frame_rate = math.ceil(int(rate) / math.prod(int(r) for r in ratios))
    return int(1000 * float(bandwidths[-1]) // (frame_rate * math.ceil(math.log2(int(size)))))


#: the families the adapter runs, by ``model_type``; a family is added here and in nacbench.codecs.hf
FAMILIES: dict[str, Family] = {
    family.model_type: family
    for family in (
        Family(
            "mimi",
            "Mimi",
            "MimiConfig",
            "MimiModel",
            "mimi/configuration_mimi.py",
            "rvq",
            codebook_size_field="codebook_size",
            count_field="num_quantizers",
            min_count_field="num_semantic_quantizers",
        ),
        Family(
            "xcodec2",
            "X-Codec2",
            "Xcodec2Config",
            "Xcodec2Model",
            "xcodec2/configuration_xcodec2.py",
            "fsq",
            levels_field="quantization_levels",
        ),
        Family(
            "dac",
            "DAC",
            "DacConfig",
            "DacModel",
            "dac/configuration_dac.py",
            "rvq",
            codebook_size_field="codebook_size",
            count_field="n_codebooks",
        ),
        Family(
            "encodec",
            "EnCodec",
            "EncodecConfig",
            "EncodecModel",
            "encodec/configuration_encodec.py",
            "rvq",
            codebook_size_field="codebook_size",
            count_field="num_quantizers",
            count_inputs=("target_bandwidths", "sampling_rate", "upsampling_ratios"),
            count_rule=encodec_codebook_count,
        ),
        Family(
            "neucodec",
            "NeuCodec",
            "NeuCodecConfig",
            "NeuCodecModel",
            "neucodec/configuration_neucodec.py",
            "fsq",
            levels_field="quantization_levels",
        ),
    )
}


@dataclass(frozen=True)
class CodeLayout:
    """The code layout a config gives, with the number of codebooks the model has (RVQ)."""

    family: Family
    codebook_sizes: tuple[int, ...]
    fsq_levels: tuple[int, ...] | None
    model_codebooks: int


def family_named(value: Any, option: str = "family") -> Family:
    """The family called ``value``; else a ValueError naming ``option`` and the known families."""
    if value not in FAMILIES:
        raise NotAnAudioCodecError(
            f"{option}: {value!r} is no audio codec family the transformers adapter reads; known: "
            f"{sorted(FAMILIES)}"
        )
    return FAMILIES[value]


def _positive_int(value: Any, what: str, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CodecLayoutError(f"{option}: {what} must be a positive integer, got {value!r}")
    return value


def read_layout(
    family: Family, fields: Mapping[str, Any], n_quantizers: Any, source: str, prefix: str = ""
) -> CodeLayout:
    """The code layout that config ``fields`` (a config.json's mapping, or a config object's attributes
    as one) give, with ``n_quantizers`` codebooks for an RVQ family (None: all the model has).

    ``source`` says where the fields came from (for the message); ``prefix`` goes before the option
    names (``codecs.<name>.`` in a build, nothing in config validation, which adds it). Raises
    :class:`CodecLayoutError` for a field that is missing or malformed, ValueError naming
    ``n_quantizers`` for a count the model cannot give.
    """
    missing = [f for f in family.layout_fields if fields.get(f) is None]
    if missing:
        raise CodecLayoutError(
            f"{prefix}model: cannot read the code layout of {source}: no {', '.join(missing)} in its config"
        )
    what = f"{family.display_name} ({source})"
    if family.quantizer == "fsq":
        if n_quantizers is not None:
            raise ValueError(
                f"{prefix}n_quantizers: {what} is an FSQ codec with one codebook; leave n_quantizers out"
            )
        assert family.levels_field is not None
        raw = fields[family.levels_field]
        if not isinstance(raw, list | tuple) or not raw:
            raise CodecLayoutError(
                f"{prefix}model: {family.levels_field} of {source} is not a list of levels: {raw!r}"
            )
        levels = tuple(
            _positive_int(v, f"every level of {family.levels_field}", f"{prefix}model") for v in raw
        )
        if any(v < 2 for v in levels):
            raise CodecLayoutError(f"{prefix}model: {source} has an FSQ level below 2: {list(levels)}")
        return CodeLayout(family, (math.prod(levels),), levels, 1)
    assert family.codebook_size_field is not None and family.count_field is not None
    size = _positive_int(fields[family.codebook_size_field], family.codebook_size_field, f"{prefix}model")
    raw_total = family.count_rule(fields) if family.count_rule is not None else fields[family.count_field]
    total = _positive_int(raw_total, family.count_field, f"{prefix}model")
    least = 1
    if family.min_count_field is not None:
        least = _positive_int(fields[family.min_count_field], family.min_count_field, f"{prefix}model")
    if size < 2:
        raise CodecLayoutError(f"{prefix}model: {source} has codebooks of {size} entry")
    count = total if n_quantizers is None else n_quantizers
    if isinstance(count, bool) or not isinstance(count, int) or not least <= count <= total:
        raise ValueError(
            f"{prefix}n_quantizers: {count!r} is not a codebook count {what} can give: it has {total} "
            f"codebooks and keeps at least {least}"
        )
    return CodeLayout(family, (size,) * count, None, total)


def check_same_layout(built: CodeLayout, static: CodeLayout, model: str, prefix: str) -> None:
    """Raise when the built model's config lays its codes out otherwise than config validation assumed
    (a hub model validated on its family's defaults before its config.json was in the cache)."""
    if (built.codebook_sizes, built.fsq_levels) != (static.codebook_sizes, static.fsq_levels):
        raise CodecLayoutError(
            f"{prefix}model: {model!r} lays its codes out as {_describe(built)}, but config validation took "
            f"{_describe(static)} from the family's defaults (its config.json was not in the Hugging Face "
            "cache then); start the run again: validation now reads the cached config.json"
        )


def _describe(layout: CodeLayout) -> str:
    if layout.fsq_levels is not None:
        return f"FSQ levels {list(layout.fsq_levels)}"
    return f"{len(layout.codebook_sizes)} codebooks of {layout.codebook_sizes[0]}"


# --- where the config comes from ------------------------------------------------------------------------


def is_local_folder(model: str) -> bool:
    """A ``model`` that names a folder (an existing one, or one written as a path) rather than a hub id."""
    path = Path(model).expanduser()
    return path.is_dir() or model.startswith(("/", ".", "~")) or model.count("/") > 1


def cached_config_file(repo_id: str, revision: str | None) -> Path | None:
    """``config.json`` of hub repo ``repo_id`` at ``revision`` in the Hugging Face cache, else None.

    Reads the cache's layout (``models--org--name/snapshots/<commit>/config.json``, branch names
    resolved through ``refs/``) through huggingface_hub, which imports no torch."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        repo_id, "config.json", cache_dir=str(hf_cache_dir()), revision=revision or "main"
    )
    return Path(found) if isinstance(found, str) else None


def read_config_file(path: Path, prefix: str = "") -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodecLayoutError(f"{prefix}model: cannot read {path} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise CodecLayoutError(f"{prefix}model: {path} is not a config (a JSON object)")
    return data


def family_of_config(data: Mapping[str, Any], source: str, prefix: str = "") -> Family:
    """The family a config.json's ``model_type`` names; :class:`NotAnAudioCodecError` otherwise."""
    model_type = data.get("model_type")
    if model_type not in FAMILIES:
        raise NotAnAudioCodecError(
            f"{prefix}model: {source} is a {model_type!r} model, not an audio codec the transformers "
            f"adapter reads (families: {sorted(FAMILIES)})"
        )
    return FAMILIES[str(model_type)]


def transformers_version() -> str:
    """The installed Transformers' version, from its metadata (nothing imported)."""
    try:
        return importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError as exc:
        raise CodecLayoutError("adapter: the transformers package is not installed") from exc


def check_transformers_version() -> None:
    """Refuse a Transformers older than :data:`MIN_TRANSFORMERS` by name (its Mimi has another structure
    and it has no X-Codec2), before any job runs."""
    version = transformers_version()
    if tuple(int(v) for v in re.findall(r"\d+", version)[:2]) < MIN_TRANSFORMERS:
        need = ".".join(map(str, MIN_TRANSFORMERS))
        raise CodecLayoutError(
            f"adapter: transformers {version} is installed; the transformers adapter needs >= {need} "
            f"(pip install 'transformers>={need}')"
        )


@functools.cache
def _transformers_models_dir() -> Path:
    spec = importlib.util.find_spec("transformers")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise CodecLayoutError("adapter: the transformers package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def _literal_defaults(source: str, class_name: str) -> dict[str, Any]:
    """The class-level fields of ``class_name`` in ``source`` whose default is a Python literal."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            found: dict[str, Any] = {}
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value:
                    target, value = item.target.id, item.value
                elif (
                    isinstance(item, ast.Assign)
                    and len(item.targets) == 1
                    and isinstance(item.targets[0], ast.Name)
                ):
                    target, value = item.targets[0].id, item.value
                else:
                    continue
                try:
                    found[target] = ast.literal_eval(value)
                except ValueError:  # not a literal (a call, a name): unknown here
                    continue
            return found
    return {}


@functools.cache
def family_defaults(model_type: str) -> dict[str, Any]:
    """The layout fields of ``<Family>Config()``: the config class's literal defaults, read from its
    source without importing it; the class itself (importing torch) only if a field has no literal."""
    family = FAMILIES[model_type]
    path = _transformers_models_dir() / family.config_file
    try:
        defaults = _literal_defaults(path.read_text(encoding="utf-8"), family.config_class)
    except (OSError, SyntaxError):
        defaults = {}
    fields = {f: defaults[f] for f in family.layout_fields if f in defaults}
    if len(fields) < len(family.layout_fields):
        try:
            config = getattr(importlib.import_module("transformers"), family.config_class)()
        except (ImportError, AttributeError) as exc:
            raise CodecLayoutError(
                f"family: transformers {transformers_version()} has no {family.config_class}"
            ) from exc
        fields = {f: getattr(config, f) for f in family.layout_fields}
    return fields


def _overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    overrides = options.get("config_overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"config_overrides: expected a mapping of config fields, got {overrides!r}")
    if overrides and not options.get("random_weights"):
        raise ValueError(
            "config_overrides: only with random_weights: true (a pretrained model's architecture is its "
            "checkpoint's config)"
        )
    return dict(overrides)


def static_code_layout(options: Mapping[str, Any]) -> CodeLayout:
    """The code layout a ``transformers`` codec entry will have, from its options alone (see the module
    doc for the sources); ValueError naming the option at fault."""
    check_transformers_version()
    random_weights = options.get("random_weights", False)
    if not isinstance(random_weights, bool):
        raise ValueError(f"random_weights: expected true or false, got {random_weights!r}")
    given = options.get("family")
    named = family_named(given) if given is not None else None
    model = options.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"model: expected a hub id or a folder, got {model!r}")
    revision = options.get("revision")
    floating = options.get("revision_floating", False)
    check_revision(revision, floating)  # a commit or "locked"; a branch or tag only when floating
    overrides = _overrides(options)
    n_quantizers = options.get("n_quantizers")
    if random_weights:
        if named is None:
            raise ValueError(
                f"family: random weights are built from a family's default config; name one of {sorted(FAMILIES)}"
            )
        fields = {**family_defaults(named.model_type), **overrides}
        return read_layout(named, fields, n_quantizers, f"{named.config_class}()")
    if not model:
        raise ValueError("model: a hub id or a local folder is needed (or random_weights: true)")
    data, source = _config_of(model, revision, floating)
    if data is None:
        if named is None:
            raise ValueError(
                f"family: {model!r} is not in the Hugging Face cache yet, so its config cannot be read "
                f"before the first download; name its family (one of {sorted(FAMILIES)})"
            )
        return read_layout(named, family_defaults(named.model_type), n_quantizers, f"{named.config_class}()")
    family = family_of_config(data, source)
    if named is not None and named is not family:
        raise ValueError(f"family: {given!r}, but {source} is a {family.model_type!r} model")
    return read_layout(family, {**family_defaults(family.model_type), **data}, n_quantizers, source)


def _config_of(model: str, revision: str | None, floating: bool = False) -> tuple[dict[str, Any] | None, str]:
    """(config.json's fields, where they are) for a folder or a cached hub model at its pinned revision
    (:mod:`nacbench.codecs.revisions`); (None, ...) for a hub model not downloaded yet (online).
    Offline, a hub model not in the cache at that revision is an error here."""
    if is_local_folder(model):
        folder = Path(model).expanduser()
        if revision is not None:
            raise ValueError(f"revision: {model!r} is a local folder; a revision applies to a hub id")
        if not (folder / "config.json").is_file():
            raise CodecLayoutError(f"model: {str(folder)!r} is not a folder holding a config.json")
        return read_config_file(folder / "config.json"), f"{folder / 'config.json'}"
    pin = hub_pin(model, revision, floating=bool(floating))
    path = cached_config_file(model, pin.revision)
    if path is not None:
        return read_config_file(path), f"{model!r} (revision {pin.revision})"
    if hub_offline():
        try:
            check_cached(pin)  # a different commit in the cache: its own error, saying how to fix it
        except HubRevisionMismatchError as exc:
            raise ModelNotCachedError(f"{exc}; or set model to a local folder holding config.json") from exc
        except HubRevisionMissingError:
            pass  # nothing of it cached: said below
        raise ModelNotCachedError(
            f"model: {model!r} (revision {pin.revision}) is not in the Hugging Face cache "
            f"{hf_cache_dir()} and HF_HUB_OFFLINE is set. Fill the cache on a machine with network "
            f"(`{download_command(model, pin.revision)}` with the same HF_HOME), or set model to a local "
            "folder holding config.json and the weights"
        )
    return None, repr(model)

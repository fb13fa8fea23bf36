"""Every results path, defined once, and one reader/writer per on-disk format.

Paths. Each artifact kind has one pattern in :data:`PATTERNS` (relative to the results folder) and one
function that fills it: ``channel_shard(results, codec, dataset, channel, shard)`` and so on. Each
function takes real values or Snakemake placeholders (``"{codec}"``), so the rule files build every
input and output pattern here and the stages, the report and the notebook helpers find the same files.
:func:`parse` is the inverse (a path back into its fields) and :func:`find` lists what a results folder
holds; nothing else in the package globs shard names or reads fields out of ``Path.parts``.
``logs/{rule}/...`` and ``benchmarks/{rule}/...`` carry a rule's wildcards in a rule-specific order;
:func:`parse_job_path` reads them back by what each part is (a configured codec or dataset, a channel
name, a shard).

Formats. Code shards (``codes/`` and ``channel/``) are ``.npz`` files that ``numpy.load`` alone opens:
``utt_ids`` [N] str; ``frames`` [N] int64; ``codes`` [n_codebooks, sum(frames)] int64 (utterances
concatenated along time, in ``utt_ids`` order); ``random_weights`` scalar bool; plus per-utterance
extras (a channel shard always has ``bits_sent``, ``bits_flipped``, ``out_of_range``, and records the
out-of-range policy and its channel name). Concatenating keeps the file compact and loads a shard in
one read, whatever its number of utterances. ``codewords.npz`` holds ``n_codebooks``, ``usage_{k}`` and,
when the codec has them, ``vectors_{k}``. Tables are parquet, records are JSON. Every writer writes a
temporary name and renames it, so an interrupted job never leaves a readable half file; every reader
of a binary format turns a damaged file into :class:`ArtifactError`, which names the file and says to
delete it and rerun.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from nacbench.conditions import CHANNEL_WILDCARD, CODEC_NAME, DATASET_NAME, LABELLING_WILDCARD, SHARD_NAME

__all__ = [
    "CHANNEL_EXTRAS",
    "FIGURE_FORMATS",
    "INPUT_GAIN_KEY",
    "MEAN_LATENT_KEY",
    "PATTERNS",
    "TABLE_FORMATS",
    "ArtifactError",
    "ArtifactPath",
    "CodeShard",
    "JobPath",
    "NpzReader",
    "analysis",
    "asr_reference",
    "asr_shard",
    "atomic_path",
    "benchmark_file",
    "channel_shard",
    "codec_info",
    "codes_shard",
    "codewords",
    "decoded_audio",
    "decoded_wav",
    "download_record",
    "download_root",
    "downloads_of",
    "enc_rtf",
    "expected_distortion",
    "figure",
    "find",
    "find_job_files",
    "fit_latents",
    "glob_escape",
    "is_temporary",
    "job_folder",
    "kept_skips",
    "labelling",
    "listen_dir",
    "listen_flac",
    "listened_utterances",
    "load_channel_counts",
    "load_codewords",
    "load_fit_set",
    "load_shard",
    "load_utterance_ids",
    "log_file",
    "manifest",
    "metrics_shard",
    "open_npz",
    "parse",
    "parse_job_path",
    "quantizer",
    "read_csv",
    "read_json",
    "read_parquet",
    "report_config",
    "report_page",
    "save_channel_shard",
    "save_codewords",
    "save_npz",
    "save_shard",
    "skipped",
    "startup_file",
    "table",
    "temporary",
    "tidy_scores",
    "tidy_scores_csv",
    "write_csv",
    "write_json",
    "write_parquet",
]

#: artifact kind -> its path relative to the results folder (``{field}`` = one path component)
PATTERNS: dict[str, str] = {
    "manifest": "data/{dataset}/manifest.tsv",
    "skipped": "data/{dataset}/skipped.tsv",
    "codec_info": "codes/{codec}/codec.json",
    "codes_shard": "codes/{codec}/{dataset}/{shard}.npz",
    "channel_shard": "channel/{codec}/{dataset}/{channel}/{shard}.npz",
    "codewords": "labelling/{codec}/codewords.npz",
    "labelling": "labelling/{codec}/{labelling}.npz",
    "expected_distortion": "labelling/{codec}/expected_distortion.csv",
    "fit_latents": "swap/{codec}/fit_latents.npz",
    "quantizer": "swap/{codec}/quantizer.npz",
    "decoded_audio": "audio/{codec}/{dataset}/{channel}/{shard}",
    "listen_dir": "listen/{codec}/{dataset}/{channel}/{shard}",
    "metrics_shard": "metrics/{codec}/{dataset}/{channel}/{shard}.parquet",
    "asr_reference": "asr/reference/{dataset}/{shard}.parquet",
    "asr_shard": "asr/{codec}/{dataset}/{channel}/{shard}.parquet",
    "tidy_scores": "tables/scores_{dataset}.parquet",
    "tidy_scores_csv": "tables/scores_{dataset}.csv.gz",
    "enc_rtf": "analysis/enc_rtf/{codec}.json",
    "analysis": "analysis/{name}",
    "table": "tables/{name}",
    "figure": "figures/{name}",
    "report_config": "report/config.yaml",
    "report_page": "report/headline.json",
}

#: what each field of a pattern may be (also the workflow's wildcard constraints, via nacbench.conditions)
_FIELDS: dict[str, str] = {
    "codec": CODEC_NAME,
    "dataset": DATASET_NAME,
    "shard": SHARD_NAME,
    "channel": CHANNEL_WILDCARD,
    "labelling": LABELLING_WILDCARD,
    # a table, figure or analysis file name (tables and figures: the stem their formats are added to)
    "name": r"[A-Za-z0-9][A-Za-z0-9_.-]*",
}
#: the formats every report table and figure is written in (``multiext`` of :func:`table` / :func:`figure`)
TABLE_FORMATS: tuple[str, ...] = (".csv", ".md", ".tex")
FIGURE_FORMATS: tuple[str, ...] = (".pdf", ".png")
#: per-utterance counts every channel shard carries
CHANNEL_EXTRAS: tuple[str, ...] = ("bits_sent", "bits_flipped", "out_of_range")
#: per-utterance extra of the codes and channel npz: the gain (dB) the adapter applied before encoding
#: (:meth:`CodecAdapter.input_gain_db`); the decode stage undoes it (absent = 0, e.g. external codecs)
INPUT_GAIN_KEY = "input_gain_db"
#: the fit-set latents' mean ``[dim]`` in :func:`fit_latents` (``mean-latent`` concealment reads only this)
MEAN_LATENT_KEY = "mean"

#: kinds that are folders (of decoded or listening audio), not files
_DIRECTORY_KINDS = frozenset({"decoded_audio", "listen_dir"})
_PLACEHOLDER = re.compile(r"^\{\w+\}$")
_FIELD = re.compile(r"\{(\w+)\}")
_CODE_KEYS = frozenset({"utt_ids", "frames", "codes", "random_weights"})


class ArtifactError(ValueError):
    """An artifact that cannot be read (truncated, corrupt or missing a field), or a bad path field."""


# ------------------------------------------------------------------------------------------------ paths


def _path(results: str | Path, kind: str, **fields: str) -> str:
    """Fill ``PATTERNS[kind]``; each value is a placeholder like ``"{codec}"`` or a valid field value."""
    for key, value in fields.items():
        text = str(value)
        if not _PLACEHOLDER.match(text) and not re.fullmatch(_FIELDS[key], text):
            raise ArtifactError(f"{kind}: {key} {text!r} is not a valid {key} name (pattern {_FIELDS[key]})")
    return f"{results}/{PATTERNS[kind].format(**{k: str(v) for k, v in fields.items()})}"


def manifest(results: str | Path, dataset: str) -> str:
    """``data/{dataset}/manifest.tsv``: the utterances of a dataset (:mod:`nacbench.data.manifest`)."""
    return _path(results, "manifest", dataset=dataset)


def skipped(results: str | Path, dataset: str) -> str:
    """``data/{dataset}/skipped.tsv``: the files a reader skipped, with the reason."""
    return _path(results, "skipped", dataset=dataset)


def download_root(downloads: str | Path, dataset: str) -> str:
    """Where a downloaded dataset is unpacked: ``{downloads}/{dataset}`` (outside the results folder)."""
    return f"{downloads}/{dataset}"


def download_record(downloads: str | Path, dataset: str) -> str:
    """The download stage's record of what it fetched: ``{downloads}/{dataset}/download.json``."""
    return f"{download_root(downloads, dataset)}/download.json"


def downloads_of(record: str | Path) -> str:
    """Inverse of :func:`download_record`: the downloads folder a record lies in."""
    p = Path(record)
    if p.name != "download.json":
        raise ArtifactError(f"{p}: not a download record ({{downloads}}/{{dataset}}/download.json)")
    return str(p.parent.parent)


def codec_info(results: str | Path, codec: str) -> str:
    """``codes/{codec}/codec.json``: the codec's :class:`nacbench.codecs.base.CodecInfo`."""
    return _path(results, "codec_info", codec=codec)


def codes_shard(results: str | Path, codec: str, dataset: str, shard: str) -> str:
    """``codes/{codec}/{dataset}/{shard}.npz``: the clean codes of one shard."""
    return _path(results, "codes_shard", codec=codec, dataset=dataset, shard=shard)


def channel_shard(results: str | Path, codec: str, dataset: str, channel: str, shard: str) -> str:
    """``channel/{codec}/{dataset}/{channel}/{shard}.npz``: the received codes and what the channel did."""
    return _path(results, "channel_shard", codec=codec, dataset=dataset, channel=channel, shard=shard)


def codewords(results: str | Path, codec: str) -> str:
    """``labelling/{codec}/codewords.npz``: codeword vectors and clean usage (:func:`save_codewords`)."""
    return _path(results, "codewords", codec=codec)


def labelling(results: str | Path, codec: str, labelling: str) -> str:
    """``labelling/{codec}/{labelling}.npz``: one index labelling (:class:`nacbench.labelling.Labelling`)."""
    return _path(results, "labelling", codec=codec, labelling=labelling)


def expected_distortion(results: str | Path, codec: str) -> str:
    """``labelling/{codec}/expected_distortion.csv``: expected jump per flipped bit, per labelling."""
    return _path(results, "expected_distortion", codec=codec)


def fit_latents(results: str | Path, codec: str) -> str:
    """``swap/{codec}/fit_latents.npz``: a base codec's latents of the fit set (the quantizer swap)."""
    return _path(results, "fit_latents", codec=codec)


def quantizer(results: str | Path, codec: str) -> str:
    """``swap/{codec}/quantizer.npz``: a swapped codec's post-hoc quantizer, fit settings and provenance
    in its ``meta`` (:mod:`nacbench.posthoc`)."""
    return _path(results, "quantizer", codec=codec)


def decoded_audio(results: str | Path, codec: str, dataset: str, channel: str, shard: str) -> str:
    """``audio/{codec}/{dataset}/{channel}/{shard}``: decoded wavs of one shard (temporary)."""
    return _path(results, "decoded_audio", codec=codec, dataset=dataset, channel=channel, shard=shard)


def listen_dir(results: str | Path, codec: str, dataset: str, channel: str, shard: str) -> str:
    """``listen/{codec}/{dataset}/{channel}/{shard}``: the kept listening subset of one shard."""
    return _path(results, "listen_dir", codec=codec, dataset=dataset, channel=channel, shard=shard)


def decoded_wav(audio_dir: str | Path, utt: str) -> Path:
    """One decoded utterance inside :func:`decoded_audio`: ``<utt>.wav``."""
    return Path(audio_dir) / f"{utt}.wav"


def listen_flac(listen: str | Path, utt: str) -> Path:
    """One kept listening copy inside :func:`listen_dir`: ``<utt>.flac``."""
    return Path(listen) / f"{utt}.flac"


def listened_utterances(listen: str | Path) -> list[str]:
    """The utterance ids kept for listening in one :func:`listen_dir` (sorted; none if it is absent)."""
    folder = Path(listen)
    return sorted(p.stem for p in folder.glob("*.flac")) if folder.is_dir() else []


def metrics_shard(results: str | Path, codec: str, dataset: str, channel: str, shard: str) -> str:
    """``metrics/{codec}/{dataset}/{channel}/{shard}.parquet``: per-utterance scores of one shard."""
    return _path(results, "metrics_shard", codec=codec, dataset=dataset, channel=channel, shard=shard)


def asr_shard(results: str | Path, codec: str, dataset: str, channel: str, shard: str) -> str:
    """``asr/{codec}/{dataset}/{channel}/{shard}.parquet``: transcripts of one decoded shard."""
    return _path(results, "asr_shard", codec=codec, dataset=dataset, channel=channel, shard=shard)


def asr_reference(results: str | Path, dataset: str, shard: str) -> str:
    """``asr/reference/{dataset}/{shard}.parquet``: transcripts of the original audio of one shard."""
    return _path(results, "asr_reference", dataset=dataset, shard=shard)


def tidy_scores(results: str | Path, dataset: str) -> str:
    """``tables/scores_{dataset}.parquet``: every scored utterance of a dataset, one row each."""
    return _path(results, "tidy_scores", dataset=dataset)


def tidy_scores_csv(results: str | Path, dataset: str) -> str:
    """``tables/scores_{dataset}.csv.gz``: the same table as compressed CSV."""
    return _path(results, "tidy_scores_csv", dataset=dataset)


def enc_rtf(results: str | Path, codec: str) -> str:
    """``analysis/enc_rtf/{codec}.json``: the encoder's real-time factor."""
    return _path(results, "enc_rtf", codec=codec)


def analysis(results: str | Path, name: str) -> str:
    """``analysis/{name}``: a statistic of the analysis stages (e.g. ``code_agreement.json``)."""
    return _path(results, "analysis", name=name)


def table(results: str | Path, name: str) -> str:
    """``tables/{name}``: a report table's stem; it is written in every one of :data:`TABLE_FORMATS`."""
    return _path(results, "table", name=name)


def figure(results: str | Path, name: str) -> str:
    """``figures/{name}``: a figure's stem; it is written in every one of :data:`FIGURE_FORMATS`."""
    return _path(results, "figure", name=name)


def report_config(results: str | Path) -> str:
    """``report/config.yaml``: the resolved config of the run."""
    return _path(results, "report_config")


def report_page(results: str | Path) -> str:
    """``report/headline.json``: the headline numbers the HTML report opens with."""
    return _path(results, "report_page")


def kept_skips(results: str | Path, dataset: str) -> str:
    """``logs/manifest/{dataset}.skipped.tsv``: a copy of ``skipped.tsv`` beside the data job's log,
    which survives a failed job (Snakemake removes a failed job's outputs, not its logs)."""
    return _job_path(results, "logs", "manifest", (dataset,), ".skipped.tsv")


def log_file(results: str | Path, rule: str, *wildcards: str) -> str:
    """``logs/{rule}/{wildcard}/.../{last}.log``: one job's log."""
    return _job_path(results, "logs", rule, wildcards, ".log")


def benchmark_file(results: str | Path, rule: str, *wildcards: str) -> str:
    """``benchmarks/{rule}/{wildcard}/.../{last}.tsv``: one job's Snakemake benchmark."""
    return _job_path(results, "benchmarks", rule, wildcards, ".tsv")


def startup_file(results: str | Path, rule: str, *wildcards: str) -> str:
    """``logs/{rule}/{wildcard}/.../{last}.startup.json``: one job's seconds by phase
    (:mod:`nacbench.startup`), beside its log."""
    return _job_path(results, "logs", rule, wildcards, ".startup.json")


#: the kinds of job file: the folder each lives in and its file ending
_JOB_FILES = {
    "logs": ("logs", ".log"),
    "benchmarks": ("benchmarks", ".tsv"),
    "startup": ("logs", ".startup.json"),
}
#: the file endings of job files in each job folder
_JOB_SUFFIX = {
    folder: tuple(s for f, s in _JOB_FILES.values() if f == folder) for folder, _ in _JOB_FILES.values()
}


def _job_path(results: str | Path, folder: str, rule: str, wildcards: Sequence[str], suffix: str) -> str:
    if not re.fullmatch(r"[A-Za-z_]\w*", rule):
        raise ArtifactError(f"{folder}: {rule!r} is not a rule name")
    if not wildcards:
        raise ArtifactError(f"{folder}/{rule}: a job path needs at least one wildcard value (or 'all')")
    return "/".join([str(results), folder, rule, *map(str, wildcards)]) + suffix


# ------------------------------------------------------------------------------------ parsing, finding


def _pattern_regex(kind: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", PATTERNS[kind])
    body = "".join(
        f"(?P<{p[1:-1]}>{_FIELDS[p[1:-1]]})" if _FIELD.fullmatch(p) else re.escape(p) for p in parts
    )
    return re.compile(rf"^{body}$")


_REGEXES: dict[str, re.Pattern[str]] = {kind: _pattern_regex(kind) for kind in PATTERNS}


@dataclass(frozen=True)
class ArtifactPath:
    """A results path read back into its kind and fields (``None`` where the kind has no such field)."""

    kind: str
    path: Path
    codec: str | None = None
    dataset: str | None = None
    channel: str | None = None
    shard: str | None = None
    labelling: str | None = None
    name: str | None = None


def parse(path: str | Path, results: str | Path | None = None) -> ArtifactPath:
    """Inverse of the path functions: which artifact ``path`` is, and its fields.

    ``path`` is taken relative to ``results`` when given, else the results folder is found as the part
    of the path before the first match. Raises :class:`ArtifactError` when no pattern matches.
    """
    p = Path(path)
    candidates: list[str]
    if results is not None:
        try:
            candidates = [p.relative_to(Path(results)).as_posix()]
        except ValueError:
            raise ArtifactError(f"{p}: not inside the results folder {results}") from None
    else:
        parts = p.as_posix().split("/")
        candidates = ["/".join(parts[i:]) for i in range(len(parts))]
    for rel in candidates:
        for kind, regex in _REGEXES.items():
            m = regex.match(rel)
            if m:
                return ArtifactPath(kind, p, **m.groupdict())
    raise ArtifactError(f"{p}: not a results artifact (known layouts: {sorted(set(PATTERNS.values()))})")


def is_temporary(path: str | Path) -> bool:
    """A writer's temporary file (see :func:`temporary`): never a finished artifact."""
    return ".tmp" in Path(path).name


def find(results: str | Path, kind: str, **fixed: str) -> tuple[list[ArtifactPath], list[Path]]:
    """The artifacts of ``kind`` under ``results`` (fields in ``fixed`` held to the given values).

    Returns (parsed artifacts, sorted by path; paths in the layout's place whose names are not valid
    field values, e.g. a folder renamed by hand). Temporary files of writers in progress are neither.
    """
    if kind not in PATTERNS:
        raise ArtifactError(f"unknown artifact kind {kind!r}; known: {sorted(PATTERNS)}")
    unknown = sorted(set(fixed) - set(_FIELD.findall(PATTERNS[kind])))
    if unknown:
        raise ArtifactError(f"{kind}: no field(s) {unknown} in {PATTERNS[kind]}")
    glob = _FIELD.sub(lambda m: glob_escape(fixed[m[1]]) if m[1] in fixed else "*", PATTERNS[kind])
    found, other = [], []
    for path in sorted(Path(results).glob(glob)):
        if is_temporary(path) or path.is_dir() != (kind in _DIRECTORY_KINDS):
            continue
        rel = path.relative_to(Path(results)).as_posix()
        m = _REGEXES[kind].match(rel)
        if m:
            found.append(ArtifactPath(kind, path, **m.groupdict()))
        else:
            other.append(path)
    return found, other


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@dataclass(frozen=True)
class JobPath:
    """What a log or benchmark path says about its job (``None`` where the rule has no such wildcard)."""

    folder: str  # "logs" or "benchmarks"
    rule: str
    codec: str | None = None
    dataset: str | None = None
    channel: str | None = None
    shard: str | None = None
    other: str | None = None  # any remaining wildcard, e.g. a labelling name or "all"


def job_folder(results: str | Path, kind: str) -> Path:
    """Where every job file of ``kind`` is: ``results/logs`` (logs and startup records) or
    ``results/benchmarks``."""
    if kind not in _JOB_FILES:
        raise ArtifactError(f"job files are {sorted(_JOB_FILES)}, not {kind!r}")
    return Path(results) / _JOB_FILES[kind][0]


def find_job_files(results: str | Path, kind: str) -> list[Path]:
    """Every job file of ``kind`` (logs, benchmarks, startup), sorted; read each with
    :func:`parse_job_path`."""
    root = job_folder(results, kind)  # refuses a kind that is no job file
    suffix = _JOB_FILES[kind][1]
    return sorted(p for p in root.rglob(f"*{suffix}") if p.is_file() and not is_temporary(p))


def parse_job_path(
    path: str | Path, results: str | Path, datasets: Sequence[str], codecs: Sequence[str]
) -> JobPath:
    """Read rule, codec, dataset, channel and shard from ``results/{logs|benchmarks}/{rule}/...``.

    The rule files write ``{rule}/[{codec}/][{dataset}/[{channel}/]{shard}]`` (:func:`log_file`,
    :func:`benchmark_file`). A part is recognised by what it is (a configured codec or dataset, a channel
    name, a shard) rather than by position, so rules with fewer wildcards (``manifest/{dataset}``,
    ``asr_reference/{dataset}/{shard}``, ``labelling/{codec}/{labelling}``) and external codecs' rule
    files that follow the same convention parse without a per-rule table.
    """
    p = Path(path)
    try:
        rel = p.relative_to(Path(results))
    except ValueError:
        raise ArtifactError(f"{p}: not inside the results folder {results}") from None
    parts = list(rel.parts)
    if len(parts) < 3 or parts[0] not in _JOB_SUFFIX:
        raise ArtifactError(f"{p}: expected {results}/logs|benchmarks/<rule>/.../<job>.log|.tsv")
    suffixes = sorted(_JOB_SUFFIX[parts[0]], key=len, reverse=True)  # ".startup.json" before ".log"
    suffix = next((s for s in suffixes if parts[-1].endswith(s)), None)
    if suffix is None:
        raise ArtifactError(f"{p}: a file under {parts[0]}/ ends in one of {suffixes}")
    parts[-1] = parts[-1][: -len(suffix)]
    folder, rule, rest = parts[0], parts[1], parts[2:]
    shard = rest.pop() if re.fullmatch(SHARD_NAME, rest[-1]) else None
    codec = rest.pop(0) if rest and rest[0] in codecs else None
    dataset = channel = None
    if rest and rest[0] in datasets:
        dataset = rest.pop(0)
        if rest and shard is not None and re.fullmatch(CHANNEL_WILDCARD, rest[0]):
            channel = rest.pop(0)
    if shard is not None and dataset is None:
        raise ArtifactError(f"{p}: shard {shard} without a configured dataset (known: {sorted(datasets)})")
    return JobPath(folder, rule, codec, dataset, channel, shard, "/".join(rest) or None)


# -------------------------------------------------------------------------------------- atomic writes


def temporary(path: str | Path) -> Path:
    """The name a writer writes ``path`` under before renaming it (keeps ``.npz``: numpy appends it)."""
    p = Path(path)
    return p.with_name(p.name + (".tmp.npz" if p.suffix == ".npz" else ".tmp"))


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary name next to ``path`` (:func:`temporary`); rename it to ``path`` when the block
    succeeds, so an interrupted writer never leaves a readable half file. Every artifact writer, in
    this module or outside it (tables, figures, manifests), writes through it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(target)
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _damaged(path: str | Path, what: str, exc: BaseException) -> ArtifactError:
    return ArtifactError(
        f"{path}: cannot read this {what} ({type(exc).__name__}: {exc}); it is truncated or corrupt "
        "(e.g. a job killed while writing, or a copy that failed). Delete it and rerun the workflow, "
        "which rebuilds it"
    )


# ---------------------------------------------------------------------------------------------- npz


@contextmanager
def open_npz(path: str | Path, what: str, required: Sequence[str] = ()) -> Iterator[NpzReader]:
    """``numpy.load`` of an ``.npz`` artifact that turns damage into :class:`ArtifactError`.

    The yielded mapping reads members lazily; a missing ``required`` member, a truncated archive or a
    member that fails to decompress names the file and says to delete it and rerun.
    """
    try:
        data = np.load(Path(path), allow_pickle=False)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise _damaged(path, what, exc) from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _damaged(path, what, ValueError("a single .npy array, not an .npz archive"))
    with data:
        missing = [k for k in required if k not in data.files]
        if missing:
            raise _damaged(path, what, KeyError(f"no member(s) {missing}; it has {sorted(data.files)}"))
        yield NpzReader(data, Path(path), what)


class NpzReader(Mapping[str, Any]):
    """Read access to an open ``NpzFile`` whose read errors name the file (members decompress lazily);
    ``files`` lists the members, as on ``NpzFile``."""

    def __init__(self, data: Any, path: Path, what: str) -> None:
        self._data, self._path, self._what = data, path, what
        self.files: list[str] = list(data.files)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError as exc:
            raise _damaged(self._path, self._what, exc) from exc
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
            raise _damaged(self._path, self._what, exc) from exc

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def save_npz(path: str | Path, arrays: Mapping[str, Any], compressed: bool = True) -> None:
    """Write ``arrays`` as an ``.npz`` atomically."""
    with atomic_path(path) as tmp:
        (np.savez_compressed if compressed else np.savez)(tmp, **arrays)


@dataclass
class CodeShard:
    """One shard of codes: per utterance its id and ``[n_codebooks, frames]`` indices, plus extras."""

    utt_ids: list[str]
    codes: list[np.ndarray]
    random_weights: bool
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.utt_ids) != len(self.codes):
            raise ValueError(f"{len(self.utt_ids)} utterance ids for {len(self.codes)} code arrays")


def save_shard(path: str | Path, shard: CodeShard, n_codebooks: int) -> None:
    """Write a codes or channel shard (the layout in the module docstring), atomically."""
    frames = np.array([c.shape[1] for c in shard.codes], dtype=np.int64)
    for utt, c in zip(shard.utt_ids, shard.codes, strict=True):
        if c.ndim != 2 or c.shape[0] != n_codebooks:
            raise ValueError(f"{path}: codes of {utt} have shape {c.shape}, expected [{n_codebooks}, frames]")
    clash = sorted(_CODE_KEYS & set(shard.extras))
    if clash:
        raise ValueError(f"{path}: extras may not be named {clash} (the shard's own fields)")
    flat = (
        np.concatenate(shard.codes, axis=1).astype(np.int64)
        if shard.codes
        else np.zeros((n_codebooks, 0), np.int64)
    )
    save_npz(
        path,
        {
            "utt_ids": np.array(shard.utt_ids, dtype=str),
            "frames": frames,
            "codes": flat,
            "random_weights": np.array(shard.random_weights),
            **shard.extras,
        },
    )


def save_channel_shard(path: str | Path, shard: CodeShard, n_codebooks: int) -> None:
    """Write a channel shard: a code shard whose extras hold every one of :data:`CHANNEL_EXTRAS` per
    utterance (what the channel did to each), atomically."""
    n = len(shard.utt_ids)
    for key in CHANNEL_EXTRAS:
        value = shard.extras.get(key)
        if value is None or np.shape(value) != (n,):
            got = "nothing" if value is None else f"shape {np.shape(value)}"
            raise ValueError(f"{path}: a channel shard needs per-utterance {key!r} ({n} values), got {got}")
    save_shard(path, shard, n_codebooks)


def load_shard(path: str | Path) -> CodeShard:
    """Read a codes or channel shard written by :func:`save_shard`."""
    with open_npz(path, "code shard", sorted(_CODE_KEYS)) as data:
        utt_ids = [str(u) for u in data["utt_ids"]]
        frames = np.asarray(data["frames"], dtype=np.int64)
        flat = data["codes"]
        if frames.shape != (len(utt_ids),) or flat.ndim != 2 or int(frames.sum()) != flat.shape[1]:
            raise _damaged(
                path,
                "code shard",
                ValueError(
                    f"{len(utt_ids)} ids, frames {frames.shape} summing to {int(frames.sum())}, "
                    f"codes {flat.shape}"
                ),
            )
        bounds = np.concatenate([[0], np.cumsum(frames)])
        codes = [flat[:, bounds[i] : bounds[i + 1]] for i in range(len(utt_ids))]
        extras = {k: data[k] for k in data.files if k not in _CODE_KEYS}
        return CodeShard(utt_ids, codes, bool(data["random_weights"]), extras)


def load_utterance_ids(path: str | Path) -> list[str]:
    """The utterance ids of a code shard, in stored order (reads nothing else)."""
    with open_npz(path, "code shard", ["utt_ids"]) as data:
        return [str(u) for u in data["utt_ids"]]


def load_channel_counts(path: str | Path) -> dict[str, np.ndarray]:
    """The per-utterance counts of a channel shard (:data:`CHANNEL_EXTRAS`), without its codes.

    A shard written before ``out_of_range`` was recorded reads as zeros there.
    """
    with open_npz(path, "channel shard", ["utt_ids", "bits_sent", "bits_flipped"]) as data:
        n = len(data["utt_ids"])
        counts = {k: np.asarray(data[k], dtype=np.int64) for k in CHANNEL_EXTRAS if k in data.files}
    counts.setdefault("out_of_range", np.zeros(n, dtype=np.int64))
    return counts


def save_codewords(
    path: str | Path,
    n_codebooks: int,
    usage: Sequence[np.ndarray],
    vectors: Sequence[np.ndarray] | None,
    fit_set: Mapping[str, Any],
) -> None:
    """What the labelling study needs from a codec: clean usage per codebook, counted on the fit set
    ``fit_set`` describes (dataset, utterances, ids_sha256, frames, in_sample), and, if any, codeword
    vectors."""
    if len(usage) != n_codebooks or (vectors is not None and len(vectors) != n_codebooks):
        raise ValueError(f"{path}: need one usage (and vector) table per codebook ({n_codebooks})")
    arrays: dict[str, Any] = {f"usage_{k}": u for k, u in enumerate(usage)}
    if vectors is not None:
        arrays |= {f"vectors_{k}": np.asarray(v, dtype=np.float32) for k, v in enumerate(vectors)}
    fit_json = np.array(json.dumps(dict(fit_set), sort_keys=True))
    save_npz(path, {"n_codebooks": np.array(n_codebooks), "fit_set": fit_json, **arrays}, compressed=False)


def load_codewords(path: str | Path) -> tuple[list[np.ndarray] | None, list[np.ndarray]]:
    """(codeword vectors per codebook or None, usage per codebook) from :func:`save_codewords`."""
    with open_npz(path, "codewords file", ["n_codebooks"]) as data:
        k = int(data["n_codebooks"])
        usage = [data[f"usage_{i}"] for i in range(k)]
        vectors = [data[f"vectors_{i}"] for i in range(k)] if "vectors_0" in data.files else None
    return vectors, usage


def load_fit_set(path: str | Path) -> dict[str, Any]:
    """The fit set a codewords file's usage was counted on (dataset, utterances, ids_sha256, in_sample)."""
    with open_npz(path, "codewords file", ["fit_set"]) as data:
        return dict(json.loads(str(data["fit_set"])))


# ----------------------------------------------------------------------------------- parquet, json, csv


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as parquet, atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a parquet table; a damaged file is an :class:`ArtifactError` naming it."""
    import pyarrow

    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise _damaged(path, "parquet table", exc) from exc


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV (gzip when the name ends in ``.gz``), atomically."""
    compression: Literal["gzip"] | None = "gzip" if str(path).endswith(".gz") else None
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, compression=compression)


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """Read a CSV table (``options`` go to ``pandas.read_csv``); a damaged file is an
    :class:`ArtifactError` naming it."""
    try:
        return pd.read_csv(path, **options)
    except FileNotFoundError:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        zlib.error,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as exc:
        raise _damaged(path, "CSV table", exc) from exc


def write_json(data: Any, path: str | Path) -> None:
    """Write a JSON record (sorted keys, indented), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | Path) -> Any:
    """Read a JSON record; a damaged file is an :class:`ArtifactError` naming it."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise _damaged(path, "JSON record", exc) from exc

"""Shared plumbing for the torch codec adapters: devices, options, seeds, checkpoints and batching.

Every torch adapter needs the same handful of things (turn a list of 1-D waveforms into a padded
``[B, 1, T]`` tensor and back, pick a device, build random weights reproducibly, refuse unknown
options). Keeping them here, small and pure, means the adapters differ only where the codecs do.

Batching policy (why there are two modes): zero-padding a batch is *not* transparent for most of
these codecs. NeuCodec's semantic front end normalises each padded input as a whole and its
transformers attend over the padding (no attention mask in the package), so padding changes every
frame's code; convolutional codecs change their last frames (measured with random weights: DAC the
last 2-3 frames, even the causal EnCodec its last frame, because strided windows reach into the
padding). Results must not depend on which utterances happen to share a batch, so the default,
``batching="exact"``, only groups inputs of identical length (padding-free, identical to one-by-one
runs). ``batching="padded"`` pads to the longest item for speed (GPU throughput) at that cost.

Random weights, per part. A random-weight model is built part by part (encoder, quantizer, decoder, ...),
each part inside :func:`seeded_part` with its own seed derived from the codec's ``seed`` and the part's
name (:func:`part_seed`). A part's weights then depend on its seed and name alone, not on which parts
were built before it, so a decode-only build, which skips the encoder, has exactly the full build's
decoder. :data:`RANDOM_INIT` names the scheme in ``weights_id``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import math
import sys
import types
import zipfile
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import torch

from nacbench.codecs.base import CodecAdapter, CodecInfo, WeightsUnavailableError
from nacbench.codecs.weights import hf_cache_dir, hub_offline  # noqa: F401  (re-exported)

BatchingMode = Literal["exact", "padded"]
BATCHING_MODES: tuple[str, ...] = get_args(BatchingMode)


def reject_unknown_options(name: str, unknown: Mapping[str, Any], known: Sequence[str]) -> None:
    """Raise if a config block carries options the adapter does not understand (typos must not pass)."""
    if unknown:
        raise ValueError(
            f"codecs.{name}: unknown option(s) {sorted(unknown)}; this adapter accepts {sorted(known)}"
        )


def check_choice(name: str, option: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise naming ``codecs.<name>.<option>`` when ``value`` is not one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"codecs.{name}.{option}: {value!r} is not one of {list(allowed)}")


def batching_mode(name: str, value: str) -> BatchingMode:
    """The ``codecs.<name>.batching`` option checked against :data:`BATCHING_MODES`, so the builders
    hand their adapters a :data:`BatchingMode` (a config value is only known to be a string)."""
    check_choice(name, "batching", value, BATCHING_MODES)
    return cast(BatchingMode, value)


@contextlib.contextmanager
def package_stand_ins(packages: Mapping[str, Mapping[str, str]]) -> Iterator[None]:
    """Import modules inside ``packages`` without running those packages' ``__init__``.

    Some codec packages import far more in their ``__init__`` than a codec needs: neucodec's imports its
    file loader and with it transformers and torchaudio, torchtune's imports torchao, torch._dynamo and
    datasets (seconds per job, for one positional-embedding class). While the block runs, each package in
    ``packages`` not imported yet is a stand-in in ``sys.modules``: the package module with its
    ``__init__`` not run, given the attributes the imports inside need (``{attribute: module defining
    it}``). The stand-ins leave ``sys.modules`` when the block ends; the modules imported under them
    stay, and a later ordinary import of a package runs its ``__init__``, which finds and reuses them, so
    each class exists once whichever import came first. A package imported already is used as it is.
    """
    inserted: dict[str, types.ModuleType] = {}
    try:
        for package, attributes in packages.items():  # parents first
            if package in sys.modules:
                continue
            spec = importlib.util.find_spec(package)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"package {package!r} is not installed")
            stand_in = importlib.util.module_from_spec(spec)
            sys.modules[package] = inserted[package] = stand_in
            for attribute, module in attributes.items():
                setattr(stand_in, attribute, getattr(importlib.import_module(module), attribute))
        yield
    finally:
        for package, stand_in in inserted.items():
            if sys.modules.get(package) is stand_in:
                del sys.modules[package]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> the GPU when there is one, else the CPU; an explicit CUDA request needs a GPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA device (use 'auto' or 'cpu')")
    return dev


def device_label(device: torch.device) -> str:
    """``"cpu"`` or ``"cuda:<GPU name>"`` (the GPU model matters when comparing timings across machines)."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return device.type


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU RNG seeded, without disturbing the caller's random stream.

    Random-weight models are built inside this block, so the same seed gives the same weights in every
    process (tests, pipeline shards) regardless of what ran before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


#: ``weights_id`` of a random-weight build: the seed and the scheme (each part seeded by its name)
RANDOM_INIT = "random-init(seed={seed}, per-part)"


def random_init_id(seed: int) -> str:
    return RANDOM_INIT.format(seed=int(seed))


def part_seed(seed: int, part: str) -> int:
    """The torch seed of one named part of a random-weight model: 63 bits of SHA-256 over the codec's
    seed and the part's name (never Python's ``hash()``, which changes per process)."""
    if isinstance(seed, bool) or int(seed) != seed:
        raise ValueError(f"seed must be an integer, got {seed!r}")
    digest = hashlib.sha256(f"nacbench-random-init/{int(seed)}/{part}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@contextlib.contextmanager
def seeded_part(seed: int, part: str) -> Iterator[None]:
    """Build one part of a random-weight model (named by its attribute path, e.g. ``"decoder"``) from
    its own seed: its weights do not depend on the parts built before it (see the module doc)."""
    with seeded(part_seed(seed, part)):
        yield


def count_parameters(*modules: torch.nn.Module) -> int:
    """Number of parameters in the given modules (shared parameters counted once)."""
    seen: dict[int, int] = {}
    for module in modules:
        for param in module.parameters():
            seen[id(param)] = param.numel()
    return int(sum(seen.values()))


def frames_for_length(
    n_samples: int | np.ndarray, hop: int, rounding: Literal["ceil", "floor"] = "ceil"
) -> Any:
    """Frames a codec emits for ``n_samples`` input samples at ``hop`` samples per frame."""
    n = np.asarray(n_samples, dtype=np.int64)
    frames = -(-n // hop) if rounding == "ceil" else n // hop
    return int(frames) if np.ndim(frames) == 0 else frames


def as_mono_float32(wav: np.ndarray, what: str) -> np.ndarray:
    """Validate one waveform: 1-D, non-empty, finite; returned as float32."""
    arr = np.asarray(wav, dtype=np.float32)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D waveform, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: waveform contains NaN or inf")
    return arr


def pad_waveforms(wavs: Sequence[np.ndarray], multiple: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    """Right-pad 1-D waveforms with zeros into a ``[B, 1, T]`` float32 tensor; also return true lengths.

    ``T`` is the longest length rounded up to ``multiple`` (1 = no rounding).
    """
    lengths = np.array([len(w) for w in wavs], dtype=np.int64)
    width = int(math.ceil(int(lengths.max()) / multiple) * multiple)
    batch = np.zeros((len(wavs), 1, width), dtype=np.float32)
    for i, wav in enumerate(wavs):
        batch[i, 0, : len(wav)] = wav
    return torch.from_numpy(batch), lengths


def pad_codes(codes: Sequence[np.ndarray], fill: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Stack ``[K, F_i]`` int code arrays into a ``[B, K, F_max]`` int64 tensor padded with ``fill``."""
    frames = np.array([c.shape[1] for c in codes], dtype=np.int64)
    n_books = codes[0].shape[0]
    batch = np.full((len(codes), n_books, int(frames.max())), fill, dtype=np.int64)
    for i, c in enumerate(codes):
        batch[i, :, : c.shape[1]] = c
    return torch.from_numpy(batch), frames


def pad_latents(latents: Sequence[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    """Stack ``[dim, F_i]`` float32 latents into a ``[B, dim, F_max]`` tensor zero-padded at the end;
    also return each one's frame count."""
    frames = np.array([x.shape[1] for x in latents], dtype=np.int64)
    batch = np.zeros((len(latents), latents[0].shape[0], int(frames.max())), dtype=np.float32)
    for i, x in enumerate(latents):
        batch[i, :, : x.shape[1]] = x
    return torch.from_numpy(batch), frames


def batch_groups(lengths: Sequence[int], batch_size: int, mode: BatchingMode) -> list[list[int]]:
    """Split item indices into batches of at most ``batch_size``.

    ``exact``: only items of equal length share a batch (no padding at all). ``padded``: items sorted
    by length so each batch pads as little as possible. Order is deterministic (stable sort).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable").tolist()
    groups: list[list[int]] = []
    for idx in order:
        last = groups[-1] if groups else None
        if (
            last is not None
            and len(last) < batch_size
            and (mode != "exact" or lengths[last[0]] == lengths[idx])
        ):
            last.append(idx)
        else:
            groups.append([idx])
    return groups


def map_batched(
    items: Sequence[Any],
    lengths: Sequence[int],
    batch_size: int,
    mode: BatchingMode,
    run: Callable[[list[Any]], list[Any]],
) -> list[Any]:
    """Apply ``run`` to batches of ``items`` and return its per-item outputs in the original order."""
    out: list[Any] = [None] * len(items)
    for group in batch_groups(lengths, batch_size, mode):
        results = run([items[i] for i in group])
        if len(results) != len(group):
            raise RuntimeError(f"batch function returned {len(results)} outputs for {len(group)} inputs")
        for i, res in zip(group, results, strict=True):
            out[i] = res
    return out


class BatchedTorchAdapter(CodecAdapter):
    """The encode/decode loop every torch adapter shares: validate inputs, group them by the batching
    policy, run the subclass's ``_encode_batch`` / ``_decode_batch`` on each group, restore the order."""

    #: shortest input the encoder accepts (samples at the input rate)
    min_input_samples = 1

    def __init__(
        self, info: CodecInfo, device: torch.device, batch_size: int, batching: BatchingMode
    ) -> None:
        self.info = info
        self.device = device
        self.batch_size = batch_size
        self.batching = batching

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.map_waveforms(wavs, "encode", self._encode_batch)

    def map_waveforms(
        self, wavs: Sequence[np.ndarray], what: str, run: Callable[[list[np.ndarray]], list[Any]]
    ) -> list[Any]:
        """``encode``'s loop, for it and for a subclass's ``encode_latent`` (``what``: the method, named
        when a decode-only build refuses): the encoder required, inputs checked, ``run`` on each group."""
        self.require_encoder(what)
        arrays = [as_mono_float32(w, f"codec {self.info.name!r} input {i}") for i, w in enumerate(wavs)]
        for i, wav in enumerate(arrays):
            if len(wav) < self.min_input_samples:
                raise ValueError(
                    f"codec {self.info.name!r}: input {i} has {len(wav)} samples, needs >= {self.min_input_samples}"
                )
        return map_batched(arrays, [len(w) for w in arrays], self.batch_size, self.batching, run)

    def map_latents(
        self,
        latents: Sequence[np.ndarray],
        dim: int,
        run: Callable[[list[np.ndarray]], list[np.ndarray]],
    ) -> list[np.ndarray]:
        """``decode``'s loop for a subclass's ``decode_latent``: each latent checked to be a finite
        float32 ``[dim, frames]`` array, ``run`` on each group (batched as ``decode`` batches codes)."""
        arrays = []
        for i, latent in enumerate(latents):
            array = self.latent_array(latent, dim, i)
            if not np.isfinite(array).all():
                raise ValueError(f"codec {self.info.name!r}: latent {i} contains NaN or inf")
            arrays.append(array)
        return map_batched(arrays, [a.shape[1] for a in arrays], self.batch_size, self.batching, run)

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        arrays = [np.asarray(c, dtype=np.int64) for c in codes]
        for c in arrays:
            self.check_codes(c)
        return map_batched(
            arrays, [c.shape[1] for c in arrays], self.batch_size, self.batching, self._decode_batch
        )

    @abstractmethod
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """One group of waveforms (all the same length under exact batching) -> their codes."""

    @abstractmethod
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        """One group of code arrays (at least one frame among them) -> their waveforms."""


def fit_length(wav: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad a 1-D waveform to exactly ``n_samples`` (decoders that return a few samples
    too many or too few get an explicit, documented length instead of a silent mismatch)."""
    if len(wav) >= n_samples:
        return np.ascontiguousarray(wav[:n_samples])
    return np.pad(wav, (0, n_samples - len(wav)))


def to_numpy_f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


# --- checkpoint files --------------------------------------------------------------------------------------

#: checkpoints read memory-mapped in this process, by (resolved path, size, modification time)
_MAPPED_CHECKPOINTS: dict[tuple[str, int, int], Any] = {}


def load_checkpoint(path: str | Path, option: str) -> Any:
    """What ``torch.load(path, weights_only=True)`` gives, memory-mapped where the file format allows.

    A zip-format checkpoint (``torch.save``'s format since torch 1.6) is mapped, not read: only the
    tensors a build copies into its modules are read from disk, so a decode-only build that takes the
    decoder's keys reads the decoder's bytes alone. Mapped checkpoints are kept for the process (keyed by
    path, size and modification time), so building a codec again reads nothing twice; callers must not
    modify what they get. A legacy (pre-zip) file cannot be mapped: it is read whole, each time, and not
    kept, since keeping it would hold a second copy of every weight in memory. Any failure is a
    :class:`WeightsUnavailableError` naming ``option`` (the config key that chose the file).
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key in _MAPPED_CHECKPOINTS:
            return _MAPPED_CHECKPOINTS[key]
        mappable = zipfile.is_zipfile(path)
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mappable)
    except Exception as exc:  # OSError, pickle errors, zip errors: all mean "this file will not do"
        raise WeightsUnavailableError(
            f"{option}: cannot read checkpoint {path} ({type(exc).__name__}: {exc})"
        ) from exc
    if mappable:
        _MAPPED_CHECKPOINTS[key] = loaded
    return loaded


def select_keys(state: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    """The entries of a state dict under the given module prefixes (``"decoder."``, ...)."""
    wanted = tuple(prefixes)
    return {k: v for k, v in state.items() if k.startswith(wanted)}


def load_parts_strictly(
    parts: Mapping[str, torch.nn.Module],
    state: Mapping[str, Any],
    source: str,
    what: str,
    skipped: Sequence[str] | None = (),
) -> None:
    """Load ``state`` into ``parts`` (attribute path -> module, e.g. ``{"decoder": ...}``) strictly.

    Every key a part needs must be in ``state`` and every key under a part's prefix must fit it. Keys
    under no part's prefix must lie under one of the ``skipped`` prefixes (the parts a decode-only build
    leaves out, e.g. ``("encoder.",)``; ``()``: none may be there, as with a strict ``load_state_dict``
    of the whole model); ``None`` lets them be (a checkpoint with more in it than the model, such as
    NeuCodec's training heads). Anything else is a :class:`WeightsUnavailableError` naming ``source``
    and up to five keys of each kind.
    """
    holder = torch.nn.Module()
    for name, module in parts.items():
        *path, leaf = name.split(".")
        node = holder
        for step in path:
            if not hasattr(node, step):
                node.add_module(step, torch.nn.Module())
            node = getattr(node, step)
        node.add_module(leaf, module)
    prefixes = tuple(f"{name}." for name in parts)
    result = holder.load_state_dict(select_keys(state, prefixes), strict=False)
    unexpected = list(result.unexpected_keys)
    if skipped is not None:
        unexpected += [k for k in state if not k.startswith((*prefixes, *skipped))]
    if result.missing_keys or unexpected:
        raise WeightsUnavailableError(
            f"{source}: checkpoint does not fit the {what}: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:5]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:5]})"
        )


# --- weights from the Hugging Face hub -----------------------------------------------------------------
#
# ``hub_offline`` and ``hf_cache_dir`` live in the torch-free :mod:`nacbench.codecs.weights` (config
# validation reads the hub cache too) and are imported here for the torch adapters; files of a pinned
# commit come through :func:`nacbench.codecs.revisions.hub_file`.


def hub_revision_of(path: Path) -> str:
    """Commit hash of a file inside the hub cache (``.../snapshots/<commit>/file``), else ``""``."""
    parts = Path(path).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else ""


def seed_codebooks_from_residuals(residual: torch.Tensor, books: Sequence[Any]) -> None:
    """Fill untrained RVQ codebooks with residual vectors of an encoder's output (torch's current RNG).

    ``residual``: ``[frames, dim]``, the encoder's output for a noise probe; ``books``: the RVQ's codebook
    modules in stage order, each with ``codebook_size``, ``embed``, ``embed_avg``, ``inited`` and
    ``encode``/``decode`` (EnCodec's in its package and in Transformers). Untrained codebooks are all zero
    (k-means initialisation runs only in training), so every code would be 0; random vectors do not help
    either, because a random encoder's output is dominated by a constant bias and one entry wins every
    frame. So each codebook takes residual vectors sampled with replacement and jittered (5 % of their
    spread, so duplicates are not near-ties), stage after stage, as k-means would start; codes then
    follow the input. Marking a codebook initialised keeps a forward pass from running k-means.
    """
    with torch.no_grad():
        for book in books:
            picks = residual[torch.randint(residual.shape[0], (book.codebook_size,))]
            book.embed.copy_(picks + 0.05 * residual.std() * torch.randn_like(picks))
            book.embed_avg.copy_(book.embed)
            book.inited.fill_(1.0)
            residual = residual - book.decode(book.encode(residual))

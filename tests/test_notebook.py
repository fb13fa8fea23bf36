"""The inspection notebook runs top to bottom on a real (reduced offline) run and shows audio and figures.

Executed with nbclient in a kernel from this interpreter's ipykernel, pointed at the run through
NACBENCH_RESULTS exactly as a researcher would, so a helper or cell that breaks on real artifacts fails
here. The committed notebook must carry no outputs (they would hold a stale run's figures and audio).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from nacbench.artifacts import CodeShard, save_shard
from nacbench.audio import write_audio
from nacbench.channel import transmit
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.conditions import ChannelSpec
from nacbench.data.manifest import Utterance, write_manifest
from nacbench.seeds import derive_rng

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "inspect_results.ipynb"
CELL_TIMEOUT_S = 120


def _outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    assert not _outputs(nb), "clear the notebook's outputs before committing it"
    assert all(cell.get("execution_count") is None for cell in code)
    assert "NACBENCH_RESULTS" in code[0].source  # the results folder is set in the first code cell


def _execute(results: Path, monkeypatch: pytest.MonkeyPatch) -> list[nbformat.NotebookNode]:
    """Run the committed notebook against ``results`` as Jupyter would; return its outputs."""
    from nbclient import NotebookClient

    monkeypatch.setenv("NACBENCH_RESULTS", str(results))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},  # the kernel's cwd, as in Jupyter
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = _outputs(nb)
    assert not [out for out in outputs if out.output_type == "error"]
    return outputs


def _html(outputs: list[nbformat.NotebookNode]) -> list[str]:
    return [out.data["text/html"] for out in outputs if "text/html" in out.get("data", {})]


def _images(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    return [out for out in outputs if "image/png" in out.get("data", {})]


def _text(outputs: list[nbformat.NotebookNode]) -> str:
    parts = []
    for out in outputs:
        data = out.get("data", {})
        parts += [out.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(parts)


def _partial_run(results: Path) -> None:
    """A run cut short: one random-weight codec, clean + one BSC condition, natural labelling only,
    listening files, and no score table."""
    sizes, utts = (16, 4), ["a", "b"]
    info = CodecInfo("toy", "toy", 16000, 16000, 50.0, sizes, "other", random_weights=True)
    (results / "codes" / "toy").mkdir(parents=True)
    info.write(results / "codes" / "toy" / "codec.json")
    rng = np.random.default_rng(0)
    clean = [rng.integers(0, np.array(sizes)[:, None], size=(2, n)) for n in (40, 30)]
    save_shard(results / "codes" / "toy" / "ds" / "000.npz", CodeShard(utts, clean, True), 2)
    originals = []
    for utt in utts:
        path = results.parent / "corpus" / f"{utt}.flac"
        write_audio(path, 0.1 * np.sin(np.arange(8000) / 5.0), 16000)
        originals.append(Utterance(utt, "s", str(path), 0.5, 16000, "TEXT"))
    write_manifest(originals, results / "data" / "ds" / "manifest.tsv")
    for channel in ("clean", "bsc-p0.05-seed0"):
        sent = transmit(clean, sizes, ChannelSpec.parse(channel), derive_rng(0, channel))
        extras = {"bits_sent": sent.bits_sent, "bits_flipped": sent.bits_flipped}
        save_shard(
            results / "channel" / "toy" / "ds" / channel / "000.npz",
            CodeShard(utts, sent.codes, True, extras),
            2,
        )
        write_audio(results / "listen" / "toy" / "ds" / channel / "000" / "a.flac", np.zeros(8000), 16000)


def test_notebook_runs_on_a_partial_random_weight_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _partial_run(tmp_path / "results")
    outputs = _execute(tmp_path / "results", monkeypatch)
    assert sum("<audio" in text for text in _html(outputs)) == 3  # original, clean, one P_flip
    assert len(_images(outputs)) == 3  # codes, bit errors, flip rates; no score figures without scores
    text = _text(outputs)
    assert "no score table yet" in text
    assert RANDOM_WEIGHTS_LABEL in text  # the audio labels say so too


@pytest.mark.slow
def test_notebook_runs_on_an_offline_run(
    offline_run: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _execute(offline_run["results"], monkeypatch)
    assert any("<audio" in text for text in _html(outputs)), "no Audio widget in the notebook's outputs"
    images = _images(outputs)
    assert len(images) >= 5, (
        f"expected codes, bit errors, flip rates and two score figures, got {len(images)}"
    )
    assert "no score table yet" not in _text(outputs)  # the fixture's run is complete: section 3 draws

"""GPU jobs side by side: each declares its share of the GPU's memory, the workflow's capacity is the
device's, and Snakemake's scheduler never runs GPU jobs whose summed memory exceeds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO

from nacbench.codecs import ADAPTERS, codec_gpu_mem_mb
from nacbench.costs.workflow import workflow_rule_declarations
from nacbench.resources import (
    DEVICE_SHARE,
    GPU_MEM_RESOURCE,
    asr_gpu_mem_mb,
    gpu_capacity_mb,
    job_gpu_mem_mb,
    register_gpu_memory,
)


def test_every_gpu_rule_declares_its_gpu_memory() -> None:
    decl = workflow_rule_declarations(REPO / "workflow" / "rules")
    gpu_rules = sorted(rule for rule, d in decl.items() if d["gpu"])
    assert {"encode", "decode", "asr_decoded", "enc_rtf"} <= set(gpu_rules)
    assert [rule for rule in gpu_rules if not decl[rule]["gpu_mem"]] == []


def test_capacity_is_the_device_share_unless_given_and_none_on_the_cpu() -> None:
    assert gpu_capacity_mb("cpu", 50_000, 80_000) is None
    assert gpu_capacity_mb("auto", None, None) is None  # no GPU visible: jobs run on the CPU
    assert gpu_capacity_mb("auto", None, 80_000) == int(80_000 * DEVICE_SHARE)
    assert gpu_capacity_mb("cuda", 20_000, 80_000) == 20_000  # --resources gpu_mem_mb=N wins


class FakeWorkflow:
    def __init__(self, given: int | None) -> None:
        self.global_resources = {} if given is None else {GPU_MEM_RESOURCE: SimpleNamespace(value=given)}
        self.registered: dict[str, int] = {}

    def register_resource(self, name: str, value: int) -> None:
        self.registered[name] = value


def test_register_keeps_what_the_user_gave_and_fills_in_the_device(monkeypatch) -> None:
    monkeypatch.setattr("nacbench.resources.visible_gpu_memory_mb", lambda: 143_771)
    given = FakeWorkflow(30_000)
    assert register_gpu_memory(given, "auto") == 30_000 and given.registered == {}
    detected = FakeWorkflow(None)
    assert register_gpu_memory(detected, "auto") == int(143_771 * DEVICE_SHARE)
    assert detected.registered == {GPU_MEM_RESOURCE: int(143_771 * DEVICE_SHARE)}
    cpu = FakeWorkflow(None)
    assert register_gpu_memory(cpu, "cpu") is None and cpu.registered == {}


def test_job_share_is_zero_on_the_cpu_and_a_job_that_cannot_fit_is_named() -> None:
    assert job_gpu_mem_mb(8000, None, "codecs.neucodec") == 0
    assert job_gpu_mem_mb(8000, 20_000, "codecs.neucodec") == 8000
    with pytest.raises(ValueError, match=r"codecs\.neucodec: needs 8000 MB .* only 6000 MB"):
        job_gpu_mem_mb(8000, 6000, "codecs.neucodec")


def test_codec_and_asr_shares() -> None:
    assert codec_gpu_mem_mb({"adapter": "neucodec"}) == ADAPTERS["neucodec"].gpu_mem_mb
    assert codec_gpu_mem_mb({"adapter": "neucodec", "gpu_mem_mb": 3100}) == 3100  # a measurement
    assert codec_gpu_mem_mb({"adapter": "lyra"}) == 0  # TFLite runs on the CPU
    with pytest.raises(ValueError, match="gpu_mem_mb"):
        codec_gpu_mem_mb({"adapter": "dac", "gpu_mem_mb": 0})
    assert asr_gpu_mem_mb({"model": "../shared/models/whisper-tiny.en-ct2"}) == 1000
    assert asr_gpu_mem_mb({"model": "some/unknown-asr"}) == 10_000  # unknown: the largest


SCHEDULING = """
import time
from pathlib import Path
from nacbench.resources import register_gpu_memory

CAPACITY = register_gpu_memory(workflow, "cuda")

rule all:
    input: expand("done/{i}.txt", i=range(6))

rule gpu_job:
    output: "done/{i}.txt"
    resources: gpu_mem_mb=40
    run:
        start = time.time()
        time.sleep(1.0)
        Path(output[0]).write_text(f"{start} {time.time()}")
"""


def test_the_scheduler_fills_the_gpu_without_exceeding_it(tmp_path: Path) -> None:
    """Six jobs of 40 MB against a 100 MB GPU on 6 cores: two at a time, never three."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SCHEDULING))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "6", "--resources", f"{GPU_MEM_RESOURCE}=100"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    spans = [tuple(map(float, p.read_text().split())) for p in sorted((tmp_path / "done").glob("*.txt"))]
    running = [sum(start <= t < end for start, end in spans) for t, _ in spans]
    assert max(running) == 2  # side by side, and never more than fit

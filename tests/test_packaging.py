"""Packaging: the config schema ships inside the package (a non-editable install validates configs), the
package declares envs/requirements.txt as its dependencies, and every third-party module the code
imports is in a requirements file."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

import pytest
import yaml

from nacbench.config import SCHEMA_FILE, load_schema

REPO = Path(__file__).resolve().parents[1]
#: code whose imports must be installable from envs/requirements*.txt
CODE_ROOTS = ("src", "workflow/scripts", "benchmarks")
#: import name -> distribution name, where the two differ (compared after PEP 503 normalisation)
DIST_OF_IMPORT = {
    "yaml": "pyyaml",
    "dac": "descript-audio-codec",
    "whisper": "openai-whisper",
    "faster_whisper": "faster-whisper",
    "ai_edge_litert": "ai-edge-litert",
    "stable_codec": "stable-codec",
    "stable_audio_tools": "stable-audio-tools",
    "opuslib_next": "opuslib-next",
}
#: pandas methods that import an optional dependency of pandas at call time
DIST_OF_PANDAS_METHOD = {"to_markdown": "tabulate", "to_parquet": "pyarrow", "read_parquet": "pyarrow"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> set[str]:
    """Distribution names of a pip requirements file (comments and blank lines skipped)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalise(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]))
    return names


def required_distributions(source: str, local: set[str]) -> set[str]:
    """Distributions one source file needs: its third-party imports (anywhere, lazy ones included) and
    the optional pandas dependencies of the methods it calls."""
    tree = ast.parse(source)
    needed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            if isinstance(node, ast.Attribute) and node.attr in DIST_OF_PANDAS_METHOD:
                needed.add(DIST_OF_PANDAS_METHOD[node.attr])
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            needed.add(normalise(DIST_OF_IMPORT.get(top, top)))
    return needed


def test_required_distributions_sees_lazy_imports_and_pandas_extras() -> None:
    source = (
        "import os\nimport yaml\ndef f(df):\n    from faster_whisper.utils import x\n    df.to_markdown()\n"
    )
    assert required_distributions(source, local=set()) == {"pyyaml", "faster-whisper", "tabulate"}
    assert required_distributions("import helper\n", local={"helper"}) == set()


def test_every_third_party_import_is_in_the_requirements() -> None:
    listed = set().union(*(requirement_names(p) for p in (REPO / "envs").glob("requirements*.txt")))
    missing: dict[str, list[str]] = {}
    for root in CODE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            # a script may import the modules beside it; inside src/ every import is absolute
            local = {"nacbench"} | ({p.stem for p in path.parent.glob("*.py")} if root != "src" else set())
            for dist in required_distributions(path.read_text(), local) - listed:
                missing.setdefault(dist, []).append(str(path.relative_to(REPO)))
    assert not missing, f"imported but in no envs/requirements*.txt: {missing}"


def test_schema_is_package_data() -> None:
    """The schema is read through importlib.resources from the package, and there is only one copy."""
    packaged = resources.files("nacbench").joinpath("schemas", "config.schema.yaml")
    assert packaged.is_file() and packaged == SCHEMA_FILE
    schema = load_schema()
    assert schema == yaml.safe_load(packaged.read_text()) and "study_a" in schema["properties"]
    copies = [p for root in ("src", "workflow") for p in (REPO / root).rglob("config.schema.yaml")]
    assert copies == [REPO / "src" / "nacbench" / "schemas" / "config.schema.yaml"]


def _setuptools_builds_wheels() -> bool:
    try:
        version = tuple(int(x) for x in metadata.version("setuptools").split(".")[:2])
    except metadata.PackageNotFoundError:
        return False
    return version >= (70, 1)  # bdist_wheel built in; older ones need the `wheel` package


@pytest.mark.skipif(
    not _setuptools_builds_wheels(),
    reason="needs setuptools>=70.1 (pip install -r envs/requirements-dev.txt)",
)
def test_non_editable_wheel_validates_a_config(tmp_path: Path) -> None:
    """A wheel built from a copy of the project carries the schema and the requirements; unpacked on its
    own (no src/ on the path) it validates the shipped configuration."""
    project = tmp_path / "project"
    for name in ("pyproject.toml", "README.md", "envs/requirements.txt"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, project / name)
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=project,
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("nacbench-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {"nacbench/schemas/config.schema.yaml", "nacbench/py.typed"} <= names
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        zf.extractall(tmp_path / "site")
    declared = {normalise(re.split(r"[<>=!~;\[ ]", line[len("Requires-Dist: ") :])[0])
                for line in meta.splitlines() if line.startswith("Requires-Dist: ")}  # fmt: skip
    assert declared == requirement_names(REPO / "envs" / "requirements.txt")
    assert "Requires-Dist: torch==2.11.0" in meta and "Requires-Dist: torchaudio==2.11.0" in meta

    check = (
        "import sys, yaml, nacbench.config as c; "
        "c.validate_config(yaml.safe_load(open(sys.argv[1]))); print(c.__file__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", check, str(REPO / "config.yaml")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(proc.stdout.strip()).is_relative_to(tmp_path / "site")

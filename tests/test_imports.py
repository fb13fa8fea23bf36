"""The package's import graph: no cycle, and no import that runs from a lower layer up to a higher one.

Imports are read with ``ast`` (module-level, function-level and ``TYPE_CHECKING`` imports all count:
a deferred import still ties the two modules together).
"""

from __future__ import annotations

import ast
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: the package's layers, bottom first; a module may import its own layer and the layers below it
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"conditions", "erasure", "seeds", "startup"}),
    frozenset({"artifacts"}),
    frozenset(
        {
            "analysis",
            "asr",
            "audio",
            "channel",
            "codecs",
            "config",
            "data",
            "fsq",
            "labelling",
            "logs",
            "metrics",
            "packet_loss",
            "plan",
            "posthoc",
            "resources",
            "swap",
            "timing",
        }
    ),
    frozenset({"plots", "tables"}),
    frozenset({"costs", "explore", "report", "stages"}),
)


def _modules() -> dict[str, Path]:
    mods = {}
    for path in (SRC / "nacbench").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in mods else module)
        graph[name] = {t for t in targets if t in mods and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"{module}: in no layer of tests/test_imports.py::LAYERS; add it to one")


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "nacbench.labelling" in graph["nacbench.stages"]  # imported inside a function
    assert "nacbench.labelling" in graph["nacbench.channel"]  # under TYPE_CHECKING
    assert "nacbench.artifacts" in graph["nacbench.explore"]  # from nacbench import artifacts
    assert "nacbench.metrics.stoi" in graph["nacbench.metrics"]  # a package importing its modules


def test_the_package_import_graph_has_no_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_no_import_runs_back_up() -> None:
    graph = import_graph()
    upward = [
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in sorted(graph.items())
        if a != "nacbench"
        for b in sorted(targets)
        if _layer(b) > _layer(a)
    ]
    assert upward == []


def test_the_ground_floor_imports_nothing_above_it() -> None:
    graph = import_graph()
    assert graph["nacbench.conditions"] == {"nacbench.erasure"}  # the packet-loss channel grammar
    assert graph["nacbench.erasure"] == set()
    assert graph["nacbench.seeds"] == set()
    assert graph["nacbench.artifacts"] <= {"nacbench.conditions", "nacbench.erasure"}


ZERO_CODES = "[np.zeros((codec.info.n_codebooks, 5), dtype=np.int64)]"


@pytest.mark.parametrize(
    ("options", "decode"),
    [
        ({"adapter": "lyra", "model_dir": "{shared}/models/lyra-v2"}, f"decode({ZERO_CODES})"),
        ({"adapter": "codec2", "mode": 1300}, f"decode({ZERO_CODES})"),
        # all-zero bytes are no Opus packet (a TOC for 10 ms): every frame lost, the PLC decodes
        ({"adapter": "opus", "bitrate": 6000}, f"decode_lost({ZERO_CODES}, [np.ones(5, dtype=bool)])"),
    ],
    ids=["lyra", "codec2", "opus"],
)
def test_decode_only_builds_of_non_torch_codecs_import_no_torch(
    options: dict, decode: str, shared_dir: Path
) -> None:
    """A decode job of a TFLite or C codec builds and decodes without torch (nor pandas, which only the
    codec.json writer needs), in a fresh process."""
    if options["adapter"] == "opus" and ctypes.util.find_library("opus") is None:
        pytest.skip("libopus is not installed: apt-get install libopus0")
    options = {k: v.format(shared=shared_dir) if isinstance(v, str) else v for k, v in options.items()}
    script = "\n".join(
        [
            "import sys, numpy as np",
            "from nacbench.codecs import build_codec",
            f"codec = build_codec('c', {options!r}, decode_only=True)",
            f"codec.{decode}",
            "print(sorted(m for m in ('torch', 'pandas', 'transformers') if m in sys.modules))",
        ]
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"

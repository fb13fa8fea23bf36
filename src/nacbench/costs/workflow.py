"""The workflow as Snakemake sees it: what each rule declares, and the job counts of a dry run.

The estimate plans its job list from the config (:mod:`nacbench.costs.jobs`) because it needs the
audio behind every job; the dry run here is the workflow's own answer to "how many jobs of each rule",
and tests/test_costs.py holds the two equal for every shipped configuration.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from nacbench.costs import CostError

_RULE_RE = re.compile(r"^rule\s+([A-Za-z_][A-Za-z0-9_]*)\s*:", re.MULTILINE)
#: a row of Snakemake's "Job stats" table: rule name and count
_STATS_ROW_RE = re.compile(r"^(\S+)\s+(\d+)$")


def rule_declarations(text: str) -> dict[str, dict[str, bool]]:
    """Per rule of a Snakemake rule file: is each job measured (``measured``: it writes a startup
    record, ``job_logs(...)`` or a ``startup=`` log, or declares a ``benchmark:`` as external codecs'
    rule files do), does it declare a ``gpu`` resource and its share of the GPU's memory
    (``gpu_mem_mb``, :mod:`nacbench.resources`).

    Read from the rule files rather than listed by hand, so the report's "not measured" and "GPU rule"
    labels follow the workflow as it is.
    """
    starts = list(_RULE_RE.finditer(text))
    out = {}
    ends = [m.start() for m in starts[1:]] + [len(text)] * bool(starts)
    for match, end in zip(starts, ends, strict=True):
        body = text[match.end() : end]
        out[match.group(1)] = {
            "measured": re.search(r"^\s+benchmark\s*:|job_logs\(|^\s+startup\s*=", body, re.MULTILINE)
            is not None,
            "gpu": re.search(r"^\s+gpu\s*=\s*[1-9]", body, re.MULTILINE) is not None,
            "gpu_mem": re.search(r"^\s+gpu_mem_mb\s*=", body, re.MULTILINE) is not None,
        }
    return out


def workflow_rule_declarations(rule_dir: Path) -> dict[str, dict[str, bool]]:
    """:func:`rule_declarations` of every ``*.smk`` file in ``rule_dir`` (workflow/rules)."""
    decl: dict[str, dict[str, bool]] = {}
    for path in sorted(Path(rule_dir).glob("*.smk")):
        decl.update(rule_declarations(path.read_text()))
    return decl


def parse_job_stats(text: str, source: str = "snakemake output") -> Counter[str]:
    """Jobs per rule from the first "Job stats" table of Snakemake's output, without the ``total`` row.

    The table is printed by a dry run (``snakemake -n``) before the job list; its ``total`` row is
    checked against the sum of the others, so a row this parser misreads cannot go unnoticed.
    """
    lines = text.splitlines()
    try:
        start = lines.index("Job stats:")
    except ValueError:
        raise CostError(f"{source}: no 'Job stats:' table (did the dry run fail?)") from None
    counts: Counter[str] = Counter()
    total = None
    for line in lines[start + 3 :]:  # after the title, the header and the dashes
        match = _STATS_ROW_RE.match(line.strip())
        if match is None:
            break
        if match.group(1) == "total":
            total = int(match.group(2))
            break
        counts[match.group(1)] += int(match.group(2))
    if total is None or total != sum(counts.values()):
        raise CostError(f"{source}: Job stats rows add up to {sum(counts.values())}, total row says {total}")
    return counts


def dry_run_job_counts(
    configfiles: Sequence[Path], workdir: Path, target: str = "all", timeout_s: float = 600
) -> Counter[str]:
    """Jobs per rule that ``snakemake -n --forceall TARGET [--configfile ...]`` plans in ``workdir``.

    ``--forceall`` lists every job whatever is on disk already; the target rule itself is left out,
    as :func:`nacbench.costs.jobs.job_counts` leaves it out. Runs this interpreter's Snakemake.
    """
    cmd = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--quiet", "rules", target]
    if configfiles:  # on top of the Snakefile's own configfile
        cmd += ["--configfile", *(str(p) for p in configfiles)]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise CostError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    counts = parse_job_stats(proc.stdout + "\n" + proc.stderr, source=" ".join(cmd))
    counts.pop(target, None)
    return counts

"""CMU-Arctic reader and the paper's per-speaker random selection (18 speakers x 100 utterances).

Every festvox package ships the same full 1132-prompt ``etc/txt.done.data``, whether or not all wavs
are present, so prompts are joined onto the wavs that exist: a prompt without a wav is normal, a wav
without a prompt is a problem. The draw uses one random stream per speaker
(:func:`nacbench.seeds.arctic_rng`: the run seed and the speaker's name), so a speaker's selection does
not change when other speakers are added, removed or reordered, nor between processes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nacbench.data.manifest import (
    AudioCheck,
    NoUsableUtterances,
    Skip,
    Utterance,
    check_on_error,
    probe_utterance,
    resolve_problems,
)
from nacbench.seeds import arctic_rng

#: the 18 speakers of the festvox CMU-Arctic release (all used by the paper)
ARCTIC_SPEAKERS = (
    "aew", "ahw", "aup", "awb", "axb", "bdl", "clb", "eey", "fem",
    "gka", "jmk", "ksp", "ljm", "lnh", "rms", "rxr", "slp", "slt",
)  # fmt: skip

# ( arctic_a0001 "Author of the danger trail, Philip Steels, etc." ) -- the text is taken up to the
# LAST quote on the line, so a quote inside the text (none in the 0.95 release) would stay in it.
_PROMPT_LINE = re.compile(r'^\(\s*(?P<id>\S+)\s+"(?P<text>.*)"\s*\)\s*$')


def speaker_dir(root: str | Path, speaker: str) -> Path:
    """The festvox package folder of one speaker."""
    return Path(root) / f"cmu_us_{speaker}_arctic"


def select_ids(available: Sequence[str], k: int, seed: int, speaker: str) -> list[str]:
    """Draw ``k`` ids uniformly without replacement from the sorted ids (all of them when fewer).

    Sorting first makes the draw independent of directory listing order.
    """
    pool = sorted(available)
    if k >= len(pool):
        return pool
    picked = arctic_rng(seed, speaker).choice(len(pool), size=k, replace=False)
    return [pool[i] for i in np.sort(picked)]


def parse_prompts(path: Path) -> tuple[dict[str, str], list[Skip]]:
    """Read ``txt.done.data`` into id -> text; malformed or repeated lines are problems naming the line."""
    prompts: dict[str, str] = {}
    problems: list[Skip] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _PROMPT_LINE.match(line.strip())
        where = f"{path}:{number}"
        if match is None:
            problems.append(Skip("", where, f"cannot parse prompt line {line.strip()!r}"))
        elif match["id"] in prompts:
            problems.append(Skip(match["id"], where, "prompt id listed twice"))
        elif not match["text"].strip():
            problems.append(Skip(match["id"], where, "empty prompt text"))
        else:
            prompts[match["id"]] = match["text"].strip()
    return prompts, problems


def _read_speaker(
    root: Path, speaker: str, k: int, seed: int, check: AudioCheck
) -> tuple[list[Utterance], list[Skip], list[str]]:
    """Join one speaker's wavs with the prompts, draw ``k`` of them and probe the drawn audio.

    Only prompt-matched wavs enter the draw; audio that then fails its check is recorded, not replaced,
    so a damaged file never shifts which other utterances are drawn.
    """
    folder = speaker_dir(root, speaker)
    if not folder.is_dir():
        return [], [Skip("", str(folder), f"speaker folder for {speaker!r} not found")], []
    prompt_file = folder / "etc" / "txt.done.data"
    if not prompt_file.is_file():
        return [], [Skip("", str(prompt_file), f"prompt file for {speaker!r} not found")], []
    prompts, problems = parse_prompts(prompt_file)
    wavs = {p.stem: p for p in (folder / "wav").glob("*.wav")}
    for wav_id in sorted(wavs.keys() - prompts.keys()):
        problems.append(Skip(f"{speaker}_{wav_id}", str(wavs[wav_id]), f"wav has no prompt in {prompt_file}"))
    available = sorted(wavs.keys() & prompts.keys())
    log = []
    if len(available) < k:
        log.append(
            f"{speaker}: {len(available)} utterances available, {k} requested; taking all {len(available)}"
        )
    utts: list[Utterance] = []
    for wav_id in select_ids(available, k, seed, speaker):
        path, utt_id = wavs[wav_id], f"{speaker}_{wav_id}"
        probed = probe_utterance(utt_id, speaker, path, prompts[wav_id], check)
        if isinstance(probed, Skip):
            problems.append(probed)
        else:
            utts.append(probed)
    return utts, problems, log


def read_arctic(
    root: str | Path,
    speakers: Sequence[str] = ARCTIC_SPEAKERS,
    utterances_per_speaker: int = 100,
    seed: int = 0,
    on_error: str = "error",
    check: AudioCheck = "full",
) -> tuple[list[Utterance], list[Skip], list[str]]:
    """Draw ``utterances_per_speaker`` utterances per speaker from ``root/cmu_us_<spk>_arctic``.

    Returns the utterances sorted by utt_id (``<spk>_arctic_a0001``), the skipped files, and log lines
    (one per speaker with fewer utterances than requested). Unknown or repeated speaker names are
    configuration errors and always raise; data problems raise or are skipped per ``on_error``.
    """
    policy = check_on_error(on_error)
    unknown = sorted(set(speakers) - set(ARCTIC_SPEAKERS))
    if unknown:
        raise ValueError(f"unknown CMU-Arctic speaker(s) {unknown}; known: {' '.join(ARCTIC_SPEAKERS)}")
    if len(set(speakers)) != len(speakers):
        raise ValueError(f"speakers listed more than once: {list(speakers)}")
    if utterances_per_speaker < 1:
        raise ValueError(f"utterances_per_speaker must be >= 1, got {utterances_per_speaker}")
    utts: list[Utterance] = []
    problems: list[Skip] = []
    log: list[str] = []
    for speaker in sorted(speakers):
        spk_utts, spk_problems, spk_log = _read_speaker(
            Path(root), speaker, utterances_per_speaker, seed, check
        )
        utts.extend(spk_utts)
        problems.extend(spk_problems)
        log.extend(spk_log)
    skips = resolve_problems(problems, policy, f"CMU-Arctic at {root}")
    if not utts:
        raise NoUsableUtterances(f"CMU-Arctic at {root}", skips)
    return sorted(utts, key=lambda u: u.utt_id), skips, log

"""LibriSpeech reader: ``<subset>/<spk>/<chap>/<spk>-<chap>-<utt>.flac`` plus ``<spk>-<chap>.trans.txt``.

Audio and transcripts are joined per chapter folder and every mismatch is reported by name, because
a partly extracted or hand-copied corpus otherwise shows up much later as a short manifest. Audio with
no transcript (no ``.trans.txt``, or no line for it: audio a user has no text for) is *not* a problem:
Study A needs no text, so it enters the manifest with an empty transcript, and the stages that need
text (ASR, Study B) refuse it by name. A transcript line without audio still is a problem.
"""

from __future__ import annotations

from pathlib import Path

from nacbench.data.manifest import (
    AudioCheck,
    DatasetError,
    NoUsableUtterances,
    Skip,
    Utterance,
    check_on_error,
    probe_utterance,
    resolve_problems,
)


def find_subset_dir(root: str | Path, subset: str) -> Path:
    """Accept ``root/LibriSpeech/<subset>``, ``root/<subset>`` or ``root`` being the subset folder."""
    root = Path(root)
    candidates = [root / "LibriSpeech" / subset, root / subset, root]
    for candidate in candidates[:2]:
        if candidate.is_dir():
            return candidate
    if root.is_dir() and root.name == subset:
        return root
    tried = ", ".join(str(c) for c in candidates)
    raise DatasetError(f"LibriSpeech {subset!r} not found under {root}: tried {tried}")


def parse_transcripts(trans_file: Path) -> tuple[dict[str, str], list[Skip]]:
    """Map utterance id to text; malformed or repeated lines come back as problems naming the line."""
    texts: dict[str, str] = {}
    problems: list[Skip] = []
    for number, line in enumerate(trans_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        utt_id, _, text = line.strip().partition(" ")
        where = f"{trans_file}:{number}"
        if not text.strip():
            problems.append(Skip(utt_id, where, "transcript line has no text"))
        elif utt_id in texts:
            problems.append(Skip(utt_id, where, "utterance listed twice in the transcript"))
        else:
            texts[utt_id] = text.strip()
    return texts, problems


def _read_chapter(chapter: Path, speaker: str, check: AudioCheck) -> tuple[list[Utterance], list[Skip]]:
    """Join one chapter folder's flac files with its transcript file."""
    prefix = f"{speaker}-{chapter.name}"
    trans_file = chapter / f"{prefix}.trans.txt"
    audio = {p.stem: p for p in chapter.glob("*.flac")}
    texts, problems = parse_transcripts(trans_file) if trans_file.is_file() else ({}, [])
    for utt_id in sorted(texts.keys() - audio.keys()):
        problems.append(
            Skip(utt_id, str(chapter / f"{utt_id}.flac"), f"listed in {trans_file.name} but no audio")
        )
    utts: list[Utterance] = []
    for utt_id in sorted(audio):
        path = audio[utt_id]
        if not utt_id.startswith(prefix + "-"):
            problems.append(Skip(utt_id, str(path), f"file name does not start with {prefix}-"))
            continue
        text = texts.get(utt_id, "")  # no text: recorded as empty, refused only where text is needed
        probed = probe_utterance(utt_id, speaker, path, text, check)
        if isinstance(probed, Skip):
            problems.append(probed)
        else:
            utts.append(probed)
    return utts, problems


def read_librispeech(
    root: str | Path, subset: str = "test-clean", on_error: str = "error", check: AudioCheck = "full"
) -> tuple[list[Utterance], list[Skip]]:
    """Read every utterance of a LibriSpeech subset, sorted by utt_id.

    ``on_error="error"`` raises one :class:`DatasetError` listing every problem (bad audio, transcript
    line without audio, wrong rate, non-mono); audio without a transcript gets an empty one.
    ``"skip"`` leaves those files out and returns them as :class:`Skip` records for ``skipped.tsv``.
    An empty result is always an error (:class:`NoUsableUtterances`, listing every file left out and
    why). ``check`` is how deeply audio is verified (see :func:`probe_audio`).
    """
    policy = check_on_error(on_error)
    subset_dir = find_subset_dir(root, subset)
    utts: list[Utterance] = []
    problems: list[Skip] = []
    for speaker_dir in sorted(p for p in subset_dir.iterdir() if p.is_dir()):
        for chapter in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
            chapter_utts, chapter_problems = _read_chapter(chapter, speaker_dir.name, check)
            utts.extend(chapter_utts)
            problems.extend(chapter_problems)
    skips = resolve_problems(problems, policy, f"LibriSpeech {subset} at {subset_dir}")
    if not utts:
        raise NoUsableUtterances(f"LibriSpeech {subset} at {subset_dir}", skips)
    return sorted(utts, key=lambda u: u.utt_id), skips

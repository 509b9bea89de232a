"""Turn corpus reader output into Kaldi-style data dirs with 16 kHz audio, in parallel.

For one split of one language: normalise the text, catch duplicate ids and clips, decode every
clip to ``DUMP/<iso3>/<split>/<utt>.wav`` (``--nj`` processes, progress bar), drop utterances
outside the duration limits, and write ``DATA/<iso3>/<split>/`` atomically with a
``report.json`` counting what was skipped and why. A split whose dir is complete is not touched.
A clip whose decoded length differs from the length the corpus gives (Common Voice's
``clip_durations.tsv``) by more than ``duration_tolerance`` (default ``DURATION_TOLERANCE``) is
bad audio (a truncated download still decodes).

One writer per split: a split's data dir and dump dir are locked (:mod:`lamer.data.lock`)
while it is prepared; a second run waits for the first and then finds the split complete.
Once locked, temporaries a killed run left are removed. Pool workers die with the process
that started them (Linux), so killing preparation leaves no worker writing into the dump.

The text of a language with a ``lang.yaml`` in ``--lang-dir`` (:mod:`lamer.data.lang_config`)
is normalised with its overrides, which ``report.json`` records under ``text_rules``; a complete
dir prepared under other overrides is an error rather than silently kept.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from lamer.atomic import remove_stale_temps
from lamer.data.audio import AUDIO_FORMATS, TARGET_RATE, convert_clip
from lamer.data.datadir_io import Utterance, is_complete, write_data_dir
from lamer.data.errors import BadRows, DataError, DiskFull
from lamer.data.lang_config import LangConfig, load_lang_configs
from lamer.data.lock import output_lock
from lamer.data.source import SourceUtterance
from lamer.data.text import DEFAULT_RULES, TextRules, control_characters, normalize_text
from lamer.layout import split_dir
from lamer.progress import progress

logger = logging.getLogger(__name__)

# (utterance id, encoded clip or its path, destination file)
Job = tuple[str, Path | bytes, Path]
SplitReader = Callable[[BadRows], list[SourceUtterance]]
# decoded length vs the corpus' own figure: real Common Voice MP3s agree within 20 ms
DURATION_TOLERANCE = 0.05
_PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True)
class PrepareOptions:
    """Settings shared by every split: parallel jobs, bad-row policy, filters, audio format, and
    the recipe's per-language folder (``lang_dir/<iso3>/lang.yaml``, optional), how long to wait
    for another run writing the same split (``lock_timeout`` seconds; None: no limit), and how far
    (seconds) a clip's decoded length may be from the length the corpus gives."""

    nj: int = 1
    skip_bad: bool = False
    min_duration: float = 0.5
    max_duration: float = 60.0
    audio_format: str = "wav"
    lang_dir: Path | None = None
    lock_timeout: float | None = None
    duration_tolerance: float = DURATION_TOLERANCE

    def __post_init__(self) -> None:
        if self.audio_format not in AUDIO_FORMATS:
            raise ValueError(f"audio format {self.audio_format!r}: choose one of {', '.join(AUDIO_FORMATS)}")
        if self.duration_tolerance < 0:
            raise ValueError(f"duration tolerance {self.duration_tolerance} s must not be negative")
        if not 0 <= self.min_duration < self.max_duration:
            raise ValueError(f"duration limits {self.min_duration}..{self.max_duration} s are empty")


def _convert(job: Job) -> tuple[str, int | None, str | None]:
    """Worker: convert one clip; failures come back as text so one bad clip cannot kill the pool.
    A full disk is no clip's fault: :class:`DiskFull` is raised, and stops the run."""
    utt_id, source, dst = job
    try:
        return utt_id, convert_clip(source, dst), None
    except DiskFull:
        raise
    except Exception as err:  # noqa: BLE001 - any decoder failure is reported per clip
        return utt_id, None, f"{type(err).__name__}: {err}"


def _die_with_parent(parent: int) -> None:
    """Pool initializer: the kernel kills this worker when ``parent``, the process that started
    it, dies however it dies (SIGTERM, SIGINT, SIGKILL), so no orphan keeps writing into the dump."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)


def _run(jobs: Iterable[Job], total: int, nj: int, desc: str) -> Iterator[tuple[str, int | None, str | None]]:
    with progress(total=total, desc=desc, unit="utt", mininterval=1.0) as bar:
        if nj <= 1:
            for job in jobs:
                yield _convert(job)
                bar.update()
            return
        with ProcessPoolExecutor(nj, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            pending: set = set()
            try:
                for job in jobs:
                    pending.add(pool.submit(_convert, job))
                    if len(pending) >= 4 * nj:  # bounded: archive members are held in memory
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        yield from (future.result() for future in done)
                        bar.update(len(done))
                for future in list(pending):
                    pending.discard(future)
                    yield future.result()
                    bar.update()
            finally:  # a worker's DiskFull (or any stop): clips not started are not started
                for future in pending:
                    future.cancel()


def _jobs(sources: list[SourceUtterance], dump_dir: Path, suffix: str, missing: list[SourceUtterance]) -> Iterator[Job]:
    """Conversion jobs: clip files by path, archive members streamed once per archive.

    Members requested but not found in their archive are appended to ``missing``.
    """
    by_archive: dict[Path, dict[str, SourceUtterance]] = {}
    for src in sources:
        if src.member is None:
            yield src.utt_id, src.audio, dump_dir / f"{src.utt_id}.{suffix}"
        else:
            by_archive.setdefault(src.audio, {})[_member_key(src.member)] = src
    for archive, wanted in by_archive.items():
        try:
            with tarfile.open(archive, "r|*") as tar:  # stream: .tar.gz cannot seek cheaply
                for member in tar:
                    src = wanted.pop(_member_key(member.name), None) if member.isfile() else None
                    if src is not None:
                        yield src.utt_id, tar.extractfile(member).read(), dump_dir / f"{src.utt_id}.{suffix}"
        except (tarfile.TarError, OSError, EOFError) as err:
            raise DataError(f"{archive}: unreadable archive ({type(err).__name__}: {err})") from err
        missing.extend(wanted.values())


def _member_key(name: str) -> str:
    """Archive member name without a leading ``./`` (some re-packed copies add it)."""
    return name[2:] if name.startswith("./") else name


def _check_sources(
    sources: list[SourceUtterance], rules: TextRules, bad: BadRows, filtered: Counter
) -> list[tuple[SourceUtterance, str]]:
    """Sources with their normalised text, less transcripts with control characters and duplicate
    ids/clips (bad rows) and empty text (filtered)."""
    seen_ids: dict[str, str] = {}
    seen_clips: dict[tuple[Path, str | None], str] = {}
    kept = []
    for src in sources:
        text = normalize_text(src.text_raw, src.lang, rules)
        clip = (src.audio, src.member)
        if controls := control_characters(src.text_raw):
            codes = ", ".join(f"U+{ord(char):04X}" for char in controls)
            bad.bad(src.origin, f"the transcript {src.text_raw!r} holds control character(s) {codes}: a damaged "
                    "line; correct it", "bad_text")
        elif src.utt_id in seen_ids:
            bad.bad(src.origin, f"duplicate utterance id {src.utt_id} (first at {seen_ids[src.utt_id]})", "duplicate")
        elif clip in seen_clips:
            bad.bad(src.origin, f"clip {src.describe_audio()} listed twice (first at {seen_clips[clip]})", "duplicate")
        elif not text:
            filtered["empty_text"] += 1
        else:
            seen_ids[src.utt_id] = seen_clips[clip] = src.origin
            kept.append((src, text))
    return kept


def _text_rules_record(config: LangConfig | None) -> dict[str, object] | None:
    """What ``report.json`` says about the text overrides: their file and settings, or None."""
    changes = config.text.changes() if config else {}
    return {"file": str(config.path), **changes} if changes else None


def prepare_split(
    sources: list[SourceUtterance], out_dir: Path, dump_dir: Path, options: PrepareOptions, bad: BadRows,
    config: LangConfig | None = None,
) -> Path:
    """Convert the audio of ``sources`` and write the data dir ``out_dir`` (see module doc).

    ``config`` holds the language's text overrides, if it has any.
    """
    filtered: Counter = Counter()
    checked = _check_sources(sources, config.text if config else DEFAULT_RULES, bad, filtered)
    sources = [src for src, _ in checked]
    by_id = {src.utt_id: src for src in sources}
    texts = {src.utt_id: text for src, text in checked}
    dump_dir.mkdir(parents=True, exist_ok=True)
    missing: list[SourceUtterance] = []
    utterances = []
    jobs = _jobs(sources, dump_dir, options.audio_format, missing)
    for utt_id, frames, error in _run(jobs, len(sources), options.nj, f"{out_dir.parent.name}/{out_dir.name}"):
        src = by_id[utt_id]
        wav = dump_dir / f"{utt_id}.{options.audio_format}"
        if error is not None:
            bad.bad(src.origin, f"cannot decode {src.describe_audio()} (corrupt or unsupported audio): {error}",
                    "bad_audio")
            continue
        duration = frames / TARGET_RATE
        if src.expected_duration is not None and abs(duration - src.expected_duration) > options.duration_tolerance:
            wav.unlink()
            bad.bad(src.origin, f"{src.describe_audio()} decodes to {duration:.3f} s but {src.duration_origin} gives "
                    f"{src.expected_duration:.3f} s: truncated or damaged clip; download it again", "bad_audio")
            continue
        if not options.min_duration <= duration <= options.max_duration:
            filtered["too_short" if duration < options.min_duration else "too_long"] += 1
            wav.unlink()
            continue
        utterances.append(Utterance(utt_id, src.speaker, src.lang, texts[utt_id],
                                    str(wav.resolve()), duration, " ".join(src.text_raw.split())))
    for src in missing:
        bad.bad(src.origin, f"clip {src.member} not found in {src.audio}", "missing_audio")
    report = {
        "utterances": len(utterances),
        "hours": round(sum(u.duration for u in utterances) / 3600, 4),
        "filtered": dict(filtered),
        "skipped_bad": bad.counts(),
        "skipped_rows": bad.skipped,
    }
    rules_record = _text_rules_record(config)
    if rules_record:
        report["text_rules"] = rules_record
    if not utterances:
        logger.warning("%s: no utterances left; the data dir will be empty", out_dir)
    logger.info("%s: %d utterances, %.2f h, filtered %s, skipped %s", out_dir, len(utterances),
                report["hours"], dict(filtered), bad.counts())
    return write_data_dir(utterances, out_dir, extra=report)


def _check_same_rules(out_dir: Path, config: LangConfig | None) -> None:
    """A complete dir must have been prepared under the text overrides asked for now."""
    report = out_dir / "report.json"
    recorded = json.loads(report.read_text(encoding="utf-8")).get("text_rules") if report.is_file() else None
    wanted = _text_rules_record(config)
    settings = [{k: v for k, v in (r or {}).items() if k != "file"} for r in (recorded, wanted)]
    if settings[0] != settings[1]:
        raise DataError(f"{out_dir}: prepared with text overrides {settings[0] or 'none'}, now asked for "
                        f"{settings[1] or 'none'}; remove {out_dir} to prepare it again")


def prepare_languages(
    readers: Mapping[str, Mapping[str, SplitReader]], data_root: Path, dump_root: Path, options: PrepareOptions
) -> dict[str, dict[str, Path]]:
    """Prepare every split of every language: ``data_root/<iso3>/<split>/``; finished splits are kept.

    ``readers`` maps an ISO 639-3 code to its splits, each a function reading the split's
    source utterances; it is only called for splits that are not complete yet, so re-running a
    finished language is a no-op. The languages' ``lang.yaml`` files are all checked first.
    Each split is prepared under the lock of its data and dump dirs (see module doc).
    """
    if Path(data_root).resolve() == Path(dump_root).resolve():
        raise DataError(f"{data_root}: the data root and the dump root must be different folders")
    configs = load_lang_configs(options.lang_dir, readers)
    for iso3, config in configs.items():
        if config.text.changes():
            logger.info("%s: text overrides from %s: %s", iso3, config.path, config.text.changes())
    prepared: dict[str, dict[str, Path]] = {}
    for iso3, splits in readers.items():
        for split, read in splits.items():
            out_dir, dump_dir = (Path(split_dir(str(root), iso3, split)) for root in (data_root, dump_root))
            with output_lock(out_dir, options.lock_timeout), output_lock(dump_dir, options.lock_timeout):
                if is_complete(out_dir):
                    _check_same_rules(out_dir, configs.get(iso3))
                    logger.info("%s: already complete, skipped", out_dir)
                else:
                    for stale in remove_stale_temps(dump_dir):
                        logger.info("removed %s, left by a killed run", stale)
                    bad = BadRows(options.skip_bad)
                    prepare_split(read(bad), out_dir, dump_dir, options, bad, configs.get(iso3))
            prepared.setdefault(iso3, {})[split] = out_dir
    return prepared

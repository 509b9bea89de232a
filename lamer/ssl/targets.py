"""Training inputs of one SSL stage: frame labels from a k-means codebook, plus ESPnet lists.

The targets of the utterances of Kaldi data dirs (new data and, optionally, a replay sample)
are made in five steps, each a function here, so that the model's forward pass (the costly
part at scale) runs as ``JOB=1:N`` array jobs over contiguous blocks of the utterances:

1. ``write_split``  (bookkeeping) records the options and the utterances: ``T/split/options.json``
   and ``T/split/items.tsv``;
2. ``write_sample`` (job J) features of J's share of the k-means fit sample: ``T/split/sample.J.npy``.
   The sample is a seeded choice of whole utterances made from the full list (``fit_sample``),
   so it is the same for every N;
3. ``fit_split``    MiniBatchKMeans on the gathered sample, in utterance order: ``T/split/codebook.*``
   (skipped when an existing codebook is reused);
4. ``write_labels`` (job J) labels of J's block, streamed: ``T/split/labels.J``, ``T/split/speech_shape.J``;
5. ``merge_split``  the lists below, in utterance order; a missing or incomplete job is an error.

``prepare_targets`` runs all five in one process (N = 1). Whatever N, T then holds what
``ssl_train`` reads, byte for byte the same:

- ``wav.scp``        ``<utt> <16 kHz wav>`` of every utterance (new and replay): an utterance
                     that is a Kaldi archive position or a segment of a recording is written as a
                     file under ``T/data/`` first (``collect_items``), as ESPnet's sound reader
                     reads files only;
- ``labels``         ``<utt> l1 l2 ...``, one k-means label per upstream frame;
- ``speech_shape``   ``<utt> <samples>`` (ESPnet's shape file, for length bucketing);
- ``utt2lang``       ``<utt> <iso>``; ``replay_utt2lang`` only the replay utterances;
- ``lang``           ``<utt> <index>`` into ``languages`` when a language list is given;
- ``codebook.npy`` / ``codebook.json`` the codebook used.

Memory: a job holds one utterance's features at a time, the fit the sample (``max_fit_frames``
frames) and the list of utterances; nothing grows with the audio.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lamer.atomic import atomic_path, write_atomic, write_json_atomic, write_text_atomic
from lamer.data.audio import TARGET_RATE, read_prepared
from lamer.data.datadir_io import read_data_dir
from lamer.data.errors import DataError
from lamer.data.format_dir import AUDIO_DIR, write_plain_audio
from lamer.data.wav_scp import NO_PIPE_HINT, refuse_pipes
from lamer.layout import CodebookFiles, TargetsDir
from lamer.progress import progress
from lamer.shards import job_block
from lamer.ssl.kmeans import assign, fit_codebook, load_codebook, save_codebook

logger = logging.getLogger(__name__)

Extract = Callable[[str, np.ndarray], np.ndarray]
WORK_DIR = TargetsDir.WORK


@dataclass(frozen=True)
class Item:
    """One utterance to label; ``duration`` in seconds (from utt2dur) sizes the k-means sample."""

    utt: str
    wav: str
    lang: str
    replay: bool
    duration: float


def collect_items(data_dirs: Sequence[Path], replay_dirs: Sequence[Path] = (),
                  out_dir: Path | None = None) -> list[Item]:
    """Utterances of the new-data dirs and the replay dirs, sorted by id; duplicate ids are an
    error, and so is a wav.scp entry that runs a command (targets run none), naming its line.
    An utterance that is not a whole audio file (an archive position, a segment) is written as
    one under ``out_dir/data/`` (the targets dir); without ``out_dir`` it is an error."""
    dirs = [(Path(d), False) for d in data_dirs] + [(Path(d), True) for d in replay_dirs]
    read = [(directory, replay, read_data_dir(directory)) for directory, replay in dirs]
    refuse_pipes([utt.entry for _, _, utts in read for utt in utts], NO_PIPE_HINT)  # before anything is written
    items: dict[str, Item] = {}
    for directory, replay, utts in read:
        cut = [utt.entry for utt in utts if not utt.entry.plain]
        if cut and out_dir is None:
            raise DataError(f"{cut[0].origin}: the audio of {cut[0].utt} is not a whole file; write the dir's audio "
                            f"to files first: python -m lamer.bin.datadir format {directory} DEST")
        audio = write_plain_audio(cut, Path(out_dir) / AUDIO_DIR, Path(out_dir) / AUDIO_DIR) if cut else {}
        for utt in utts:
            if utt.utt_id in items:
                raise ValueError(f"{directory}: utterance {utt.utt_id} appears in two input data dirs")
            wav = audio[utt.utt_id][0] if utt.utt_id in audio else utt.wav
            items[utt.utt_id] = Item(utt.utt_id, wav, utt.lang, replay, utt.duration)
    if not items:
        raise ValueError("no utterances in the given data dirs")
    return [items[k] for k in sorted(items)]


@dataclass(frozen=True)
class TargetOptions:
    """What the steps after ``write_split`` need to know, recorded in ``T/split/options.json``.

    ``feature`` is the codebook's feature description (``{"feature": "mfcc"}`` or ``{"feature":
    "layer", "layer": L}``); ``codebook`` a directory whose codebook is reused instead of fitted;
    ``model`` what the command line needs to rebuild the feature model (opaque here).
    """

    feature: dict
    num_clusters: int = 100
    codebook: str | None = None
    max_fit_frames: int = 200_000
    seed: int = 0
    languages: tuple[str, ...] = ()
    model: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    """The recorded state of a targets directory ``out_dir`` split over ``nj`` jobs."""

    out_dir: Path
    nj: int
    options: TargetOptions
    items: list[Item]

    @property
    def work(self) -> Path:
        return self.out_dir / WORK_DIR

    def block(self, job: int) -> list[Item]:
        """The utterances of job ``job`` (1-based)."""
        block = job_block(len(self.items), self.nj, job)
        return self.items[block.start:block.stop]

    def job_file(self, kind: str, job: int) -> Path:
        """``T/split/<kind>.<job>``: a job's output (``sample.J.npy``, ``labels.J``, ``speech_shape.J``)."""
        return self.work / TargetsDir.job_file_name(kind, job)


def _item_lines(items: Iterable[Item]) -> Iterable[str]:
    for i in items:
        if any(c in value for value in (i.utt, i.wav, i.lang) for c in "\t\n"):
            raise ValueError(f"utterance {i.utt!r}: a tab or newline in its id, wav path or language")
        yield f"{i.utt}\t{i.wav}\t{i.lang}\t{int(i.replay)}\t{i.duration!r}\n"


def write_split(out_dir: Path, items: Sequence[Item], options: TargetOptions, nj: int) -> Split:
    """Record ``items`` and ``options`` split over ``nj`` jobs in ``out_dir/split``.

    Re-running it with the same inputs keeps the jobs' outputs; with other inputs (data,
    options or ``nj``) it removes them, so that no step reads a stale shard.
    """
    out_dir = Path(out_dir)
    if options.languages:
        unknown = sorted({i.lang for i in items} - set(options.languages))
        if unknown:
            raise ValueError(f"languages {unknown} of the data are not in the language list {list(options.languages)}")
    if not items:
        raise ValueError("no utterances to label")
    job_block(len(items), nj, 1)  # checks nj
    lines = list(_item_lines(items))
    digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    record = {"nj": nj, "items_sha256": digest, "options": asdict(options)}
    work = out_dir / WORK_DIR
    recorded = work / TargetsDir.OPTIONS
    if recorded.is_file() and json.loads(recorded.read_text(encoding="utf-8")) == json.loads(json.dumps(record)):
        logger.info("%s: already split the same way; keeping the jobs' outputs", work)
    else:
        if work.exists():
            shutil.rmtree(work)
        write_atomic(work / TargetsDir.ITEMS, lambda handle: handle.writelines(line.encode("utf-8") for line in lines))
        write_json_atomic(recorded, record)
    return Split(out_dir, nj, options, list(items))


def read_split(out_dir: Path) -> Split:
    """The split recorded by ``write_split`` in ``out_dir``."""
    out_dir = Path(out_dir)
    recorded = out_dir / WORK_DIR / TargetsDir.OPTIONS
    if not recorded.is_file():
        raise FileNotFoundError(f"{recorded}: missing: run `python -m lamer.bin.ssl_targets split --out_dir "
                                f"{out_dir} --nj N ...` first")
    record = json.loads(recorded.read_text(encoding="utf-8"))
    options = dict(record["options"])
    options["languages"] = tuple(options["languages"])
    items = []
    with open(out_dir / WORK_DIR / TargetsDir.ITEMS, encoding="utf-8") as handle:
        for utt, wav, lang, replay, duration in (line.rstrip("\n").split("\t") for line in handle):
            items.append(Item(utt, wav, lang, replay == "1", float(duration)))
    return Split(out_dir, int(record["nj"]), TargetOptions(**options), items)


def fit_sample(items: Sequence[Item], max_fit_frames: int, seed: int, hop: int) -> list[bool]:
    """Which utterances make the k-means sample: whole utterances, in a seeded random order, taken
    while their frames (estimated from utt2dur, ``hop`` samples per frame) fit in ``max_fit_frames``
    (at least one). Decided from the whole list, so every split of it gives the same sample;
    ``fit_split`` enforces the bound exactly."""
    chosen = [False] * len(items)
    budget = max_fit_frames
    for index in np.random.default_rng(seed).permutation(len(items)):
        frames = int(items[index].duration * TARGET_RATE) // hop
        if frames > budget and budget < max_fit_frames:
            break
        chosen[index] = True
        budget -= frames
    return chosen


def require_fit(split: Split, step: str) -> None:
    """Refuse the k-means ``step`` (sample or fit) of a split that reuses a codebook."""
    if split.options.codebook is not None:
        raise ValueError(f"{split.out_dir}: split with --codebook {split.options.codebook}: its labels use that "
                         f"codebook, there is no k-means {step} to run (go on with `label`)")


def write_sample(split: Split, job: int, extract: Extract, hop: int) -> Path:
    """Features of job ``job``'s share of the k-means sample, in utterance order: ``sample.J.npy``."""
    require_fit(split, "sample")
    chosen = fit_sample(split.items, split.options.max_fit_frames, split.options.seed, hop)
    first = job_block(len(split.items), split.nj, job).start
    mine = [item for offset, item in enumerate(split.block(job)) if chosen[first + offset]]
    chunks = [extract(item.utt, read_prepared(item.wav))
              for item in progress(mine, desc=f"k-means sample, job {job}/{split.nj}", unit="utt")]
    frames = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)
    path = split.job_file(TargetsDir.SAMPLE, job)
    write_atomic(path, lambda handle: np.save(handle, frames, allow_pickle=False))
    return path


def _missing(split: Split, kinds: Sequence[str], step: str) -> None:
    missing = [str(split.job_file(kind, job)) for job in range(1, split.nj + 1) for kind in kinds
               if not split.job_file(kind, job).is_file()]
    if missing:
        raise FileNotFoundError(f"{split.out_dir}: {len(missing)} job output(s) missing: {', '.join(missing)}; "
                                f"run `python -m lamer.bin.ssl_targets {step} --out_dir {split.out_dir} --job J` "
                                "for those jobs")


def fit_split(split: Split) -> np.ndarray:
    """Fit the codebook on the gathered sample (jobs in order, at most ``max_fit_frames`` frames)."""
    require_fit(split, "fit")
    _missing(split, [TargetsDir.SAMPLE], "sample")
    parts = [np.load(split.job_file(TargetsDir.SAMPLE, job), mmap_mode="r", allow_pickle=False)
             for job in range(1, split.nj + 1)]
    parts = [part for part in parts if part.shape[0]]
    if not parts:
        raise ValueError(f"{split.out_dir}: the k-means sample is empty")
    dims = {part.shape[1] for part in parts}
    if len(dims) != 1:
        raise ValueError(f"{split.work}: sample files of different dimensions {sorted(dims)}: re-run `sample`")
    frames = np.empty((sum(part.shape[0] for part in parts), dims.pop()), np.float32)
    start = 0
    for part in parts:  # copied from the memory-mapped files, one at a time: the sample is held once
        frames[start:start + part.shape[0]] = part
        start += part.shape[0]
    if frames.shape[0] > split.options.max_fit_frames:
        keep = np.random.default_rng(split.options.seed).choice(frames.shape[0], split.options.max_fit_frames,
                                                                 replace=False)
        frames = frames[np.sort(keep)]
    logger.info("fitting %d clusters on %d frames of %d dims", split.options.num_clusters, *frames.shape)
    codebook = fit_codebook(frames, split.options.num_clusters, split.options.seed)
    save_codebook(split.work, codebook, split.options.feature)
    return codebook


def codebook_of(split: Split) -> tuple[np.ndarray, dict]:
    """The codebook the labels use: the reused one (checked against the features) or the fitted one."""
    if split.options.codebook is None:
        if not (split.work / CodebookFiles.ARRAY).is_file():
            raise FileNotFoundError(f"{split.work / CodebookFiles.ARRAY}: missing: run `python -m "
                                    f"lamer.bin.ssl_targets fit --out_dir {split.out_dir}` first")
        return load_codebook(split.work)
    codebook, meta = load_codebook(Path(split.options.codebook))
    if {k: meta.get(k) for k in split.options.feature} != split.options.feature:
        raise ValueError(f"{split.options.codebook}: codebook clusters {meta}, not the requested features "
                         f"{split.options.feature}")
    return codebook, meta


def write_labels(split: Split, job: int, extract: Extract, codebook: np.ndarray) -> None:
    """Labels and sample counts of job ``job``'s utterances, written as they are made."""
    block = split.block(job)
    with atomic_path(split.job_file(TargetsDir.LABELS, job)) as labels_tmp, \
            atomic_path(split.job_file(TargetsDir.SPEECH_SHAPE, job)) as shape_tmp, \
            open(labels_tmp, "w", encoding="utf-8") as labels, open(shape_tmp, "w", encoding="utf-8") as shapes:
        for item in progress(block, desc=f"frame labels, job {job}/{split.nj}", unit="utt"):
            wav = read_prepared(item.wav)
            values = assign(extract(item.utt, wav), codebook)
            labels.write(f"{item.utt} {' '.join(map(str, values.tolist()))}\n")
            shapes.write(f"{item.utt} {len(wav)}\n")


def _job_lines(split: Split, kind: str) -> Iterable[tuple[str, str]]:
    """(utterance, line) of every job's ``kind`` file in order; a line of another utterance than
    the split expects (an incomplete or stale job output) is an error naming the file and line."""
    for job in range(1, split.nj + 1):
        path = split.job_file(kind, job)
        expected = iter(split.block(job))
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                utt = line.split(" ", 1)[0]
                item = next(expected, None)
                if item is None or item.utt != utt or not line.endswith("\n"):
                    raise ValueError(f"{path}:{number}: utterance {utt!r}, expected "
                                     f"{item.utt if item else 'the end of the file'}: an incomplete or stale output "
                                     f"of job {job}; run `label --job {job}` again")
                yield utt, line
        left = next(expected, None)
        if left is not None:
            raise ValueError(f"{path}: ends before utterance {left.utt}: an incomplete output of job {job}; "
                             f"run `label --job {job}` again")


def merge_split(split: Split) -> dict:
    """Write T's lists and codebook from the jobs' outputs; returns a summary of the labels."""
    codebook, meta = codebook_of(split)
    _missing(split, [TargetsDir.LABELS, TargetsDir.SPEECH_SHAPE], "label")
    counts = np.zeros(codebook.shape[0], np.int64)

    def copy_labels(handle) -> None:
        for _, line in _job_lines(split, TargetsDir.LABELS):
            values = np.array(line.split()[1:], dtype=np.int64)
            counts[:] += np.bincount(values, minlength=codebook.shape[0])
            handle.write(line.encode("utf-8"))

    write_atomic(split.out_dir / TargetsDir.LABELS, copy_labels)
    shapes = (line.encode("utf-8") for _, line in _job_lines(split, TargetsDir.SPEECH_SHAPE))
    write_atomic(split.out_dir / TargetsDir.SPEECH_SHAPE, lambda handle: handle.writelines(shapes))
    items = split.items
    lists = {
        TargetsDir.WAV_SCP: [f"{i.utt} {i.wav}" for i in items],
        TargetsDir.UTT2LANG: [f"{i.utt} {i.lang}" for i in items],
        TargetsDir.REPLAY_UTT2LANG: [f"{i.utt} {i.lang}" for i in items if i.replay],
    }
    if split.options.languages:
        index = {lang: n for n, lang in enumerate(split.options.languages)}
        lists[TargetsDir.LANG] = [f"{i.utt} {index[i.lang]}" for i in items]
    for name, lines in lists.items():
        write_text_atomic(split.out_dir / name, "".join(line + "\n" for line in lines))
    save_codebook(split.out_dir, codebook, meta)
    return {"utterances": len(items), "replay_utterances": sum(i.replay for i in items),
            "frames": int(counts.sum()), "clusters": int(codebook.shape[0]),
            "clusters_used": int((counts > 0).sum())}


class FeatureMemo:
    """``extract`` that keeps up to ``max_frames`` frames of its outputs for one more call per utterance.

    In one process (``prepare_targets``) the k-means sample's utterances are extracted for the
    fit and again for their labels; with the memo, the labelling takes the sample's features
    (the same array, so the labels are identical) instead of running the upstream twice.
    Memory stays within ``max_frames`` frames, the bound the k-means sample already has.
    """

    def __init__(self, extract: Extract, max_frames: int) -> None:
        self.extract, self.max_frames = extract, max_frames
        self.kept: dict[str, np.ndarray] = {}
        self.kept_frames = 0

    def __call__(self, utt: str, wav: np.ndarray) -> np.ndarray:
        if utt in self.kept:
            feats = self.kept.pop(utt)  # each utterance is labelled once: free it as it is used
            self.kept_frames -= feats.shape[0]
            return feats
        feats = self.extract(utt, wav)
        if self.kept_frames + feats.shape[0] <= self.max_frames:
            self.kept[utt] = feats
            self.kept_frames += feats.shape[0]
        return feats


def run_split(split: Split, extract: Extract, hop: int) -> dict:
    """Every step of a one-job ``split`` in this process; returns the summary of ``merge_split``.

    The k-means sample's features are kept (``FeatureMemo``) so the upstream runs once per utterance.
    """
    if split.nj != 1:
        raise ValueError(f"{split.out_dir}: split over {split.nj} jobs; run_split runs one job")
    if split.options.codebook is None:
        extract = FeatureMemo(extract, split.options.max_fit_frames)
        write_sample(split, 1, extract, hop)
        fit_split(split)
    write_labels(split, 1, extract, codebook_of(split)[0])
    return merge_split(split)


def prepare_targets(items: Sequence[Item], extract: Extract, out_dir: Path, feature_meta: dict,
                    num_clusters: int = 100, codebook_dir: Path | None = None, max_fit_frames: int = 200_000,
                    seed: int = 0, languages: Sequence[str] = (), hop: int = 320) -> dict:
    """Fit (or reuse from ``codebook_dir``) a codebook, label every item, write ``out_dir``, in this
    process; returns the summary of ``merge_split``. ``hop`` (samples per upstream frame) only sizes
    the k-means sample."""
    options = TargetOptions(dict(feature_meta), num_clusters, None if codebook_dir is None else str(codebook_dir),
                            max_fit_frames, seed, tuple(languages))
    return run_split(write_split(out_dir, items, options, nj=1), extract, hop)

"""Training inputs of one SSL stage: frame labels from a k-means codebook, plus ESPnet lists.

``prepare_targets`` reads Kaldi data dirs (new data and, optionally, a replay sample), fits
or reuses a codebook, and writes one directory that ``ssl_train`` reads:

- ``wav.scp``        ``<utt> <16 kHz wav>`` of every utterance (new and replay);
- ``labels``         ``<utt> l1 l2 ...``, one k-means label per upstream frame;
- ``speech_shape``   ``<utt> <samples>`` (ESPnet's shape file, for length bucketing);
- ``utt2lang``       ``<utt> <iso>``; ``replay_utt2lang`` only the replay utterances;
- ``lang``           ``<utt> <index>`` into ``languages`` when a language list is given;
- ``codebook.npy`` / ``codebook.json`` the codebook used.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from lamer.data.datadir import read_data_dir
from lamer.atomic import write_text_atomic
from lamer.data.audio import read_prepared
from lamer.ssl.kmeans import assign, fit_codebook, load_codebook, save_codebook

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One utterance to label."""

    utt: str
    wav: str
    lang: str
    replay: bool


def collect_items(data_dirs: Sequence[Path], replay_dirs: Sequence[Path] = ()) -> list[Item]:
    """Utterances of the new-data dirs and the replay dirs, sorted by id; duplicate ids are an error."""
    items: dict[str, Item] = {}
    for directory, replay in [(d, False) for d in data_dirs] + [(d, True) for d in replay_dirs]:
        for utt in read_data_dir(Path(directory)):
            if utt.utt_id in items:
                raise ValueError(f"{directory}: utterance {utt.utt_id} appears in two input data dirs")
            items[utt.utt_id] = Item(utt.utt_id, utt.wav, utt.lang, replay)
    if not items:
        raise ValueError("no utterances in the given data dirs")
    return [items[k] for k in sorted(items)]


class FeatureMemo:
    """``extract`` that keeps up to ``max_frames`` frames of its outputs for one more call per utterance.

    Fitting a codebook extracts every utterance once and labelling it extracts it again; with the
    memo, the labelling pass takes the k-means pass's features (the same array, so the labels are
    identical) instead of running the upstream twice. Memory stays within ``max_frames`` frames,
    the bound the k-means sample already has; utterances beyond it are extracted again.
    """

    def __init__(self, extract: Callable[[str, np.ndarray], np.ndarray], max_frames: int) -> None:
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


def sample_frames(items: Sequence[Item], extract: Callable[[str, np.ndarray], np.ndarray], max_frames: int,
                  seed: int = 0) -> np.ndarray:
    """Features of up to about ``max_frames`` frames drawn evenly from every utterance, for k-means."""
    rng = np.random.default_rng(seed)
    total_samples = sum(_num_samples(i.wav) for i in items)
    share = 1.0
    chunks = []
    for item in tqdm(items, desc="features for k-means", unit="utt"):
        feats = extract(item.utt, read_prepared(item.wav))
        if not chunks:  # frames per sample from the first utterance sets the subsampling share
            share = min(1.0, max_frames / max(1.0, total_samples * feats.shape[0] / max(1, _num_samples(item.wav))))
        chunks.append(feats[rng.random(feats.shape[0]) < share] if share < 1.0 else feats)
    return np.concatenate(chunks)


def _num_samples(path: str) -> int:
    import soundfile as sf

    return sf.info(path).frames


def label_items(items: Sequence[Item], extract: Callable[[str, np.ndarray], np.ndarray],
                codebook: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """``{utt: (labels (T,), samples)}`` for every item."""
    out = {}
    for item in tqdm(items, desc="frame labels", unit="utt"):
        wav = read_prepared(item.wav)
        out[item.utt] = (assign(extract(item.utt, wav), codebook), len(wav))
    return out


def write_lists(out_dir: Path, items: Sequence[Item], labels: dict[str, tuple[np.ndarray, int]],
                languages: Sequence[str] = ()) -> None:
    """Write wav.scp, labels, speech_shape, utt2lang, replay_utt2lang (and lang) atomically."""
    out_dir = Path(out_dir)
    files = {
        "wav.scp": [f"{i.utt} {i.wav}" for i in items],
        "labels": [f"{i.utt} {' '.join(map(str, labels[i.utt][0].tolist()))}" for i in items],
        "speech_shape": [f"{i.utt} {labels[i.utt][1]}" for i in items],
        "utt2lang": [f"{i.utt} {i.lang}" for i in items],
        "replay_utt2lang": [f"{i.utt} {i.lang}" for i in items if i.replay],
    }
    if languages:
        unknown = sorted({i.lang for i in items} - set(languages))
        if unknown:
            raise ValueError(f"languages {unknown} of the data are not in the language list {list(languages)}")
        files["lang"] = [f"{i.utt} {list(languages).index(i.lang)}" for i in items]
    for name, lines in files.items():
        write_text_atomic(out_dir / name, "".join(line + "\n" for line in lines))


def prepare_targets(items: Sequence[Item], extract: Callable[[str, np.ndarray], np.ndarray], out_dir: Path,
                    feature_meta: dict, num_clusters: int = 100, codebook_dir: Path | None = None,
                    max_fit_frames: int = 200_000, seed: int = 0, languages: Sequence[str] = ()) -> dict:
    """Fit (or reuse from ``codebook_dir``) a codebook, label every item, write ``out_dir``; returns a summary."""
    out_dir = Path(out_dir)
    if codebook_dir is not None:
        codebook, meta = load_codebook(codebook_dir)
        if {k: meta.get(k) for k in feature_meta} != feature_meta:
            raise ValueError(f"{codebook_dir}: codebook clusters {meta}, not the requested features {feature_meta}")
        logger.info("reusing codebook %s (%d clusters)", codebook_dir, codebook.shape[0])
    else:
        extract = FeatureMemo(extract, max_fit_frames)
        frames = sample_frames(items, extract, max_fit_frames, seed)
        logger.info("fitting %d clusters on %d frames of %d dims", num_clusters, *frames.shape)
        codebook, meta = fit_codebook(frames, num_clusters, seed), dict(feature_meta)
    save_codebook(out_dir, codebook, meta)
    labels = label_items(items, extract, codebook)
    write_lists(out_dir, items, labels, languages)
    counts = np.bincount(np.concatenate([v[0] for v in labels.values()]), minlength=codebook.shape[0])
    return {"utterances": len(items), "replay_utterances": sum(i.replay for i in items),
            "frames": int(counts.sum()), "clusters": int(codebook.shape[0]),
            "clusters_used": int((counts > 0).sum())}

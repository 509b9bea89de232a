"""The steps of ``python -m lamer.bin.ssl_targets``, one call each: what the tool runs for a step.

``split`` records the options and the utterances over N jobs in OUT_DIR/split
(:func:`lamer.ssl.targets.write_split`); ``sample`` and ``label`` run job J of them with the
upstream's features (:func:`feature_extractor`, on the job's device), ``fit`` fits the k-means
codebook on the sample and ``merge`` writes OUT_DIR's lists; ``run`` does all of it in one process.
Each later step reads what ``split`` recorded, so its options are given once.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lamer.ssl.targets import (
    Extract,
    Split,
    TargetOptions,
    codebook_of,
    collect_items,
    fit_split,
    merge_split,
    read_split,
    require_fit,
    run_split,
    write_labels,
    write_sample,
    write_split,
)

logger = logging.getLogger(__name__)


def feature_extractor(options: TargetOptions, device: str = "cpu") -> tuple[Extract, int]:
    """(extract, hop): the checked feature function of ``options`` on ``device``, and the upstream's
    samples per frame. RuntimeError when ``device`` is cuda and the job sees no GPU."""
    import torch

    from lamer.adapters import load_adapters
    from lamer.ssl.features import checked, layer_extractor, mfcc_extractor, receptive_field
    from lamer.ssl.methods import build_ssl_upstream

    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is visible to this job (torch.cuda.is_available() is "
                           "False); ask the queue for a GPU or use --device cpu")
    loaded = build_ssl_upstream(options.model.get("upstream", "tiny"), options.model.get("family"))
    upstream = loaded.model
    if options.model.get("adapters"):
        load_adapters(upstream, Path(options.model["adapters"]))
    if options.feature["feature"] == "mfcc":
        extract = mfcc_extractor(*receptive_field(upstream))
    else:
        extract = layer_extractor(upstream, options.feature["layer"], loaded.normalize, device)
    return checked(extract, upstream), receptive_field(upstream)[1]


def split_targets(out_dir: Path, data_dirs: Sequence[Path], replay_dirs: Sequence[Path], options: TargetOptions,
                  nj: int) -> Split:
    """``split``: the utterances of ``data_dirs`` and ``replay_dirs`` recorded with ``options`` over ``nj``
    jobs in ``out_dir``."""
    split = write_split(out_dir, collect_items(data_dirs, replay_dirs, out_dir), options, nj)
    logger.info("%s: %d utterances over %d jobs", out_dir, len(split.items), split.nj)
    return split


def run_targets(out_dir: Path, data_dirs: Sequence[Path], replay_dirs: Sequence[Path], options: TargetOptions,
                device: str = "cpu") -> dict:
    """``run``: every step in this process (one job); returns the summary the merge writes."""
    split = write_split(out_dir, collect_items(data_dirs, replay_dirs, out_dir), options, 1)
    return run_split(split, *feature_extractor(split.options, device))


def sample_job(out_dir: Path, job: int, device: str = "cpu") -> Path:
    """``sample``: job ``job``'s share of the k-means sample; refused, before the model loads, when the
    split reuses a codebook."""
    split = read_split(out_dir)
    require_fit(split, "sample")
    return write_sample(split, job, *feature_extractor(split.options, device))


def fit_targets(out_dir: Path) -> None:
    """``fit``: the codebook fit on the jobs' sample."""
    fit_split(read_split(out_dir))


def label_job(out_dir: Path, job: int, device: str = "cpu") -> None:
    """``label``: the labels of job ``job``'s utterances, with the fitted or reused codebook."""
    split = read_split(out_dir)
    codebook = codebook_of(split)[0]
    write_labels(split, job, feature_extractor(split.options, device)[0], codebook)


def merge_targets(out_dir: Path) -> dict:
    """``merge``: OUT_DIR's lists from the jobs' outputs; returns its summary."""
    return merge_split(read_split(out_dir))

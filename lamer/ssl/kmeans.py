"""k-means codebooks of frame features and frame labels.

scikit-learn's MiniBatchKMeans: what HuBERT's own recipe uses (fairseq learn_kmeans.py), it
fits on mini-batches of frames so memory stays bounded on large dumps, k-means++ seeding and a
``random_state`` make it reproducible, and it is already in the stack (faiss-cpu would be a
further native dependency for no gain at these sizes).

A codebook is saved as ``codebook.npy`` (K, D float32) plus ``codebook.json`` (what features
it clusters: ``{"feature": "mfcc"}`` or ``{"feature": "layer", "layer": 6, ...}``).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from lamer.atomic import write_atomic, write_json_atomic
from lamer.jsonfile import read_json_object
from lamer.layout import CodebookFiles
from lamer.progress import progress


def fit_codebook(frames: np.ndarray, num_clusters: int, seed: int = 0, batch_size: int = 10000,
                 max_iter: int = 100) -> np.ndarray:
    """Cluster (N, D) frames into ``num_clusters`` centres; returns (K, D) float32.

    Its progress counts the mini-batch steps (lamer.progress: a bar on a terminal, else log lines;
    it stops short when the fit converges early).
    """
    from sklearn.cluster import MiniBatchKMeans

    if frames.ndim != 2 or frames.shape[0] < num_clusters:
        raise ValueError(f"k-means needs at least {num_clusters} frames of shape (N, D), got {frames.shape}")
    with progress(desc=f"k-means, {num_clusters} clusters", unit="step") as bar:
        km = _reporting(MiniBatchKMeans, bar)(n_clusters=num_clusters, batch_size=batch_size, max_iter=max_iter,
                                              n_init=3, random_state=seed, max_no_improvement=100,
                                              reassignment_ratio=0.0)
        km.fit(frames.astype(np.float32, copy=False))
    return km.cluster_centers_.astype(np.float32)


def _reporting(kmeans_class: type, bar: Any) -> type:
    """``kmeans_class`` that advances ``bar`` at every mini-batch step of ``fit``.

    MiniBatchKMeans has no progress callback; its ``fit`` calls ``_mini_batch_convergence(step,
    n_steps, ...)`` once per step (scikit-learn 1.1 to 1.9 at least), so the bar hooks there and
    leaves the decision to it. Were the method renamed, the bar would stay still and the fit be
    unchanged.
    """

    class Reporting(kmeans_class):
        def _mini_batch_convergence(self, step, n_steps, *args, **kwargs):
            bar.total = n_steps
            bar.update(1)
            return super()._mini_batch_convergence(step, n_steps, *args, **kwargs)

    return Reporting


def assign(frames: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of every frame: (N,) int64."""
    if frames.shape[1] != codebook.shape[1]:
        raise ValueError(f"frames have {frames.shape[1]} dims, the codebook {codebook.shape[1]}")
    f = frames.astype(np.float32)
    dist = (f * f).sum(1, keepdims=True) - 2 * f @ codebook.T + (codebook * codebook).sum(1)[None]
    return dist.argmin(1)


def save_codebook(directory: Path, codebook: np.ndarray, meta: dict) -> None:
    """Write ``codebook.npy`` and ``codebook.json`` into ``directory`` atomically."""
    buffer = io.BytesIO()
    np.save(buffer, codebook.astype(np.float32))
    write_atomic(Path(directory) / CodebookFiles.ARRAY, lambda f: f.write(buffer.getvalue()))
    write_json_atomic(Path(directory) / CodebookFiles.META, {**meta, "num_clusters": int(codebook.shape[0]),
                                                           "dim": int(codebook.shape[1])})


def load_codebook(directory: Path) -> tuple[np.ndarray, dict]:
    """Read a codebook saved by ``save_codebook``: ((K, D) array, meta).

    Raises ValueError naming the file when ``codebook.npy`` is not a plain 2-D float array (an
    object array holds a pickle, which is never loaded) or ``codebook.json`` is not its JSON.
    """
    directory = Path(directory)
    npy = directory / CodebookFiles.ARRAY
    for path in (npy, directory / CodebookFiles.META):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (is {directory} a codebook directory?)")
    try:
        codebook = np.load(npy, allow_pickle=False)
    except (ValueError, EOFError) as err:
        raise ValueError(f"{npy}: not a plain numpy array ({err}); fit the codebook again") from None
    if codebook.ndim != 2 or not np.issubdtype(codebook.dtype, np.floating):
        raise ValueError(f"{npy}: a codebook is a 2-D float array (K, D), this is {codebook.dtype} "
                         f"{codebook.shape}; fit the codebook again")
    if not np.isfinite(codebook).all():
        raise ValueError(f"{npy}: holds NaN or infinite values; fit the codebook again")
    meta = read_json_object(directory / CodebookFiles.META)
    if codebook.shape[0] != meta.get("num_clusters"):
        raise ValueError(f"{directory}: codebook.npy of shape {codebook.shape} does not match codebook.json")
    return codebook, meta

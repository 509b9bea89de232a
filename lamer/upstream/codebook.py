"""Import an existing k-means codebook to serve as HuBERT targets.

Published codebooks come as:

- a faiss index (mHuBERT-147's ``OPQ16_64,IVF1000_HNSW32,PQ16x4fsr``): the classes are the
  IVF lists, i.e. the coarse quantizer's centroids, searched after the index's linear
  pre-transforms (OPQ rotation, PCA); a plain ``IndexFlatL2`` is its own centroid list;
- a numpy ``.npy`` array of centroids (K, D);
- a joblib file of a scikit-learn ``(MiniBatch)KMeans`` (fairseq's ``simple_kmeans``). joblib
  is pickle, which runs code on load: such files are read only with ``allow_pickle=True``,
  for files you trust.

A label is the nearest centroid (squared Euclidean distance) of the transformed frame;
faiss' HNSW quantizer searches approximately, here the search is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NPY_MAGIC = b"\x93NUMPY"
# pickle protocol 2+ opcode, and the compressions joblib uses (zlib, gzip, bz2, xz, lz4)
PICKLE_MAGICS = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x04\x22\x4d\x18")


@dataclass
class Codebook:
    """K centroids (K, D') and the affine map of D-dim frames into their space (None: identity)."""

    centroids: torch.Tensor
    source: str
    transform: torch.Tensor | None = None  # (D', D)
    bias: torch.Tensor | None = None  # (D',)

    @property
    def num_classes(self) -> int:
        return self.centroids.shape[0]

    @property
    def input_dim(self) -> int:
        return self.centroids.shape[1] if self.transform is None else self.transform.shape[1]

    def assign(self, features: torch.Tensor) -> torch.Tensor:
        """Class index (long) of every frame of ``features`` (..., D)."""
        if features.shape[-1] != self.input_dim:
            raise ValueError(f"codebook {self.source} takes {self.input_dim}-dim features, got {features.shape[-1]}")
        flat = features.reshape(-1, features.shape[-1]).to(torch.float32)
        if self.transform is not None:
            flat = flat @ self.transform.T
            if self.bias is not None:
                flat = flat + self.bias
        return nearest_centroid(flat, self.centroids).reshape(features.shape[:-1])


def nearest_centroid(points: torch.Tensor, centroids: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Index of the nearest centroid (K, D) for each row of ``points`` (N, D), in chunks of rows."""
    c_norm = (centroids * centroids).sum(1)
    out = []
    for block in points.split(chunk):
        distances = c_norm[None, :] - 2.0 * block @ centroids.T  # |x|^2 is the same for every centroid
        out.append(distances.argmin(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def _as_centroids(array, source: str) -> torch.Tensor:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] < 1 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{source}: centroids must be a 2-D float array (K, D), got {array.dtype} {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{source}: centroids contain NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _from_faiss(path: Path) -> Codebook:
    try:
        import faiss
    except ImportError:
        raise ImportError(f"{path}: reading a faiss index needs the faiss-cpu package") from None
    try:
        outer = faiss.read_index(str(path))  # owns the sub-indexes: keep it referenced while they are used
    except RuntimeError as err:
        raise ValueError(f"{path}: not a faiss index, .npy array or joblib k-means file ({err})") from None
    source = str(path)
    transform = bias = None
    index = outer
    if isinstance(outer, faiss.IndexPreTransform):
        for position in range(outer.chain.size()):
            step = faiss.downcast_VectorTransform(outer.chain.at(position))
            if not isinstance(step, faiss.LinearTransform):
                raise ValueError(f"{path}: pre-transform {type(step).__name__} is not linear; only OPQ/PCA/rotation "
                                 "pre-transforms are supported")
            a = torch.from_numpy(faiss.vector_to_array(step.A).reshape(step.d_out, step.d_in).astype(np.float32))
            b = (torch.from_numpy(faiss.vector_to_array(step.b).astype(np.float32)) if step.have_bias
                 else torch.zeros(step.d_out))
            transform, bias = (a, b) if transform is None else (a @ transform, a @ bias + b)
        index = faiss.downcast_index(outer.index)
    try:
        centroid_index = faiss.downcast_index(faiss.extract_index_ivf(index).quantizer)
    except RuntimeError:  # not an IVF index: a flat index holds the centroids itself
        centroid_index = index
    if centroid_index.metric_type != faiss.METRIC_L2:
        raise ValueError(f"{path}: the index measures inner products; k-means codebooks use L2 distance")
    try:
        centroids = centroid_index.reconstruct_n(0, centroid_index.ntotal)
    except RuntimeError as err:
        raise ValueError(f"{path}: cannot read centroids from {type(centroid_index).__name__} ({err})") from None
    return Codebook(_as_centroids(centroids, source), source, transform, bias)


def _from_joblib(path: Path) -> Codebook:
    import joblib

    model = joblib.load(path)
    centers = getattr(model, "cluster_centers_", None)
    if centers is None:
        raise ValueError(f"{path}: joblib file holds a {type(model).__name__}, not a fitted k-means model")
    return Codebook(_as_centroids(centers, str(path)), str(path))


def load_codebook(path: str | Path, allow_pickle: bool = False) -> Codebook:
    """Read a k-means codebook (faiss index, .npy centroids, or joblib k-means with ``allow_pickle``).

    The format is recognised from the file's first bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such codebook file")
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(NPY_MAGIC):
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path}: not a plain numpy array ({err})") from None
        return Codebook(_as_centroids(array, str(path)), str(path))
    if magic.startswith(PICKLE_MAGICS):
        if not allow_pickle:
            raise ValueError(f"{path}: a pickle/joblib file; loading it can run arbitrary code. Pass "
                             "allow_pickle=True (--allow-pickle) only for a file you trust, or convert it to .npy")
        return _from_joblib(path)
    return _from_faiss(path)

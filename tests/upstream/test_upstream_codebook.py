"""k-means codebooks imported from faiss, numpy and joblib files assign the labels their tools do."""
import numpy as np
import pytest
import torch

from lamer.upstream.codebook import load_codebook, nearest_centroid

faiss = pytest.importorskip("faiss")


def features(n: int = 600, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randn(n, dim).astype(np.float32)


def test_npy_centroids(tmp_path):
    centroids = features(10)
    np.save(tmp_path / "km.npy", centroids)
    codebook = load_codebook(tmp_path / "km.npy")
    assert codebook.centroids.shape == (10, 16) and codebook.num_classes == 10
    # each centroid is its own nearest centroid
    assert codebook.assign(torch.from_numpy(centroids)).tolist() == list(range(10))


def test_faiss_flat_index_matches_faiss_search(tmp_path):
    index = faiss.IndexFlatL2(16)
    index.add(features(12, seed=1))
    faiss.write_index(index, str(tmp_path / "km.index"))
    codebook = load_codebook(tmp_path / "km.index")
    x = features()
    _, expected = index.search(x, 1)
    frames = torch.from_numpy(x).reshape(3, 200, 16)  # (B, T, D) keeps its shape
    assert codebook.assign(frames).reshape(-1).tolist() == expected[:, 0].tolist()


def test_faiss_pretransformed_ivf_index_like_mhubert147(tmp_path):
    """mHuBERT-147 labels: pre-transform the frame, then the IVF quantizer's nearest list."""
    train = features(2000, seed=2) + 2.0  # off-centre, so the PCA's bias matters
    index = faiss.index_factory(16, "PCAR8,IVF12_HNSW8,Flat")  # linear map with a bias, HNSW quantizer
    index.train(train)
    faiss.write_index(index, str(tmp_path / "mhubert.index"))
    codebook = load_codebook(tmp_path / "mhubert.index")
    assert codebook.centroids.shape == (12, 8) and codebook.input_dim == 16

    reread = faiss.read_index(str(tmp_path / "mhubert.index"))
    transform = faiss.downcast_VectorTransform(reread.chain.at(0))
    quantizer = faiss.downcast_index(faiss.extract_index_ivf(reread).quantizer)
    quantizer.hnsw.efSearch = 64  # exhaustive on 12 centroids, so faiss' search is exact
    x = features(seed=3) + 2.0
    _, expected = quantizer.search(transform.apply_py(x), 1)
    assert codebook.assign(torch.from_numpy(x)).tolist() == expected[:, 0].tolist()


def test_joblib_kmeans_needs_explicit_permission(tmp_path):
    joblib = pytest.importorskip("joblib")
    from sklearn.cluster import MiniBatchKMeans

    x = features(300)
    km = MiniBatchKMeans(n_clusters=5, n_init=1, random_state=0, batch_size=64).fit(x)
    joblib.dump(km, tmp_path / "km.bin")
    with pytest.raises(ValueError, match="km.bin: a pickle/joblib file; loading it can run arbitrary code"):
        load_codebook(tmp_path / "km.bin")
    codebook = load_codebook(tmp_path / "km.bin", allow_pickle=True)
    assert codebook.assign(torch.from_numpy(x)).tolist() == km.predict(x).tolist()


def test_bad_codebooks(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such codebook file"):
        load_codebook(tmp_path / "none.npy")
    np.save(tmp_path / "vector.npy", np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"vector\.npy: centroids must be a 2-D float array"):
        load_codebook(tmp_path / "vector.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects\.npy: not a plain numpy array"):
        load_codebook(tmp_path / "objects.npy")
    (tmp_path / "junk.index").write_bytes(b"IxQQ not an index")
    with pytest.raises(ValueError, match=r"junk\.index: not a faiss index"):
        load_codebook(tmp_path / "junk.index")
    np.save(tmp_path / "km.npy", features(4))
    with pytest.raises(ValueError, match="takes 16-dim features, got 8"):
        load_codebook(tmp_path / "km.npy").assign(torch.zeros(3, 8))


def test_nearest_centroid_in_chunks_equals_brute_force():
    points, centroids = torch.from_numpy(features(500)), torch.from_numpy(features(7, seed=5))
    brute = torch.cdist(points, centroids).argmin(1)
    assert torch.equal(nearest_centroid(points, centroids, chunk=64), brute)

"""k-means targets and the lists ssl_train reads."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lamer.bin import ssl_targets
from lamer.ssl.encoder import conv_frames
from lamer.ssl.kmeans import assign, fit_codebook, load_codebook
from lamer.upstream import build_preset
from tests.ssl.conftest import NUM_CLASSES


def table(path):
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def test_dump_has_one_label_per_upstream_frame_and_replay_lists(dump):
    model = build_preset("tiny")
    labels, shapes = table(dump / "labels"), table(dump / "speech_shape")
    assert labels.keys() == shapes.keys() == table(dump / "wav.scp").keys()
    for utt, row in labels.items():
        values = list(map(int, row.split()))
        assert len(values) == int(conv_frames(model, torch.tensor([int(shapes[utt])]))[0])
        assert all(0 <= v < NUM_CLASSES for v in values)
    replay = table(dump / "replay_utt2lang")
    assert sorted(set(replay.values())) == ["eng", "fra"] and len(replay) == 16
    assert set(table(dump / "lang").values()) == {"0", "1", "2"}
    codebook, meta = load_codebook(dump)
    assert codebook.shape == (NUM_CLASSES, 39) and meta["feature"] == "mfcc"


def test_kmeans_finds_separated_clusters_and_assigns_nearest():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    frames = np.concatenate([c + rng.normal(0, 0.5, (200, 2)) for c in centres])
    codebook = fit_codebook(frames, 3, seed=0)
    found = sorted(map(tuple, np.round(codebook).astype(int)))
    assert found == [(0, 0), (0, 10), (10, 0)]
    assert len(set(assign(centres, codebook))) == 3
    with pytest.raises(ValueError, match="at least 3 frames"):
        fit_codebook(frames[:2], 3)


def test_cli_reuses_a_codebook_and_checks_its_features(corpus, dump, tmp_path, capsys):
    out = tmp_path / "reuse"
    ssl_targets.main(["--data_dir", str(corpus["eng"]), "--out_dir", str(out), "--codebook", str(dump)])
    assert np.array_equal(load_codebook(out)[0], load_codebook(dump)[0])
    assert len(table(out / "labels")) == 6 and (out / "replay_utt2lang").read_text() == ""
    with pytest.raises(ValueError, match="not the requested features"):
        ssl_targets.main(["--data_dir", str(corpus["eng"]), "--out_dir", str(tmp_path / "x"), "--codebook", str(dump),
                          "--feature", "layer", "--layer", "2"])
    with pytest.raises(ValueError, match="two input data dirs"):
        ssl_targets.main(["--data_dir", str(corpus["eng"]), "--replay_data_dir", str(corpus["eng"]),
                          "--out_dir", str(tmp_path / "y"), "--num_clusters", "4"])

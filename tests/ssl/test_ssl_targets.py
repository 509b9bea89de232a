"""k-means targets and the lists ssl_train reads."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lamer.bin import ssl_targets
from lamer.data.audio import read_prepared
from lamer.ssl.encoder import conv_frames
from lamer.ssl.features import checked, mfcc_extractor, receptive_field
from lamer.ssl.kmeans import assign, fit_codebook, load_codebook
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.targets import collect_items, prepare_targets
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


@pytest.mark.parametrize("max_fit_frames", [200_000, 400])
def test_labels_reuse_the_kmeans_features_within_the_frame_budget(corpus, dump, tmp_path, max_fit_frames):
    model = build_ssl_upstream("tiny").model
    extract = checked(mfcc_extractor(*receptive_field(model)), model)
    calls = []

    def counted(utt, wav):
        calls.append(utt)
        return extract(utt, wav)

    items = collect_items([corpus["new"]], [corpus["eng"], corpus["fra"]])
    out = tmp_path / "dump"
    prepare_targets(items, counted, out, {"feature": "mfcc"}, NUM_CLASSES, max_fit_frames=max_fit_frames,
                    languages=["eng", "fra", "spa"])
    labels = table(out / "labels")
    codebook = load_codebook(out)[0]
    wavs = table(out / "wav.scp")
    for utt, row in labels.items():  # every label is the nearest centre of that utterance's own features
        assert list(map(int, row.split())) == assign(extract(utt, read_prepared(wavs[utt])), codebook).tolist()
    if max_fit_frames == 200_000:  # everything kept: one extraction per utterance, the fixture's very output
        assert sorted(calls) == sorted(i.utt for i in items)
        assert labels == table(dump / "labels")
    else:  # the budget holds a few utterances: only those are not extracted twice
        assert len(items) < len(calls) < 2 * len(items)


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

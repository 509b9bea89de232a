"""Shared fixtures of the SSL engine tests: one tiny two-language dataset and its labels."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lamer.ssl.features import checked, mfcc_extractor, receptive_field
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.targets import collect_items, prepare_targets
from tests.ssl.helpers import make_data_dir

NUM_CLASSES = 8


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread, as in the subprocesses (OMP_NUM_THREADS=1): a run killed and resumed is
    compared bit for bit with one run in this process, and on a busy 2-core machine a second
    OpenMP thread that waits for a core slows small steps down tenfold."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Data dirs: 'new' (spa, 24 utts), 'old' (eng 6, fra 10 utts: the replay sample)."""
    root = tmp_path_factory.mktemp("ssl_corpus")
    return {"new": make_data_dir(root, "spa", 24, 0), "eng": make_data_dir(root, "eng", 6, 1),
            "fra": make_data_dir(root, "fra", 10, 2)}


@pytest.fixture(scope="session")
def dump(corpus, tmp_path_factory) -> Path:
    """ssl_targets output for the tiny upstream: spa new data plus eng/fra replay, MFCC k-means."""
    out = tmp_path_factory.mktemp("ssl_dump")
    model = build_ssl_upstream("tiny").model
    items = collect_items([corpus["new"]], [corpus["eng"], corpus["fra"]])
    prepare_targets(items, checked(mfcc_extractor(*receptive_field(model)), model), out, {"feature": "mfcc"},
                    NUM_CLASSES, languages=["eng", "fra", "spa"])
    return out

"""The steps of ssl_targets as library calls: split, then each job's sample and label, fit and merge
write what one ``run`` writes; a job asked for a GPU it cannot see stops with a clear error."""
from __future__ import annotations

import pytest
import torch

from lamer.layout import TargetsDir
from lamer.ssl.target_steps import fit_targets, label_job, merge_targets, run_targets, sample_job, split_targets
from lamer.ssl.targets import TargetOptions

OPTIONS = TargetOptions({"feature": "mfcc"}, 8, None, 600, 1, ("eng", "fra", "spa"), {"upstream": "tiny"})


def test_the_steps_write_what_one_run_writes(corpus, tmp_path):
    new, replay = [corpus["new"]], [corpus["eng"], corpus["fra"]]
    summary = run_targets(tmp_path / "run", new, replay, OPTIONS)
    split = split_targets(tmp_path / "nj2", new, replay, OPTIONS, 2)
    assert split.nj == 2 and len(split.items) == summary["utterances"] == 40
    for job in (1, 2):
        sample_job(tmp_path / "nj2", job)
    fit_targets(tmp_path / "nj2")
    for job in (1, 2):
        label_job(tmp_path / "nj2", job)
    assert merge_targets(tmp_path / "nj2") == summary
    for name in (TargetsDir.LABELS, TargetsDir.SPEECH_SHAPE, TargetsDir.REPLAY_UTT2LANG, TargetsDir.LANG):
        assert (tmp_path / "nj2" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a job without a GPU")
def test_a_job_on_a_gpu_it_cannot_see_is_refused(corpus, tmp_path):
    split_targets(tmp_path, [corpus["eng"]], [], OPTIONS, 1)
    with pytest.raises(RuntimeError, match="--device cuda: no CUDA device is visible to this job"):
        sample_job(tmp_path, 1, "cuda")

"""k-means targets and the lists ssl_train reads."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lamer.bin import ssl_targets
from lamer.data.audio import read_prepared
from lamer.layout import TargetsDir
from lamer.ssl.encoder import conv_frames
from lamer.ssl.features import checked, mfcc_extractor, receptive_field
from lamer.ssl.kmeans import assign, fit_codebook, load_codebook
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.targets import (
    TargetOptions,
    collect_items,
    fit_sample,
    fit_split,
    prepare_targets,
    write_sample,
    write_split,
)
from lamer.upstream import build_preset
from tests.probe.hostile import write_hostile_checkpoint
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
def test_one_process_extracts_each_utterance_once(corpus, dump, tmp_path, max_fit_frames):
    """The k-means sample's features are reused for its labels, whether the sample is every
    utterance (the fixture's budget) or a few of them."""
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
    assert sorted(calls) == sorted(i.utt for i in items)
    sample = np.load(out / "split" / "sample.1.npy")
    if max_fit_frames == 200_000:
        assert labels == table(dump / "labels") and sample.shape[0] == sum(len(r.split()) for r in labels.values())
    else:
        assert 0 < sample.shape[0] <= max_fit_frames


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


def refused(capsys, pattern: str, *argv: str) -> str:
    """Run ssl_targets with ``argv``: it exits 1 with the line ``ssl_targets: error: ...`` matching ``pattern``."""
    capsys.readouterr()
    assert ssl_targets.main(list(argv)) == 1
    err = capsys.readouterr().err
    assert re.search(f"ssl_targets: error: .*{pattern}", err), err
    return err


def test_cli_reuses_a_codebook_and_checks_its_features(corpus, dump, tmp_path, capsys):
    out = tmp_path / "reuse"
    ssl_targets.main(["--data_dir", str(corpus["eng"]), "--out_dir", str(out), "--codebook", str(dump)])
    assert np.array_equal(load_codebook(out)[0], load_codebook(dump)[0])
    assert len(table(out / "labels")) == 6 and (out / "replay_utt2lang").read_text() == ""
    refused(capsys, "not the requested features", "--data_dir", str(corpus["eng"]), "--out_dir", str(tmp_path / "x"),
            "--codebook", str(dump), "--feature", "layer", "--layer", "2")
    refused(capsys, "two input data dirs", "--data_dir", str(corpus["eng"]), "--replay_data_dir", str(corpus["eng"]),
            "--out_dir", str(tmp_path / "y"), "--num_clusters", "4")


OUTPUTS = ("wav.scp", "labels", "speech_shape", "utt2lang", "replay_utt2lang", "lang", "codebook.npy", "codebook.json")


def run_steps(corpus, out, nj, *options):
    """ssl_targets split, then every job's sample and label, fit and merge, through the CLI."""
    data = ["--data_dir", str(corpus["new"]), "--replay_data_dir", str(corpus["eng"]),
            "--replay_data_dir", str(corpus["fra"])]
    ssl_targets.main(["split", "--out_dir", str(out), "--nj", str(nj), *data, *options])
    for step in ("sample", "fit", "label", "merge"):
        for job in range(1, nj + 1) if step in ("sample", "label") else [None]:
            job_options = [] if job is None else ["--job", str(job), "--device", "cpu"]
            ssl_targets.main([step, "--out_dir", str(out), *job_options])


LAYER_OPTIONS = ("--feature", "layer", "--layer", "2", "--num_clusters", str(NUM_CLASSES), "--max_fit_frames", "900",
                 "--languages", "eng,fra,spa", "--seed", "3")


def test_sharded_targets_equal_one_job_byte_for_byte(corpus, tmp_path, capsys):
    """run, split over 1 job and split over 3 jobs (blocks of 14, 13, 13 utterances) write the same
    files; the k-means sample is a subset of the utterances (--max_fit_frames) spread over the jobs."""
    data = ["--data_dir", str(corpus["new"]), "--replay_data_dir", str(corpus["eng"]),
            "--replay_data_dir", str(corpus["fra"])]
    ssl_targets.main(["run", "--out_dir", str(tmp_path / "run"), "--device", "cpu", *data, *LAYER_OPTIONS])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for nj in (1, 3):
        run_steps(corpus, tmp_path / f"nj{nj}", nj, *LAYER_OPTIONS)
    for name in OUTPUTS:
        expected = (tmp_path / "run" / name).read_bytes()
        assert expected and all((tmp_path / f"nj{nj}" / name).read_bytes() == expected for nj in (1, 3)), name
    assert summary["utterances"] == 40 and summary["replay_utterances"] == 16
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == summary  # merge prints it too
    samples = [np.load(tmp_path / "nj3" / "split" / f"sample.{job}.npy").shape[0] for job in (1, 2, 3)]
    assert sum(samples) == np.load(tmp_path / "run" / "split" / "sample.1.npy").shape[0]
    assert sum(samples) < sum(len(row.split()) for row in table(tmp_path / "run" / "labels").values())


def test_the_layout_names_every_file_the_steps_write(corpus, tmp_path):
    """The files the recipe's planner declares as each step's outputs (lamer.layout.TargetsDir, from
    which the steps take their names too) are exactly the files the steps write."""
    t = TargetsDir(str(tmp_path / "t"))
    run_steps(corpus, Path(t.path), 2, *LAYER_OPTIONS)
    declared = {*t.record, *t.job_files(t.SAMPLE, 2), *t.fitted, *t.job_files(t.LABELS, 2),
                *t.job_files(t.SPEECH_SHAPE, 2), *t.merged}
    assert {str(path) for path in Path(t.path).rglob("*") if path.is_file()} == declared
    assert {t.wav_scp, t.labels, t.lang, t.speech_shape, t.replay_utt2lang, *t.codebook} <= declared


def test_fit_sample_is_the_same_for_every_split_and_bounded(corpus, tmp_path):
    model = build_ssl_upstream("tiny").model
    extract = checked(mfcc_extractor(*receptive_field(model)), model)
    items = collect_items([corpus["new"]], [corpus["eng"], corpus["fra"]])
    options = TargetOptions({"feature": "mfcc"}, NUM_CLASSES, max_fit_frames=700, seed=5)
    gathered = {}
    for nj in (1, 2, 7):
        split = write_split(tmp_path / str(nj), items, options, nj)
        parts = [np.load(write_sample(split, job, extract, 320)) for job in range(1, nj + 1)]
        gathered[nj] = np.concatenate([part for part in parts if part.shape[0]])
        fit_split(split)
    assert np.array_equal(gathered[1], gathered[2]) and np.array_equal(gathered[1], gathered[7])
    assert 0 < gathered[1].shape[0] <= 700
    assert fit_sample(items, 700, 5, 320) != fit_sample(items, 700, 6, 320)  # seeded
    assert sum(fit_sample(items, 10**9, 5, 320)) == len(items)  # a budget above the data takes everything
    codebooks = [load_codebook(tmp_path / str(nj) / "split")[0] for nj in (1, 2, 7)]
    assert np.array_equal(codebooks[0], codebooks[1]) and np.array_equal(codebooks[0], codebooks[2])


def test_merge_names_a_missing_or_incomplete_job(corpus, tmp_path, capsys):
    out = tmp_path / "t"
    run_steps(corpus, out, 2, "--num_clusters", str(NUM_CLASSES))
    labels = out / "split" / "labels.2"
    lines = labels.read_text().splitlines(keepends=True)
    labels.write_text("".join(lines[:-1]))
    refused(capsys, r"labels.2: ends before utterance .*run `label --job 2` again", "merge", "--out_dir", str(out))
    labels.write_text("".join(lines[:3] + lines[4:] + lines[3:4]))
    refused(capsys, r"labels.2:4: utterance .*, expected ", "merge", "--out_dir", str(out))
    labels.unlink()
    refused(capsys, r"1 job output\(s\) missing: .*labels.2; run .* label", "merge", "--out_dir", str(out))
    ssl_targets.main(["split", "--out_dir", str(out), "--nj", "3", "--data_dir", str(corpus["new"]),
                      "--num_clusters", str(NUM_CLASSES)])  # another split: the old jobs' outputs go
    assert sorted(p.name for p in (out / "split").iterdir()) == ["items.tsv", "options.json"]
    refused(capsys, r"sample.1.npy, .*sample.3.npy; run .* sample", "fit", "--out_dir", str(out))


def test_split_with_a_codebook_has_no_fit(corpus, dump, tmp_path, capsys):
    """Dev targets: sample and fit refuse, label uses the given codebook; the same as run."""
    out = tmp_path / "dev"
    ssl_targets.main(["split", "--out_dir", str(out), "--nj", "2", "--data_dir", str(corpus["eng"]),
                      "--codebook", str(dump)])
    for step in (["sample", "--job", "1"], ["fit"]):
        refused(capsys, f"split with --codebook {dump}: .*no k-means {step[0]} to run", step[0], "--out_dir", str(out),
                *step[1:])
    for job in ("1", "2"):
        ssl_targets.main(["label", "--out_dir", str(out), "--job", job])
    ssl_targets.main(["merge", "--out_dir", str(out)])
    ssl_targets.main(["--data_dir", str(corpus["eng"]), "--codebook", str(dump), "--out_dir", str(tmp_path / "one")])
    for name in ("wav.scp", "labels", "speech_shape", "codebook.npy", "codebook.json"):
        assert (out / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a job without a GPU")
def test_device_cuda_without_a_gpu_is_a_clear_error(corpus, tmp_path):
    out = tmp_path / "t"
    ssl_targets.main(["split", "--out_dir", str(out), "--nj", "1", "--data_dir", str(corpus["eng"])])
    with pytest.raises(RuntimeError, match="--device cuda: no CUDA device"):
        ssl_targets.main(["sample", "--out_dir", str(out), "--job", "1", "--device", "cuda"])


def test_a_pickled_upstream_is_refused_in_one_line_naming_it(corpus, tmp_path, capsys):
    """A torch file that would run code (touch a marker) when unpickled, given as the model: one
    error line naming the file, no traceback, and the code never runs."""
    hostile = write_hostile_checkpoint(tmp_path / "model.pt", tmp_path / "marker")
    refused(capsys, f"{re.escape(str(hostile))}: refused to load: it holds a pickled 'posix.system'",
            "run", "--out_dir", str(tmp_path / "out"), "--data_dir", str(corpus["eng"]), "--upstream", str(hostile))
    assert not (tmp_path / "marker").exists() and not (tmp_path / "out" / "labels").exists()


@pytest.mark.parametrize("content", ["objects", "integers"])
def test_a_codebook_npy_that_is_not_a_float_array_is_named(corpus, dump, tmp_path, capsys, content):
    """An object array holds a pickle: numpy is never allowed to load it; an integer array is no codebook."""
    codebook = tmp_path / "codebook"
    codebook.mkdir()
    (codebook / "codebook.json").write_bytes((dump / "codebook.json").read_bytes())
    array = (np.array([{"centre": 1}] * NUM_CLASSES, dtype=object).reshape(NUM_CLASSES, 1) if content == "objects"
             else np.zeros((NUM_CLASSES, 39), dtype=np.int64))
    np.save(codebook / "codebook.npy", array, allow_pickle=True)
    message = "not a plain numpy array" if content == "objects" else "a codebook is a 2-D float array"
    refused(capsys, f"{re.escape(str(codebook / 'codebook.npy'))}: {message}", "--data_dir", str(corpus["eng"]),
            "--out_dir", str(tmp_path / "out"), "--codebook", str(codebook))


def test_a_command_in_wav_scp_is_refused_naming_its_line(corpus, tmp_path, capsys):
    """Targets read audio files only: a `cmd |` line is one error naming it, and is not run."""
    data = tmp_path / "eng"
    shutil.copytree(corpus["eng"], data)
    lines = (data / "wav.scp").read_text(encoding="utf-8").splitlines()
    utt = lines[1].split(" ", 1)[0]
    lines[1] = f"{utt} touch {tmp_path / 'marker'} |"
    (data / "wav.scp").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    assert ssl_targets.main(["split", "--out_dir", str(tmp_path / "t"), "--nj", "1", "--data_dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"ssl_targets: error: {data / 'wav.scp'}:2: the audio of {utt} runs a command" in err
    assert not (tmp_path / "marker").exists() and not (tmp_path / "t").exists()


def test_a_kaldi_dir_with_segments_and_archives_is_labelled_from_files(tmp_path):
    """Segments and archive positions are written as wav files under the targets dir, which the
    targets' wav.scp names (ssl_train reads it with ESPnet's sound reader: files only)."""
    import soundfile as sf

    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    out = tmp_path / "t"
    assert ssl_targets.main(["run", "--data_dir", str(kaldi.path), "--out_dir", str(out), "--num_clusters", "2"]) == 0
    wavs = table(out / "wav.scp")
    assert wavs == {utt: str(out.absolute() / "data" / f"{utt}.wav") for utt in kaldi.samples}
    for utt, samples in kaldi.samples.items():
        np.testing.assert_array_equal(sf.read(wavs[utt], dtype="int16")[0], samples)
    assert table(out / "speech_shape") == {utt: str(len(samples)) for utt, samples in kaldi.samples.items()}
    assert table(out / "labels").keys() == kaldi.samples.keys()

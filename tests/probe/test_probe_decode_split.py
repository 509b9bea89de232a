"""Split decoding (--nj N --job J, then merge) gives the files of a one-job decode."""
from __future__ import annotations

import pytest

from lamer.bin import asr_inference
from lamer.probe.decode_split import block_dir, mark_decoded, write_block_data
from lamer.probe.inference import OVERRIDE_CONFIG
from tests.probe.test_probe_e2e import DECODE_CONFIG


def decode_all(probe_dir, data, jobs_or_output: list[str], *extra: str) -> None:
    rc = asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0",
                             "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                             *jobs_or_output, *extra])
    assert rc == 0


def write_jobs(path, base_probe, upstream, root):
    config, model = base_probe.config, base_probe.model
    path.write_text(f"{root / 'r'}\t{config}\t{model}\t-\t-\n"
                    f"{root / 'f'}\t{config}\t{model}\t{upstream.trained_adapters}\t-\n", encoding="utf-8")
    return path


def test_split_greedy_decoding_of_a_jobs_file_equals_one_job(base_probe, upstream, probe_data, tmp_path, capsys):
    """Two (probe, model) pairs, 12 utterances in blocks of 3, 3, 2, 2, 2; then --nj 1."""
    one = write_jobs(tmp_path / "one.tsv", base_probe, upstream, tmp_path / "one")
    decode_all(base_probe.directory, probe_data.dev, ["--jobs", str(one)], "--decoding", "greedy")
    for nj in (5, 1):
        jobs = write_jobs(tmp_path / f"nj{nj}.tsv", base_probe, upstream, tmp_path / f"nj{nj}")
        for job in [1, 3, 4, 5, 2] if nj == 5 else [1]:  # any order: array jobs finish as they please
            if job == 2:
                assert asr_inference.main(["merge", "--jobs", str(jobs), "--nj", "5"]) == 1
                assert f"split5/2/keys: missing: block 2 of 5 of {tmp_path / 'nj5' / 'r'}" in capsys.readouterr().err
            decode_all(base_probe.directory, probe_data.dev, ["--jobs", str(jobs)], "--decoding", "greedy",
                       "--nj", str(nj), "--job", str(job))
        assert asr_inference.main(["merge", "--jobs", str(jobs), "--nj", str(nj)]) == 0
        for pair in ("r", "f"):
            expected = (tmp_path / "one" / pair / "1best_recog" / "text").read_text(encoding="utf-8")
            assert len(expected.splitlines()) == 12
            assert (tmp_path / f"nj{nj}" / pair / "1best_recog" / "text").read_text(encoding="utf-8") == expected
    assert len((block_dir(tmp_path / "nj5" / "f", 5, 5) / "keys").read_text().split()) == 2
    assert (block_dir(tmp_path / "nj5" / "f", 5, 5) / OVERRIDE_CONFIG).is_file()
    text = block_dir(tmp_path / "nj5" / "r", 5, 3) / "1best_recog" / "text"  # a block cut short
    text.write_text("".join(text.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    assert asr_inference.main(["merge", "--jobs", str(tmp_path / "nj5.tsv"), "--nj", "5"]) == 1
    assert "split5/3/1best_recog/text: 1 of the block's 2 utterances lack a hypothesis" in capsys.readouterr().err


def test_split_beam_decoding_equals_one_job(base_probe, probe_data, tmp_path):
    """ESPnet's own inference: every file it writes in 1best_recog, merged, as one job writes it."""
    probe = ["--asr_train_config", str(base_probe.config), "--asr_model_file", str(base_probe.model)]
    decode_all(base_probe.directory, probe_data.dev, [*probe, "--output_dir", str(tmp_path / "one")])
    for job in (1, 2):
        decode_all(base_probe.directory, probe_data.dev, [*probe, "--output_dir", str(tmp_path / "two")],
                   "--nj", "2", "--job", str(job))
    assert asr_inference.main(["merge", "--output_dir", str(tmp_path / "two"), "--nj", "2"]) == 0
    names = sorted(p.name for p in (tmp_path / "one" / "1best_recog").iterdir())
    assert {"text", "token", "token_int", "score"} <= set(names)
    assert sorted(p.name for p in (tmp_path / "two" / "1best_recog").iterdir()) == names
    for name in names:
        assert (tmp_path / "two" / "1best_recog" / name).read_bytes() == \
            (tmp_path / "one" / "1best_recog" / name).read_bytes(), name


def test_blocks_follow_the_first_data_file(tmp_path):
    """Kaldi's split_scp cut: contiguous, the larger blocks first, empty past the end; the other
    data files keep the block's utterances."""
    scp, text = tmp_path / "wav.scp", tmp_path / "text"
    scp.write_text("".join(f"u{i} /a/u{i}.wav\n" for i in (3, 1, 2, 5, 4)), encoding="utf-8")
    text.write_text("".join(f"u{i} word {i}\n" for i in (1, 2, 3, 4, 5)), encoding="utf-8")
    data = [f"{scp},speech,sound", f"{text},text,text"]
    blocks = [write_block_data(data, 2, job, tmp_path / str(job))[1] for job in (1, 2)]
    assert blocks == [["u3", "u1", "u2"], ["u5", "u4"]]
    specs, keys = write_block_data(data, 6, 6, tmp_path / "6")
    assert keys == [] and specs[0] == f"{tmp_path / '6' / 'data' / 'speech'},speech,sound"
    assert (tmp_path / "2" / "data" / "text").read_text(encoding="utf-8") == "u4 word 4\nu5 word 5\n"
    mark_decoded(tmp_path / "2", blocks[1])
    write_block_data(data, 2, 2, tmp_path / "2")  # a block started again is not decoded until it succeeds
    assert not (tmp_path / "2" / "keys").exists()
    scp.write_text("u1 a\nu2 b\nu1 c\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"wav.scp: utterance u1 appears twice \(line 3\)"):
        write_block_data(data, 2, 1, tmp_path / "x")


@pytest.mark.parametrize("args, message", [
    (["--nj", "2"], "--nj and --job go together"),
    (["--nj", "2", "--job", "3", "--output_dir", "x"], "--job 3 is outside 1-2"),
    (["--nj", "2", "--job", "1"], "--nj needs --output_dir"),
])
def test_block_options_are_checked(args, message, capsys):
    assert asr_inference.main(args) == 2
    assert message in capsys.readouterr().err

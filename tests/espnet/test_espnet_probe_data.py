"""Probe dirs ('[iso] transcript' text, shapes) and token lists from Kaldi data dirs."""
from __future__ import annotations

import shutil

import pytest
import sentencepiece as spm

from lamer.data.errors import DataError
from lamer.espnet.probe_data import read_tagged_text, write_probe_dir, write_token_dir


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_probe_dir_tags_every_transcript_and_counts_samples(probe_data):
    text = _lines(probe_data.train / "text")
    langs = dict(line.split() for line in _lines(probe_data.train / "utt2lang"))
    assert len(text) == 48 and sorted(set(langs.values())) == ["eng", "fra"]
    for line in text:
        utt, tag, _ = line.split(maxsplit=2)
        assert tag == f"[{langs[utt]}]"
    source = probe_data.source_dirs["train"]["eng"]
    durations = dict(line.split() for line in _lines(source / "utt2dur"))
    shapes = dict(line.split() for line in _lines(probe_data.train / "speech_shape"))
    utt = next(iter(durations))
    assert int(shapes[utt]) == round(float(durations[utt]) * 16000)
    assert [line.split()[0] for line in text] == sorted(langs)


def test_char_tokens_keep_tags_whole(probe_data):
    tokens = _lines(probe_data.tokens / "tokens.txt")
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert {"[eng]", "[fra]", "<space>", "a", "b", "c"} == set(tokens[2:-1])
    assert _lines(probe_data.tokens / "nlsyms.txt") == ["[eng]", "[fra]"]


def test_sentencepiece_tokens_keep_tags_whole(probe_data, tmp_path):
    tokens = write_token_dir(probe_data.train / "text", tmp_path / "bpe", "bpe", vocab_size=12)
    assert {"[eng]", "[fra]"} <= set(tokens) and tokens[-1] == "<sos/eos>"
    model = spm.SentencePieceProcessor(model_file=str(tmp_path / "bpe" / "bpe.model"))
    assert "[fra]" in model.encode("[fra] abc cab", out_type=str)
    assert not (tmp_path / "bpe" / "train_text.txt").exists()


def test_utterance_in_two_dirs_is_an_error(probe_data, tmp_path):
    eng = probe_data.source_dirs["dev"]["eng"]
    with pytest.raises(DataError, match="also in"):
        write_probe_dir([eng, eng], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_empty_transcript_is_an_error(probe_data, tmp_path):
    broken = tmp_path / "eng"
    shutil.copytree(probe_data.source_dirs["dev"]["eng"], broken)
    lines = _lines(broken / "text")
    lines[1] = lines[1].split()[0] + " "
    (broken / "text").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty transcript"):
        write_probe_dir([broken], tmp_path / "out")


def test_untagged_text_is_named_with_its_line(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 [eng] ab\nu2 ab\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"text:2: expected"):
        read_tagged_text(text)


def test_cli_writes_a_probe_dir_and_tokens(probe_data, tmp_path, capsys):
    from lamer.bin import probe_data as cli

    dev = probe_data.source_dirs["dev"]
    assert cli.main(["dir", "--data", str(dev["eng"]), str(dev["fra"]), "--out", str(tmp_path / "dev")]) == 0
    assert _lines(tmp_path / "dev" / "text") == _lines(probe_data.dev / "text")
    assert cli.main(["tokens", "--text", str(tmp_path / "dev" / "text"), "--out", str(tmp_path / "tok")]) == 0
    assert (tmp_path / "tok" / "tokens.txt").is_file()
    assert cli.main(["dir", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "x")]) == 1
    assert "absent" in capsys.readouterr().err

"""Probe dirs ('[iso] transcript' text, shapes) and token lists from Kaldi data dirs."""
from __future__ import annotations

import json
import shutil

import pytest
import sentencepiece as spm

from lamer.data.errors import DataError
from lamer.probe.inputs import read_tagged_text, write_probe_dir, write_token_dir


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


def _lang_dir(root, files):
    for lang, text in files.items():
        (root / lang).mkdir(parents=True)
        (root / lang / "lang.yaml").write_text(text, encoding="utf-8")
    return root


RARE_TEXT = ("u1 [jpn] 日本語日本\nu2 [jpn] 日本の猫 日\nu3 [cmn] 中国猫\nu4 [cmn] 中国 中国\nu5 [eng] ab q\n")


def test_token_settings_leave_a_languages_rare_characters_to_unk(tmp_path):
    from espnet2.text.char_tokenizer import CharTokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    text = tmp_path / "text"
    text.write_text(RARE_TEXT, encoding="utf-8")
    plain = write_token_dir(text, tmp_path / "plain")
    assert {"語", "の", "猫", "q"} <= set(plain)
    lang_dir = _lang_dir(tmp_path / "lang", {"jpn": "tokens: {min_count: 2}\n", "eng": "text: {lowercase: false}\n"})
    tokens = write_token_dir(text, tmp_path / "rules", lang_dir=lang_dir)
    # jpn drops 語 and の (seen once); 猫 stays because cmn, which has no settings, keeps it; eng keeps its rare q
    assert set(plain) - set(tokens) == {"語", "の"} and tokens == [t for t in plain if t not in {"語", "の"}]
    assert _lines(tmp_path / "rules" / "tokens.txt") == tokens
    report = json.loads((tmp_path / "rules" / "report.json").read_text(encoding="utf-8"))
    assert report == {"token_rules": {"jpn": {"file": str(lang_dir / "jpn" / "lang.yaml"), "min_count": 2,
                                              "characters": 5, "unk_characters": 2, "unk_share": 0.2}}}
    converter = TokenIDConverter(token_list=tokens)
    ids = converter.tokens2ids(CharTokenizer(non_linguistic_symbols=["[jpn]"]).text2tokens("[jpn] 日本語"))
    assert ids[-1] == tokens.index("<unk>") == 1 and ids[:2] == [tokens.index("[jpn]"), tokens.index("<space>")]


def test_coverage_setting_and_cli(tmp_path):
    from lamer.bin import probe_data as cli

    text = tmp_path / "text"
    text.write_text(RARE_TEXT, encoding="utf-8")
    lang_dir = _lang_dir(tmp_path / "lang", {"jpn": "tokens: {coverage: 0.7}\n"})  # 日 4 + 本 3 = 7 of 10
    assert cli.main(["tokens", "--text", str(text), "--out", str(tmp_path / "tok"), "--lang-dir", str(lang_dir)]) == 0
    tokens = _lines(tmp_path / "tok" / "tokens.txt")
    assert {"日", "本", "猫"} <= set(tokens) and not {"語", "の"} & set(tokens)


def test_token_settings_without_effect_or_for_bpe(tmp_path, capsys):
    from lamer.bin import probe_data as cli

    text = tmp_path / "text"
    text.write_text(RARE_TEXT, encoding="utf-8")
    text_only = _lang_dir(tmp_path / "text_only", {"jpn": "text: {unicode_form: NFKC}\n"})
    assert write_token_dir(text, tmp_path / "a", lang_dir=text_only) == write_token_dir(text, tmp_path / "b")
    assert json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8")) == {"token_rules": {}}
    lang_dir = _lang_dir(tmp_path / "lang", {"jpn": "tokens: {min_count: 2}\n"})
    with pytest.raises(ValueError, match=f"{lang_dir / 'jpn' / 'lang.yaml'}: tokens settings apply to char"):
        write_token_dir(text, tmp_path / "bpe", "bpe", vocab_size=12, lang_dir=lang_dir)
    assert not (tmp_path / "bpe").exists()
    (lang_dir / "jpn" / "lang.yaml").write_text("tokens: {min_count: many}\n", encoding="utf-8")
    assert cli.main(["tokens", "--text", str(text), "--out", str(tmp_path / "c"), "--lang-dir", str(lang_dir)]) == 1
    assert "tokens.min_count: expected an integer" in capsys.readouterr().err


def test_probe_and_token_dirs_have_one_writer(probe_data, tmp_path, capsys):
    import os

    from lamer.bin import probe_data as cli
    from lamer.data.lock import output_lock

    dev = probe_data.source_dirs["dev"]
    stale = tmp_path / ".dev.k1ll3d00"  # the half-written dir of a killed run
    stale.mkdir()
    with output_lock(tmp_path / "dev"), output_lock(tmp_path / "tok"):
        assert cli.main(["dir", "--data", str(dev["eng"]), "--out", str(tmp_path / "dev"), "--lock_timeout", "0"]) == 1
        assert f"being written by PID {os.getpid()}" in capsys.readouterr().err
        assert cli.main(["tokens", "--text", str(probe_data.dev / "text"), "--out", str(tmp_path / "tok"),
                         "--lock_timeout", "0.3"]) == 1
        assert f"being written by PID {os.getpid()}" in capsys.readouterr().err
    assert not (tmp_path / "dev").exists() and not (tmp_path / "tok").exists()
    assert cli.main(["dir", "--data", str(dev["eng"]), "--out", str(tmp_path / "dev"), "--lock_timeout", "0"]) == 0
    assert not stale.exists()


def test_probe_dir_of_a_kaldi_dir_writes_what_espnets_sound_reader_reads(tmp_path):
    """Segments and archive positions become wav files under the probe dir (ESPnet's sound reader
    takes files only); a whole file is named as it is; a command is refused, nothing written."""
    import numpy as np
    import soundfile as sf

    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    whole = write_kaldi_dir(tmp_path / "whole", segments=False, pipes=False, lang="fra")
    probe = tmp_path / "probe"
    assert write_probe_dir([kaldi.path, whole.path], probe) == {"eng": 4, "fra": 3}
    wavs = dict(line.split(" ", 1) for line in _lines(probe / "wav.scp"))
    shapes = dict(line.split() for line in _lines(probe / "speech_shape"))
    for utt, samples in kaldi.samples.items():
        assert wavs[utt] == str(probe.absolute() / "data" / f"{utt}.wav")
        np.testing.assert_array_equal(sf.read(wavs[utt], dtype="int16")[0], samples)
        assert int(shapes[utt]) == len(samples)
    assert wavs["fra_a-r1-000"] == str(tmp_path / "whole" / "audio" / "fra_a-r1.wav")  # a whole file stays
    assert sorted(path.name for path in (probe / "data").iterdir()) == sorted(f"{u}.wav" for u in kaldi.samples) + [
        "fra_b-r2-000.wav", "fra_d-r4-000.wav"]  # archive positions of the dir without segments
    piped = write_kaldi_dir(tmp_path / "piped")
    with pytest.raises(DataError, match=rf"^{piped.path / 'wav.scp'}:3: the audio of eng_c-r3-000 runs a command"):
        write_probe_dir([piped.path], tmp_path / "probe2")
    assert not (tmp_path / "probe2").exists() and not piped.marker.exists()


def test_a_labelled_budget_keeps_at_most_that_much_of_each_language_from_every_speaker(probe_data, tmp_path):
    sources = list(probe_data.source_dirs["train"].values())
    durations = {}
    for source in sources:
        durations.update((u, float(d)) for u, d in (line.split() for line in _lines(source / "utt2dur")))
    minutes = 0.25 * sum(durations.values()) / len(sources) / 60  # about a quarter of each language
    counts = write_probe_dir(sources, tmp_path / "a", minutes_per_dir=minutes, seed=3)
    kept = [line.split()[0] for line in _lines(tmp_path / "a" / "text")]
    langs = dict(line.split() for line in _lines(tmp_path / "a" / "utt2lang"))
    assert set(counts) == {"eng", "fra"} and sum(counts.values()) == len(kept) < len(durations) / 2
    for lang in counts:
        assert 0 < sum(durations[u] for u in kept if langs[u] == lang) <= minutes * 60
    speakers = {}
    for source in sources:
        speakers.update(line.split() for line in _lines(source / "utt2spk"))
    all_speakers = {speakers[u] for u in durations}
    assert {speakers[u] for u in kept} == all_speakers  # speaker-balanced: every speaker keeps some
    write_probe_dir(sources, tmp_path / "b", minutes_per_dir=minutes, seed=3)
    assert _lines(tmp_path / "b" / "text") == _lines(tmp_path / "a" / "text")  # the seed decides
    write_probe_dir(sources, tmp_path / "c", minutes_per_dir=minutes, seed=4)
    assert _lines(tmp_path / "c" / "text") != _lines(tmp_path / "a" / "text")

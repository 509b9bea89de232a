"""fix / subset / combine / copy / validate of data dirs with Kaldi's semantics.

The expected outputs are those of Kaldi's own scripts (kaldi-asr/kaldi f4007661,
egs/wsj/s5/utils/{fix_data_dir,subset_data_dir,combine_data,copy_data_dir}.sh), run on the same
dirs as built here: wav.scp, text, utt2spk, spk2utt, utt2lang and utt2dur came out byte for byte
as the tools here write them. Kaldi's scripts leave text.raw as it was; these filter it too.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lamer.bin.datadir import main
from lamer.data.datadir_io import Utterance, read_data_dir, write_data_dir
from lamer.data.dirtools import ExtraFiles, Renaming, combine_data_dirs, copy_data_dir, fix_data_dir, subset_data_dir
from lamer.data.errors import DataError
from lamer.data.lock import output_lock
from lamer.data.validate import validate_data_dir

SPEAKERS = {"eng_a": [1.5, 2.0], "eng_b": [3.0, 0.8, 2.2], "eng_c": [1.1], "eng_d": [4.0, 0.9], "eng_e": [1.7, 2.6]}
ALL = [f"{spk}-{i:03d}" for spk, durations in SPEAKERS.items() for i in range(len(durations))]
FILES = ("wav.scp", "text", "text.raw", "utt2spk", "utt2lang", "utt2dur")


def _make(path: Path, lang: str = "eng", speakers: dict[str, list[float]] = SPEAKERS) -> Path:
    utts = [Utterance(f"{spk}-{i:03d}", spk, lang, f"word {spk}-{i:03d}", f"/corpus/{spk}-{i:03d}.wav", d,
                      f"Word {spk}-{i:03d}!")
            for spk, durations in speakers.items() for i, d in enumerate(durations)]
    return write_data_dir(utts, path)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _keys(path: Path) -> list[str]:
    return [line.split()[0] for line in _lines(path)]


def _edit(path: Path, edit) -> None:
    path.write_text("".join(f"{line}\n" for line in edit(_lines(path))), encoding="utf-8")


@pytest.fixture
def eng(tmp_path: Path) -> Path:
    return _make(tmp_path / "eng")


def _assert_filtered(src: Path, out: Path, utts: list[str]) -> None:
    """Every per-utterance file of ``out`` holds the source's lines of exactly ``utts``, in order."""
    for name in FILES:
        assert _lines(out / name) == [line for line in _lines(src / name) if line.split()[0] in utts], name
    assert validate_data_dir(out, check_audio=False) == []


def test_fix_after_dropping_a_wav_line(eng, capsys):
    original = (eng / "wav.scp").read_text()
    _edit(eng / "wav.scp", lambda lines: [line for line in lines if not line.startswith("eng_b-001 ")])
    edited = (eng / "wav.scp").read_text()
    assert main(["fix", str(eng)]) == 0
    assert "kept 9 utterances out of 10" in capsys.readouterr().out
    kept = [u for u in ALL if u != "eng_b-001"]
    assert [_keys(eng / name) for name in FILES] == [kept] * len(FILES)  # text.raw too
    assert _lines(eng / "spk2utt")[1] == "eng_b eng_b-000 eng_b-002"
    assert (eng / ".backup" / "wav.scp").read_text() == edited != original
    assert len(_lines(eng / ".backup" / "text.raw")) == 10
    assert validate_data_dir(eng, check_audio=False) == []
    assert fix_data_dir(eng).startswith("kept all 9 utterances")  # a second run changes nothing


def test_fix_a_messy_dir_as_kaldi_does(eng):
    _edit(eng / "text", lambda lines: ["eng_b-002 other words", *reversed(lines)])  # unsorted, a duplicate first
    _edit(eng / "utt2dur", lambda lines: [("eng_a-001 0" if line.startswith("eng_a-001 ") else line) for line in lines])
    _edit(eng / "utt2lang", lambda lines: [line for line in lines if not line.startswith("eng_c-000 ")])
    _edit(eng / "spk2utt", lambda lines: [*lines, "eng_z eng_z-1"])
    assert fix_data_dir(eng).startswith("kept 8 utterances out of 10")
    assert _keys(eng / "wav.scp") == [u for u in ALL if u not in ("eng_a-001", "eng_c-000")]
    assert _lines(eng / "spk2utt") == ["eng_a eng_a-000", "eng_b eng_b-000 eng_b-001 eng_b-002",
                                       "eng_d eng_d-000 eng_d-001", "eng_e eng_e-000 eng_e-001"]
    assert "eng_b-002 other words" in _lines(eng / "text")  # sort -k1,1 -u keeps the first line of a key
    assert _keys(eng / "text.raw") == _keys(eng / "wav.scp")
    assert validate_data_dir(eng, check_audio=False) == []


def test_fix_drops_utterances_missing_from_text_raw_and_extra_files(eng):
    # Kaldi only filters extra files; here every per-utterance file ends with the same utterances
    _edit(eng / "text.raw", lambda lines: [line for line in lines if not line.startswith("eng_d-001 ")])
    (eng / "utt2gender").write_text("".join(f"{u} f\n" for u in ALL if u != "eng_a-000"))
    fix_data_dir(eng, ExtraFiles(utt=("utt2gender",)))
    kept = [u for u in ALL if u not in ("eng_d-001", "eng_a-000")]
    assert _keys(eng / "utt2gender") == _keys(eng / "text.raw") == _keys(eng / "utt2spk") == kept


def test_fix_refuses_speakers_out_of_order_and_empty_results(eng):
    _edit(eng / "utt2spk", lambda lines: ["eng_a-000 eng_b", *lines[1:]])
    with pytest.raises(DataError, match="not in sorted order when sorted first on speaker id"):
        fix_data_dir(eng)
    _edit(eng / "utt2spk", lambda lines: ["eng_a-000 eng_a", *lines[1:]])
    (eng / "utt2lang").write_text("")
    with pytest.raises(DataError, match="no utterances remained"):
        fix_data_dir(eng)
    _edit(eng / "utt2spk", lambda lines: [*lines[:2], "eng_b-000", *lines[3:]])
    with pytest.raises(DataError, match=r"utt2spk:3: expected '<utterance> <speaker>', got 'eng_b-000'"):
        fix_data_dir(eng)


def test_our_readers_accept_what_kaldis_tools_write(eng):
    # Kaldi's fix_data_dir.sh after dropping a wav.scp line: every file it knows filtered, text.raw as it was
    for name in ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur"):
        _edit(eng / name, lambda lines: [line for line in lines if not line.startswith("eng_b-001 ")])
    _edit(eng / "spk2utt", lambda lines: [line.replace(" eng_b-001", "") for line in lines])
    assert validate_data_dir(eng, check_audio=False) == []
    utts = read_data_dir(eng)
    assert [u.utt_id for u in utts] == [u for u in ALL if u != "eng_b-001"]
    assert utts[2].text_raw == "Word eng_b-000!"
    # subset_data_dir.sh and combine_data.sh write no text.raw at all
    (eng / "text.raw").unlink()
    assert validate_data_dir(eng, check_audio=False) == [] and read_data_dir(eng)[0].text_raw is None
    # an utterance missing from text.raw is still an error
    (eng / "text.raw").write_text("eng_a-000 Word!\n")
    problems = validate_data_dir(eng, check_audio=False)
    assert any("text.raw: ids differ from wav.scp, e.g. eng_a-001" in p for p in problems)
    with pytest.raises(DataError, match="text.raw: ids differ"):
        read_data_dir(eng)


SUBSETS = {  # utterances chosen by Kaldi's subset_data_dir.sh with the same selection
    "first": (["--first", "3"], ["eng_a-000", "eng_a-001", "eng_b-000"]),
    "last": (["--last", "4"], ["eng_d-000", "eng_d-001", "eng_e-000", "eng_e-001"]),
    "even3": (["--num_utt", "3"], ["eng_b-002", "eng_d-000", "eng_e-001"]),
    "even7": (["--num_utt", "7"],
              ["eng_a-001", "eng_b-000", "eng_b-002", "eng_c-000", "eng_d-000", "eng_d-001", "eng_e-001"]),
    "per_spk1": (["--per_spk", "1"], ["eng_a-000", "eng_b-000", "eng_c-000", "eng_d-000", "eng_e-000"]),
    "per_spk2": (["--per-spk", "2"], [u for u in ALL if u != "eng_b-002"]),
    "utt_list": (["--utt_list", "{ulist}"], ["eng_a-001", "eng_c-000", "eng_e-001"]),
    "spk_list": (["--spk-list", "{slist}"], ["eng_b-000", "eng_b-001", "eng_b-002", "eng_e-000", "eng_e-001"]),
    "shortest": (["--shortest", "3"], ["eng_b-001", "eng_c-000", "eng_d-001"]),  # Kaldi's needs feats; utt2dur here
}


@pytest.mark.parametrize("case", SUBSETS)
def test_subset_selects_as_kaldi_does(case, eng, tmp_path, capsys):
    (tmp_path / "ulist").write_text("eng_c-000\neng_a-001 x\nnot_there\neng_e-001\n")
    (tmp_path / "slist").write_text("eng_b\neng_e\nnobody\n")
    args, expected = SUBSETS[case]
    args = [arg.format(ulist=tmp_path / "ulist", slist=tmp_path / "slist") for arg in args]
    assert main(["subset", str(eng), str(tmp_path / "sub"), *args]) == 0
    assert f"reducing #utt from 10 to {len(expected)}" in capsys.readouterr().out
    _assert_filtered(eng, tmp_path / "sub", expected)


def test_subset_of_random_speakers(eng, tmp_path):
    chosen = {}
    for seed in range(6):
        subset_data_dir(eng, tmp_path / f"s{seed}", "speakers", 4, seed=seed)
        spk2utt = [line.split() for line in _lines(tmp_path / f"s{seed}" / "spk2utt")]
        sizes = [len(SPEAKERS[row[0]]) for row in spk2utt]
        assert all(row[1:] == [f"{row[0]}-{i:03d}" for i in range(len(SPEAKERS[row[0]]))] for row in spk2utt)
        assert sum(sizes) >= 4 and max(sizes) > sum(sizes) - 4  # without the last speaker drawn: under 4
        _assert_filtered(eng, tmp_path / f"s{seed}", _keys(tmp_path / f"s{seed}" / "utt2spk"))
        chosen[seed] = _keys(tmp_path / f"s{seed}" / "utt2spk")
    subset_data_dir(eng, tmp_path / "again", "speakers", 4, seed=3)
    assert _keys(tmp_path / "again" / "utt2spk") == chosen[3]
    assert len({tuple(utts) for utts in chosen.values()}) > 1


def test_subset_refuses_more_than_the_dir_has(eng, tmp_path, capsys):
    assert main(["subset", str(eng), str(tmp_path / "sub"), "--num_utt", "11"]) == 1
    assert "cannot subset to more utterances (11) than the dir has (10)" in capsys.readouterr().err
    assert not (tmp_path / "sub").exists()


def test_combine_as_kaldi_does(eng, tmp_path, capsys):
    fra = _make(tmp_path / "fra", "fra", {"fra_x": [1.0, 2.0], "fra_y": [3.0]})
    assert main(["combine", str(tmp_path / "all"), str(fra), str(eng)]) == 0
    assert "kept all 13 utterances" in capsys.readouterr().out
    for name in FILES:
        assert _lines(tmp_path / "all" / name) == _lines(eng / name) + _lines(fra / name)  # sorted: eng_ < fra_
    assert _lines(tmp_path / "all" / "spk2utt")[-2:] == ["fra_x fra_x-000 fra_x-001", "fra_y fra_y-000"]
    assert validate_data_dir(tmp_path / "all", check_audio=False) == []
    # a file missing from one source is not combined (Kaldi's rule); the result is still valid
    (fra / "text.raw").unlink()
    assert "not combined, as not in every source: text.raw" in combine_data_dirs(tmp_path / "all", [eng, fra])
    assert not (tmp_path / "all" / "text.raw").exists()
    assert validate_data_dir(tmp_path / "all", check_audio=False) == []


def test_combine_refuses_an_utterance_in_two_sources(eng, tmp_path, capsys):
    # Kaldi's combine_data.sh keeps one of them silently
    other = _make(tmp_path / "other", speakers={"eng_c": [2.0]})
    assert main(["combine", str(tmp_path / "all"), str(eng), str(other)]) == 1
    assert f"utterance eng_c-000 is in both {eng} and {other}" in capsys.readouterr().err
    assert not (tmp_path / "all").exists()


@pytest.mark.parametrize("options, key", [
    (["--utt_prefix", "x-", "--spk-prefix", "x-"], "x-{}"),
    (["--utt-suffix", "_sp", "--spk_suffix", "_sp"], "{}_sp"),
])
def test_copy_renames_every_file_as_kaldi_does(options, key, eng, tmp_path):
    assert main(["copy", str(eng), str(tmp_path / "copy"), *options]) == 0
    copy = tmp_path / "copy"
    renamed = sorted(key.format(u) for u in ALL)
    for name in FILES:
        rows = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in _lines(eng / name)}
        expected = {key.format(u): value for u, value in rows.items()}
        if name == "utt2spk":
            expected = {u: key.format(spk) for u, spk in expected.items()}
        assert _lines(copy / name) == [f"{u} {expected[u]}" for u in renamed], name
    assert _lines(copy / "spk2utt")[0] == " ".join(key.format(name) for name in ("eng_a", "eng_a-000", "eng_a-001"))
    assert not (copy / "utt2uniq").exists()  # Kaldi's script moves the one it made to .backup
    problems = validate_data_dir(copy, check_audio=False)
    # a suffix breaks our rule that an utterance id starts with its speaker id (Kaldi has no such rule)
    assert problems == [] if key.startswith("x-") else all("does not start with its speaker id" in p for p in problems)


def test_copy_keeps_utt2uniq_values_and_refuses_itself(eng, tmp_path):
    (eng / "utt2uniq").write_text("".join(f"{u} {u}\n" for u in ALL))
    copy_data_dir(eng, tmp_path / "copy", Renaming(utt_prefix="sp0.9-", spk_prefix="sp0.9-"))
    assert _lines(tmp_path / "copy" / "utt2uniq")[0] == "sp0.9-eng_a-000 eng_a-000"
    with pytest.raises(DataError, match="destination other than the source"):
        copy_data_dir(eng, eng)


KALDI_CHECKS = {
    "reserved": ("text", lambda lines: ["eng_a-000 <s> word", *lines[1:]], "contains the reserved symbol <s>"),
    "non_printable": ("text", lambda lines: ["eng_a-000 word\x01", *lines[1:]], "non-printable or non-blank"),
    "nbsp": ("text", lambda lines: ["eng_a-000 a\u00a0b", *lines[1:]], "U+00A0"),
    "tilde": ("wav.scp", lambda lines: ["eng_a-000 ~/a.wav", *lines[1:]], "starts with ~"),
    "spk_sort": ("utt2spk", lambda lines: ["eng_a-000 eng_f", *lines[1:]], "not sorted by speaker id (eng_a after"),
    "utt2spk_fields": ("utt2spk", lambda lines: ["eng_a-000 eng_a x", *lines[1:]], "expected '<utterance> <speaker>'"),
}


@pytest.mark.parametrize("case", KALDI_CHECKS)
def test_validate_makes_kaldis_checks(case, eng, capsys):
    name, edit, message = KALDI_CHECKS[case]
    _edit(eng / name, edit)
    assert any(message in p for p in validate_data_dir(eng, check_audio=False, kaldi_only=True))
    assert main(["validate", "--no-audio", "--kaldi_only", str(eng)]) == 1
    assert message in capsys.readouterr().err


def test_validate_file_checks(eng):
    (eng / "utt2dur").write_text((eng / "utt2dur").read_text().rstrip("\n"))
    (eng / "spk2gender").write_text("eng_a m\neng_b x\n")
    problems = validate_data_dir(eng, check_audio=False)
    assert any("utt2dur: the last line has no newline" in p for p in problems)
    (eng / "utt2dur").write_text((eng / "utt2dur").read_text() + "\n")
    problems = validate_data_dir(eng, check_audio=False)
    assert any("spk2gender:2: gender 'x' of eng_b is not m or f" in p for p in problems)
    assert any("spk2gender: ids differ from spk2utt, e.g. eng_c" in p for p in problems)


def test_validate_kaldi_only_accepts_a_plain_kaldi_dir(eng):
    for name in ("utt2lang", "utt2dur", "text.raw"):
        (eng / name).unlink()
    assert any("missing utt2lang, utt2dur" in p for p in validate_data_dir(eng, check_audio=False))
    assert validate_data_dir(eng, kaldi_only=True) == []


@pytest.mark.parametrize("tool", ["fix", "subset", "combine", "copy"])
def test_every_tool_writes_under_the_lock_of_its_output(tool, eng, tmp_path, capsys):
    out = eng if tool == "fix" else tmp_path / "out"
    args = {"fix": ["fix", str(eng)], "subset": ["subset", str(eng), str(out), "--first", "3"],
            "combine": ["combine", str(out), str(eng)], "copy": ["copy", str(eng), str(out), "--utt_prefix", "x-"]}
    _edit(eng / "wav.scp", lambda lines: lines[1:])  # something for fix to do
    before = {path.name: path.read_bytes() for path in eng.iterdir()}
    with output_lock(out):
        assert main([*args[tool], "--lock_timeout", "0"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"{out}: being written by PID {os.getpid()} on " in err[0], err
    assert {path.name: path.read_bytes() for path in eng.iterdir()} == before
    assert tool == "fix" or not out.exists()
    assert main(args[tool]) == 0 and (out / "spk2utt").is_file()  # once the holder is gone


# A Kaldi data dir with segments, as fix_data_dir.sh finds it: segments unsorted, one line with
# tabs, one utterance of a recording wav.scp lacks (rec9), a recording no segment names (rec4).
SEGMENTED = {
    "wav.scp": "rec1 /c/rec1.wav\nrec2 sox /c/rec2.flac -t wav - |\nrec3 /c/a.ark:123\nrec4 /c/unused.wav\n",
    "segments": "spkB-1 rec2 0.2 2\nspkA-1\trec1\t0\t1.5\nspkA-2 rec1 1.5 3.25\nspkB-2 rec3 0 1\nspkC-1 rec9 0 1\n",
    "utt2spk": "spkA-1 spkA\nspkA-2 spkA\nspkB-1 spkB\nspkB-2 spkB\nspkC-1 spkC\n",
    "spk2utt": "spkA spkA-1 spkA-2\nspkB spkB-1 spkB-2\nspkC spkC-1\n",
    "text": "spkA-1 one\nspkA-2 two\nspkB-1 hello  world\nspkB-2 four\nspkC-1 five\n",
    "utt2dur": "spkA-1 1.5\nspkA-2 1.75\nspkB-1 1.8\nspkB-2 1\nspkC-1 1\n",
    "reco2dur": "rec1 3.25\nrec2 2\nrec3 1\nrec4 5\n",
}
# what Kaldi's fix_data_dir.sh makes of it (written out by hand from the script): segments through
# its awk (one blank between fields), the utterance of rec9 and the recording rec4 gone
SEGMENTED_FIXED = {
    "wav.scp": "rec1 /c/rec1.wav\nrec2 sox /c/rec2.flac -t wav - |\nrec3 /c/a.ark:123\n",
    "segments": "spkA-1 rec1 0 1.5\nspkA-2 rec1 1.5 3.25\nspkB-1 rec2 0.2 2\nspkB-2 rec3 0 1\n",
    "utt2spk": "spkA-1 spkA\nspkA-2 spkA\nspkB-1 spkB\nspkB-2 spkB\n",
    "spk2utt": "spkA spkA-1 spkA-2\nspkB spkB-1 spkB-2\n",
    "text": "spkA-1 one\nspkA-2 two\nspkB-1 hello  world\nspkB-2 four\n",
    "utt2dur": "spkA-1 1.5\nspkA-2 1.75\nspkB-1 1.8\nspkB-2 1\n",
    "reco2dur": "rec1 3.25\nrec2 2\nrec3 1\n",
}


def _write(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (path / name).write_text(content, encoding="utf-8")
    return path


def _files(path: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in path.iterdir() if p.is_file() and p.name != ".done"}


def test_fix_keeps_segments_and_their_recordings_as_kaldi_does(tmp_path, capsys):
    data = _write(tmp_path / "kaldi", SEGMENTED)
    assert main(["fix", str(data)]) == 0
    assert "kept 4 utterances out of 5" in capsys.readouterr().out
    assert _files(data) == SEGMENTED_FIXED
    assert validate_data_dir(data, kaldi_only=True) == []


def test_subset_of_a_segmented_dir_as_kaldi_does(tmp_path, capsys):
    data = _write(tmp_path / "kaldi", SEGMENTED_FIXED)
    # subset_data_dir.sh's own form: the flag, then SRC N DEST; wav.scp and reco2dur keep rec1 only
    assert main(["subset", "--first", str(data), "2", str(tmp_path / "first")]) == 0
    assert _files(tmp_path / "first") == {
        "wav.scp": "rec1 /c/rec1.wav\n", "segments": "spkA-1 rec1 0 1.5\nspkA-2 rec1 1.5 3.25\n",
        "utt2spk": "spkA-1 spkA\nspkA-2 spkA\n", "spk2utt": "spkA spkA-1 spkA-2\n", "text": "spkA-1 one\nspkA-2 two\n",
        "utt2dur": "spkA-1 1.5\nspkA-2 1.75\n", "reco2dur": "rec1 3.25\n"}
    # --per-spk: Kaldi's awk writes spk2utt with a blank after every id
    assert main(["subset", "--per-spk", str(data), "1", str(tmp_path / "per_spk")]) == 0
    assert _files(tmp_path / "per_spk") == {
        "wav.scp": "rec1 /c/rec1.wav\nrec2 sox /c/rec2.flac -t wav - |\n",
        "segments": "spkA-1 rec1 0 1.5\nspkB-1 rec2 0.2 2\n", "utt2spk": "spkA-1 spkA\nspkB-1 spkB\n",
        "spk2utt": "spkA spkA-1 \nspkB spkB-1 \n", "text": "spkA-1 one\nspkB-1 hello  world\n",
        "utt2dur": "spkA-1 1.5\nspkB-1 1.8\n", "reco2dur": "rec1 3.25\nrec2 2\n"}
    assert validate_data_dir(tmp_path / "per_spk", kaldi_only=True) == []
    assert "reducing #utt from 4 to 2" in capsys.readouterr().out


def test_subset_per_spk_writes_spk2utt_as_kaldi_does(eng, tmp_path):
    assert main(["subset", str(eng), str(tmp_path / "sub"), "--per_spk", "2"]) == 0
    assert (tmp_path / "sub" / "spk2utt").read_bytes() == (
        b"eng_a eng_a-000 eng_a-001 \neng_b eng_b-000 eng_b-001 \neng_c eng_c-000 \n"
        b"eng_d eng_d-000 eng_d-001 \neng_e eng_e-000 eng_e-001 \n")
    assert validate_data_dir(tmp_path / "sub", check_audio=False) == []


@pytest.mark.parametrize("kaldi, ours", [
    (["{src}", "3", "{dest}"], ["{src}", "{dest}", "--num_utt", "3"]),
    (["--last", "{src}", "4", "{dest}"], ["{src}", "{dest}", "--last", "4"]),
    (["--shortest", "{src}", "3", "{dest}"], ["--shortest", "3", "{src}", "{dest}"]),
])
def test_subset_takes_kaldis_argument_forms(kaldi, ours, eng, tmp_path):
    for name, args in (("kaldi", kaldi), ("ours", ours)):
        values = {"src": eng, "dest": tmp_path / name}
        assert main(["subset", *(arg.format(**values) for arg in args)]) == 0
    assert _files(tmp_path / "kaldi") == _files(tmp_path / "ours")


def test_copy_takes_a_value_that_starts_with_a_dash(eng, tmp_path):
    # Kaldi's parse_options.sh takes the next word as the value: copy_data_dir.sh --utt-suffix -s
    assert main(["copy", str(eng), str(tmp_path / "copy"), "--utt-suffix", "-s", "--spk_suffix", "-s"]) == 0
    assert _lines(tmp_path / "copy" / "utt2spk")[0] == "eng_a-000-s eng_a-s"


def test_copy_of_a_segmented_dir_as_kaldi_does(tmp_path):
    data = _write(tmp_path / "kaldi", SEGMENTED_FIXED)
    copy_data_dir(data, tmp_path / "copy", Renaming(utt_prefix="p-", spk_prefix="p-"))
    # segments, text, utt2dur through apply_map.pl (one blank between fields); wav.scp and
    # reco2dur are keyed by recording and copied as they are
    assert _files(tmp_path / "copy") == {
        "wav.scp": SEGMENTED_FIXED["wav.scp"], "reco2dur": SEGMENTED_FIXED["reco2dur"],
        "segments": "p-spkA-1 rec1 0 1.5\np-spkA-2 rec1 1.5 3.25\np-spkB-1 rec2 0.2 2\np-spkB-2 rec3 0 1\n",
        "utt2spk": "p-spkA-1 p-spkA\np-spkA-2 p-spkA\np-spkB-1 p-spkB\np-spkB-2 p-spkB\n",
        "spk2utt": "p-spkA p-spkA-1 p-spkA-2\np-spkB p-spkB-1 p-spkB-2\n",
        "text": "p-spkA-1 one\np-spkA-2 two\np-spkB-1 hello world\np-spkB-2 four\n",
        "utt2dur": "p-spkA-1 1.5\np-spkA-2 1.75\np-spkB-1 1.8\np-spkB-2 1\n"}
    assert validate_data_dir(tmp_path / "copy", kaldi_only=True) == []


def test_combine_makes_segments_for_a_dir_without_as_kaldi_does(tmp_path, capsys):
    segmented = _write(tmp_path / "seg", SEGMENTED_FIXED)
    plain = _write(tmp_path / "plain", {"wav.scp": "spkD-1 /c/d1.wav\n", "utt2spk": "spkD-1 spkD\n",
                                        "spk2utt": "spkD spkD-1\n", "text": "spkD-1 six\n", "utt2dur": "spkD-1 2.5\n"})
    assert main(["combine", str(tmp_path / "all"), str(segmented), str(plain)]) == 0
    assert "not combined, as not in every source: reco2dur" in capsys.readouterr().out
    combined = _files(tmp_path / "all")
    # get_segments_for_data.sh: the whole recording, named like the utterance, its utt2dur as written
    assert combined["segments"] == SEGMENTED_FIXED["segments"] + "spkD-1 spkD-1 0 2.5\n"
    assert combined["wav.scp"] == SEGMENTED_FIXED["wav.scp"] + "spkD-1 /c/d1.wav\n"
    assert combined["spk2utt"] == SEGMENTED_FIXED["spk2utt"] + "spkD spkD-1\n"
    assert validate_data_dir(tmp_path / "all", kaldi_only=True) == []
    # a recording of two sources with different lines is an error
    _write(plain, {"wav.scp": "rec1 /c/other.wav\n", "segments": "spkD-1 rec1 0 1\n"})
    assert main(["combine", str(tmp_path / "all2"), str(segmented), str(plain)]) == 1
    assert "wav.scp: recording rec1 has two different lines" in capsys.readouterr().err


def test_validate_takes_a_segmented_dir_and_names_its_faults(tmp_path):
    data = _write(tmp_path / "kaldi", SEGMENTED_FIXED)
    assert validate_data_dir(data, kaldi_only=True) == []
    _edit(data / "segments", lambda lines: [*lines[:3], "spkB-2 rec3 1 1", "spkB-3 rec5 0 1"])
    _edit(data / "wav.scp", lambda lines: [*lines, "rec4 /c/unused.wav"])
    problems = validate_data_dir(data, kaldi_only=True)
    assert any(f"{data / 'segments'}:4: expected '<utterance> <recording> <start> <end>' with 0 <= start < end" in p
               for p in problems), problems
    assert any(f"{data / 'segments'}:5: recording rec5 of spkB-3 is not in {data / 'wav.scp'}" in p for p in problems)
    assert any(f"{data / 'wav.scp'}: recording rec3 is in no segment" in p for p in problems)
    assert any(f"{data / 'text'}: ids differ from segments, e.g. spkB-3" in p for p in problems)

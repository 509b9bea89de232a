"""Replay samples, subsets by hours and speaker-disjoint splits: budgets, balance, determinism."""
from collections import Counter

import pytest

from lamer.bin.prepare_data import main
from lamer.data.datadir_io import Utterance, read_data_dir, write_data_dir
from lamer.data.errors import DataError
from lamer.data.selection import SplitSizes, select_duration, speaker_disjoint_split, total_duration
from lamer.data.validate import validate_data_dir


def corpus(speakers: dict[str, int], lang: str = "eng") -> list[Utterance]:
    """Utterances of 1-5 s; ``speakers`` maps a speaker to how many utterances it has."""
    utts = []
    for s, (spk, count) in enumerate(sorted(speakers.items())):
        for i in range(count):
            utt = f"{spk}-u{i:03d}"
            utts.append(Utterance(utt, spk, lang, f"words {i}", f"/audio/{utt}.wav", 1.0 + (s + i) % 5, f"Words {i}."))
    return utts


def test_random_budget_and_determinism():
    utts = corpus({f"eng_s{k}": 20 for k in range(5)})
    first = select_duration(utts, 60.0, "random", seed=3)
    assert 55.0 <= total_duration(first) <= 60.0
    assert first == select_duration(list(reversed(utts)), 60.0, "random", seed=3)  # input order does not matter
    assert first != select_duration(utts, 60.0, "random", seed=4)
    assert [u.utt_id for u in first] == sorted(u.utt_id for u in first)


def test_speaker_balanced_hears_every_voice_first():
    # one speaker dominates the data: random sampling mostly picks it, balanced spreads over all 10
    utts = corpus({"eng_big": 200, **{f"eng_s{k}": 3 for k in range(9)}})
    balanced = Counter(u.speaker for u in select_duration(utts, 40.0, "speaker_balanced", seed=0))
    assert len(balanced) == 10 and max(balanced.values()) - min(balanced.values()) <= 1
    random = Counter(u.speaker for u in select_duration(utts, 40.0, "random", seed=0))
    assert random["eng_big"] > balanced["eng_big"]


def test_budget_larger_than_data_takes_everything_and_bad_strategy_fails():
    utts = corpus({"eng_a": 3})
    assert select_duration(utts, 1e6, "speaker_balanced") == sorted(utts, key=lambda u: u.utt_id)
    with pytest.raises(DataError, match="unknown selection strategy 'loudest'"):
        select_duration(utts, 10.0, "loudest")
    with pytest.raises(DataError, match="must be positive"):
        select_duration(utts, 0.0)


def test_speaker_disjoint_split():
    utts = corpus({f"eng_s{k:02d}": 10 for k in range(20)})
    parts = speaker_disjoint_split(utts, SplitSizes(dev=0.1, test=0.2), seed=1)
    speakers = {name: {u.speaker for u in part} for name, part in parts.items()}
    assert not (speakers["train"] & speakers["dev"] or speakers["train"] & speakers["test"]
                or speakers["dev"] & speakers["test"])
    assert sum(map(len, parts.values())) == len(utts)
    total = total_duration(utts)
    assert 0.1 * total <= total_duration(parts["dev"]) <= 0.2 * total
    assert 0.2 * total <= total_duration(parts["test"]) <= 0.3 * total
    assert parts == speaker_disjoint_split(utts, SplitSizes(dev=0.1, test=0.2), seed=1)
    three = speaker_disjoint_split(corpus({"eng_a": 2, "eng_b": 2, "eng_c": 2}), SplitSizes(0.5, 0.4))
    assert [len({u.speaker for u in three[n]}) for n in ("train", "dev", "test")] == [1, 1, 1]
    with pytest.raises(DataError, match="1 speaker"):
        speaker_disjoint_split(corpus({"eng_a": 5}), SplitSizes(0.1, 0.1))


def test_replay_subset_split_cli(tmp_path, capsys):
    old = write_data_dir(corpus({f"eng_s{k}": 30 for k in range(6)}), tmp_path / "eng" / "train")
    new = write_data_dir(corpus({f"spa_s{k}": 10 for k in range(4)}, "spa"), tmp_path / "spa" / "train")
    other = write_data_dir(corpus({f"ita_s{k}": 5 for k in range(4)}, "ita"), tmp_path / "ita" / "train")
    out = tmp_path / "replay"
    for args, budget in (
        (["--minutes", "2"], 120.0),
        (["--fraction", "0.5", "--of", str(new)], 0.5 * total_duration(read_data_dir(new))),
        # a fraction of all the stage's new languages together
        (["--fraction", "0.5", "--of", str(new), "--of", str(other)],
         0.5 * (total_duration(read_data_dir(new)) + total_duration(read_data_dir(other)))),
    ):
        for strategy in ("random", "speaker_balanced"):
            argv = ["replay", "--src", str(old), *args, "--strategy", strategy, "--seed", "7", "--out", str(out)]
            assert main(argv) == 0
            chosen = read_data_dir(out)
            assert 0.9 * budget <= total_duration(chosen) <= budget
            assert validate_data_dir(out, check_audio=False) == []
            assert {u.lang for u in chosen} == {"eng"} and all(u.text_raw for u in chosen)
    assert main(["subset", "--src", str(old), "--hours", "0.01", "--out", str(tmp_path / "sub")]) == 0
    assert 30 <= total_duration(read_data_dir(tmp_path / "sub")) <= 36
    assert main(["split", "--src", str(old), "--dev", "0.2", "--test", "0.2", "--out", str(tmp_path / "split")]) == 0
    assert sorted(p.name for p in (tmp_path / "split").iterdir() if p.is_dir()) == ["dev", "test", "train"]
    assert main(["replay", "--src", str(tmp_path / "none"), "--minutes", "1", "--out", str(out)]) == 1
    assert "missing wav.scp" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", "--src", str(old), "--fraction", "0.5", "--out", str(out)])

"""Inputs of the ASR+LID probe: ``[iso] TRANSCRIPT`` data dirs, shape files and token lists.

A probe dir merges Kaldi data dirs (one per language, as ``lamer.data`` writes them) into the
files ESPnet's ASR task reads: ``wav.scp``, ``text`` with the language tag first (the ML-SUPERB
convention for joint ASR and LID), ``utt2lang`` (for scoring) and ``speech_shape`` (samples
per utterance, for ESPnet's batch samplers). ESPnet reads its ``wav.scp`` as ``sound``, which
takes whole audio files only: an utterance that is a Kaldi archive position or a segment of a
recording is written as a 16 kHz wav under the probe dir's ``data/``, as ESPnet's ``asr.sh``
formats its dump dirs (:mod:`lamer.data.format_dir`); one that runs a command is refused.
A token dir holds ``tokens.txt`` (ESPnet's token list: ``<blank>``, ``<unk>``, tokens by
frequency, ``<sos/eos>``), ``nlsyms.txt`` (the tags, kept whole by the char tokenizer) and,
for sentencepiece, ``bpe.model`` with the tags as user-defined symbols. With a recipe's
per-language folder (:mod:`lamer.data.lang_config`), a language's ``tokens`` settings drop its
rare characters from a char list (they become ``<unk>``); a character stays when any language
keeps it, and ``report.json`` says what each language's settings dropped. Both dirs are written
under their output lock (:mod:`lamer.data.lock`): a second writer waits, or stops after
``lock_timeout`` seconds.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from lamer.atomic import atomic_dir
from lamer.data.audio import TARGET_RATE
from lamer.data.datadir_io import read_data_dir
from lamer.data.errors import DataError
from lamer.data.format_dir import AUDIO_DIR, write_plain_audio
from lamer.data.kaldi_table import table_lines
from lamer.data.lang_config import LangConfig, load_lang_configs
from lamer.data.languages import LANGUAGE_TAG
from lamer.data.lock import output_lock
from lamer.data.selection import select_duration
from lamer.data.wav_scp import NO_PIPE_HINT, refuse_pipes
from lamer.layout import ProbeDataDir, TokensDir

TOKEN_TYPES = ("char", "bpe")
SPECIAL_FIRST = ("<blank>", "<unk>")
SOS_EOS = "<sos/eos>"
SPACE = "<space>"


def language_tag(lang: str) -> str:
    """The ML-SUPERB tag of a language: ``[eng]``."""
    return f"[{lang}]"


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_probe_dir(data_dirs: list[Path], out_dir: Path, lock_timeout: float | None = None,
                    minutes_per_dir: float | None = None, seed: int = 0) -> dict[str, int]:
    """Merge Kaldi data dirs into one probe dir ``out_dir`` (written atomically, under its lock).

    ``minutes_per_dir`` keeps at most that many minutes of each data dir (one language's split),
    chosen speaker-balanced from ``seed`` (:func:`~lamer.data.selection.select_duration`): the
    probes' labelled budget. Returns the utterance count per language. Raises DataError naming the data dir for an
    empty transcript, an utterance id found in two dirs, or a language code that cannot be a
    tag (it must be one token without brackets or spaces), and naming the line of a ``wav.scp``
    entry that runs a command or cannot be read.
    """
    seen: dict[str, Path] = {}
    rows = []
    for data_dir in map(Path, data_dirs):
        utts = read_data_dir(data_dir)
        if minutes_per_dir is not None:
            utts = select_duration(utts, minutes_per_dir * 60.0, "speaker_balanced", seed)
        for utt in utts:
            if utt.utt_id in seen:
                raise DataError(f"{data_dir}: utterance id {utt.utt_id} is also in {seen[utt.utt_id]}")
            seen[utt.utt_id] = data_dir
            transcript = " ".join(utt.text.split())
            if not transcript:
                raise DataError(f"{data_dir}/text: utterance {utt.utt_id} has an empty transcript")
            tag = language_tag(utt.lang)
            if not LANGUAGE_TAG.fullmatch(tag):
                raise DataError(f"{data_dir}/utt2lang: language {utt.lang!r} of {utt.utt_id} cannot be a tag")
            rows.append((utt.utt_id, utt, f"{tag} {transcript}"))
    if not rows:
        raise DataError(f"no utterances in {', '.join(map(str, data_dirs))}")
    rows.sort(key=lambda row: row[0])
    refuse_pipes([u.entry for _, u, _ in rows], NO_PIPE_HINT)
    with output_lock(out_dir, lock_timeout), atomic_dir(out_dir) as tmp:
        audio = write_plain_audio((u.entry for _, u, _ in rows), tmp / AUDIO_DIR, Path(out_dir) / AUDIO_DIR)
        _write_lines(tmp / ProbeDataDir.WAV_SCP, [f"{uid} {audio[uid][0]}" for uid, _, _ in rows])
        _write_lines(tmp / ProbeDataDir.TEXT, [f"{uid} {text}" for uid, _, text in rows])
        _write_lines(tmp / ProbeDataDir.UTT2LANG, [f"{uid} {u.lang}" for uid, u, _ in rows])
        _write_lines(tmp / ProbeDataDir.SPEECH_SHAPE, [f"{uid} {audio[uid][1] or round(u.duration * TARGET_RATE)}"
                                                       for uid, u, _ in rows])
    return dict(sorted(Counter(u.lang for _, u, _ in rows).items()))


def read_tagged_text(path: Path) -> list[tuple[str, str]]:
    """``(tag, transcript)`` of every line of a probe ``text``; errors name the file and line."""
    out = []
    for line in table_lines(path):
        fields = line.text.split(maxsplit=2)
        if len(fields) < 3 or not LANGUAGE_TAG.fullmatch(fields[1]):
            raise DataError(f"{line.origin}: expected '<utt> [iso] transcript', got {line.text.rstrip()!r}")
        out.append((fields[1], fields[2].strip()))
    return out


def _token_list(counts: Counter) -> list[str]:
    """ESPnet's order: blank, unk, tokens by descending count (ties by name), sos/eos last."""
    ordered = sorted(counts, key=lambda token: (-counts[token], token))
    return [*SPECIAL_FIRST, *ordered, SOS_EOS]


def write_token_dir(text_path: Path, out_dir: Path, token_type: str = "char", vocab_size: int = 200,
                    lang_dir: Path | None = None, lock_timeout: float | None = None) -> list[str]:
    """Build the token list (and sentencepiece model for ``bpe``) from a probe ``text``.

    Every language tag of the text is a token of its own. ``lang_dir`` is a recipe's
    per-language folder: the ``tokens`` settings of its ``<iso3>/lang.yaml`` files thin the char
    list (see :class:`lamer.data.lang_config.TokenRules`), and ``report.json`` records them;
    they are refused for ``bpe``. Returns the token list. The dir is written atomically, under
    its lock (waiting at most ``lock_timeout`` seconds for another writer).
    """
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"token_type must be one of {TOKEN_TYPES}, got {token_type!r}")
    lines = read_tagged_text(Path(text_path))
    tags = sorted({tag for tag, _ in lines})
    configs = {lang: config for lang, config in load_lang_configs(lang_dir, [tag[1:-1] for tag in tags]).items()
               if config.tokens.changes()}
    if configs and token_type != "char":
        raise ValueError(f"{next(iter(configs.values())).path}: tokens settings apply to char token lists only")
    with output_lock(out_dir, lock_timeout), atomic_dir(out_dir) as tmp:
        _write_lines(tmp / TokensDir.NLSYMS, tags)
        if token_type == "char":
            tokens, report = _char_tokens(lines, tags, configs)
            if lang_dir is not None:
                (tmp / "report.json").write_text(
                    json.dumps({"token_rules": report}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            tokens = _train_sentencepiece(lines, tags, vocab_size, tmp)
        _write_lines(tmp / TokensDir.TOKENS, tokens)
    return tokens


def _char_tokens(
    lines: list[tuple[str, str]], tags: list[str], configs: dict[str, LangConfig]
) -> tuple[list[str], dict[str, dict[str, object]]]:
    """The char token list, and for each language with ``tokens`` settings how many of its
    characters (and what share of its character occurrences) are left to ``<unk>``."""
    from espnet2.text.char_tokenizer import CharTokenizer

    tokenizer = CharTokenizer(non_linguistic_symbols=tags)
    counts: Counter = Counter()
    per_lang: dict[str, Counter] = {}
    for tag, transcript in lines:
        tokens = tokenizer.text2tokens(f"{tag} {transcript}")
        counts.update(tokens)
        per_lang.setdefault(tag[1:-1], Counter()).update(t for t in tokens[1:] if t != SPACE)
    kept = {SPACE, *tags}
    for lang, chars in per_lang.items():
        kept.update(configs[lang].tokens.select(chars) if lang in configs else chars)
    report = {}
    for lang, config in configs.items():
        chars = per_lang[lang]
        unk = {char: n for char, n in chars.items() if char not in kept}
        report[lang] = {"file": str(config.path), **config.tokens.changes(), "characters": len(chars),
                        "unk_characters": len(unk), "unk_share": round(sum(unk.values()) / sum(chars.values()), 6)}
    return _token_list(Counter({t: n for t, n in counts.items() if t in kept})), report


def _train_sentencepiece(lines: list[tuple[str, str]], tags: list[str], vocab_size: int, out_dir: Path) -> list[str]:
    import sentencepiece as spm

    corpus = out_dir / "train_text.txt"
    corpus.write_text("".join(f"{tag} {transcript}\n" for tag, transcript in lines), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out_dir / "bpe"), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, user_defined_symbols=tags, input_sentence_size=100_000_000,
        minloglevel=2,
    )
    corpus.unlink()
    # bpe.vocab starts with <unk> <s> </s>; ESPnet's list has its own specials around the pieces.
    pieces = [line.split("\t")[0] for line in (out_dir / "bpe.vocab").read_text(encoding="utf-8").splitlines()[3:]]
    return [*SPECIAL_FIRST, *pieces, SOS_EOS]

"""Split decoding: one of N contiguous blocks of a test set, and the merge of the blocks' outputs.

Block J of N (``lamer.shards``, Kaldi's ``split_scp.pl`` cut, in the order of the first data
file) of OUTPUT_DIR is decoded into ``OUTPUT_DIR/splitN/J``: its data files are written to
``splitN/J/data/<name>``, the decoder writes ``splitN/J/1best_recog/*``, and only once it has
succeeded ``splitN/J/keys`` lists the block's utterances (the block's completion mark). The
merge writes every ``1best_recog`` file into ``OUTPUT_DIR/1best_recog`` in the first data
file's order, the order a one-job decode writes, after checking every block: each must have
a hypothesis (``text``) and, when any block has one, a language (``lid``) for every utterance.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from lamer.atomic import write_atomic, write_text_atomic
from lamer.layout import DecodeDir
from lamer.shards import job_block

KEYS = "keys"
RESULT_DIR = DecodeDir.RESULT_DIR
COMPLETE_FILES = (DecodeDir.TEXT, DecodeDir.LID)  # one line per utterance of the block: checked before merging


def block_dir(output_dir: Path, nj: int, job: int) -> Path:
    """Where block ``job`` of ``nj`` of ``output_dir`` is decoded."""
    return Path(output_dir) / DecodeDir.blocks_name(nj) / str(job)


def _keyed_lines(path: Path) -> list[tuple[str, str]]:
    """(first field, line) of every non-empty line of ``path``."""
    with open(path, encoding="utf-8") as handle:
        return [(line.split(maxsplit=1)[0], line if line.endswith("\n") else line + "\n") for line in handle
                if line.strip()]


def write_block_data(data: Sequence[str], nj: int, job: int, directory: Path) -> tuple[list[str], list[str]]:
    """Write block ``job`` of ``nj`` of every ``PATH,NAME,TYPE`` data file into ``directory/data``.

    The block is cut from the first file's utterances in its order; the other files keep the
    block's utterances. Returns the block's ``PATH,NAME,TYPE`` list and its utterance ids. The
    block's completion mark of an earlier run is removed first: until this run succeeds, the
    merge refuses the block instead of reading what an earlier run left.
    """
    (Path(directory) / KEYS).unlink(missing_ok=True)
    first = Path(data[0].split(",")[0])
    keys = [key for key, _ in _keyed_lines(first)]
    seen: set[str] = set()
    for number, key in enumerate(keys, 1):
        if key in seen:
            raise ValueError(f"{first}: utterance {key} appears twice (line {number})")
        seen.add(key)
    block = job_block(len(keys), nj, job)
    chosen = set(keys[block.start:block.stop])
    specs = []
    for spec in data:
        path, name, kind = spec.split(",")
        lines = [line for key, line in _keyed_lines(Path(path)) if key in chosen]
        target = Path(directory) / "data" / name
        write_text_atomic(target, "".join(lines))
        specs.append(f"{target},{name},{kind}")
    return specs, keys[block.start:block.stop]


def mark_decoded(directory: Path, keys: Sequence[str]) -> None:
    """Record that the block in ``directory`` of utterances ``keys`` is decoded."""
    write_text_atomic(Path(directory) / KEYS, "".join(f"{key}\n" for key in keys))


def _checked_blocks(output_dir: Path, nj: int) -> list[tuple[Path, list[str]]]:
    """(directory, utterances) of every block, after checking that each is decoded completely."""
    blocks = []
    for job in range(1, nj + 1):
        directory = block_dir(output_dir, nj, job)
        if not (directory / KEYS).is_file():
            raise FileNotFoundError(f"{directory / KEYS}: missing: block {job} of {nj} of {output_dir} was not "
                                    f"decoded, or its decoding failed; decode it again (--nj {nj} --job {job})")
        keys = (directory / KEYS).read_text(encoding="utf-8").split()
        blocks.append((directory, keys))
    for name in COMPLETE_FILES:
        written = [directory for directory, keys in blocks if keys and (directory / RESULT_DIR / name).is_file()]
        if name != DecodeDir.TEXT and not written:
            continue  # an optional output (lid: a probe with a language classifier) none of the blocks has
        for job, (directory, keys) in enumerate(blocks, 1):
            path = directory / RESULT_DIR / name
            got = {key for key, _ in _keyed_lines(path)} if path.is_file() else set()
            missing = [key for key in keys if key not in got]
            if missing or len(got) != len(keys):
                raise ValueError(f"{path}: {len(missing)} of the block's {len(keys)} utterances lack "
                                 f"{'a hypothesis' if name == 'text' else 'a line'} "
                                 f"(e.g. {missing[:1] or sorted(got - set(keys))[:1]}); decode block {job} again")
    return blocks


def merge_blocks(output_dir: Path, nj: int) -> list[Path]:
    """Merge the ``nj`` blocks of ``output_dir`` into ``output_dir/1best_recog``; returns the files.

    A missing or incomplete block is an error naming it, raised before anything is written.
    """
    blocks = _checked_blocks(Path(output_dir), nj)
    names = sorted({path.name for directory, _ in blocks if (directory / RESULT_DIR).is_dir()
                    for path in (directory / RESULT_DIR).iterdir() if path.is_file()})
    written = []
    for name in names:
        def merge(handle: IO[bytes], name: str = name) -> None:
            for directory, keys in blocks:  # one block's lines in memory at a time
                path = directory / RESULT_DIR / name
                lines = dict(_keyed_lines(path)) if path.is_file() else {}
                handle.writelines(lines[key].encode("utf-8") for key in keys if key in lines)

        target = Path(output_dir) / RESULT_DIR / name
        write_atomic(target, merge)
        written.append(target)
    for name in COMPLETE_FILES:
        if name not in names:  # an earlier decoding's, of another model
            (Path(output_dir) / RESULT_DIR / name).unlink(missing_ok=True)
    return written

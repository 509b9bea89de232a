"""Decoding with probes: ESPnet's beam search or best-path CTC, for one model or several, whole or in blocks.

``python -m lamer.bin.asr_inference`` parses its own options into :class:`DecodeOptions` and hands
them, with ESPnet's inference options, to :func:`run_decoding`. ESPnet's options are parsed once, by
ESPnet's own parser (which reads ``--config`` and refuses an unknown option), into the keyword
arguments of ESPnet's ``inference``; every job of the run is decoded with them, its probe and
output directory put in (:meth:`DecodeJob.espnet_values`). The data files they name are checked
once, before any job (:func:`~lamer.probe.data_options.check_data_files`), in the files as given,
so that an error names their lines.

A job may decode with another upstream than its probe was trained on (the ``fixed`` protocol:
:func:`~lamer.probe.override.override_frontend` writes the probe's config with the job's
adapters or checkpoint as ``OUTPUT_DIR/config_frontend_override.yaml``). With ``greedy`` decoding
(:func:`~lamer.probe.greedy.greedy_decode`) a probe with a language classifier writes its
``1best_recog/lid`` as it decodes; after ESPnet's beam search one more pass of the frontend and
the classifier writes it (:func:`~lamer.probe.lid_classify.classify_wav_scp`). A split decoding
(:class:`Block`) decodes one contiguous block of the utterances of every job into
``OUTPUT_DIR/splitN/J`` (:mod:`lamer.probe.decode_split`); :func:`merge_decodings` then writes
each job's ``1best_recog`` as one job would have.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lamer.data.errors import DataError

PROG = "asr_inference"
OVERRIDE_CONFIG = "config_frontend_override.yaml"
JOB_FIELDS = ("output_dir", "asr_train_config", "asr_model_file", "frontend_adapters", "frontend_path_or_url")
DECODINGS = ("beam", "greedy")
PROBE_DATA = (("speech", "sound"), ("speech", "kaldi_ark"))  # what greedy decoding and the classifier read
DATA = "data_path_and_name_and_type"

logger = logging.getLogger(__name__)


class UsageError(ValueError):
    """Options that do not go together, or a ``--jobs`` file that cannot be read: the tool's usage
    is wrong (exit status 2, as a parser's error)."""


@dataclass(frozen=True)
class DecodeJob:
    """One model to decode with: its output directory, its probe and the ``fixed`` overrides (the
    upstream's adapters, ``none`` for the base upstream alone, or another upstream checkpoint)."""

    output_dir: str
    asr_train_config: str | None
    asr_model_file: str | None = None
    frontend_adapters: str | None = None
    frontend_path_or_url: str | None = None

    @property
    def overrides(self) -> bool:
        """Whether it decodes with another upstream than its probe's config names."""
        return self.frontend_adapters is not None or self.frontend_path_or_url is not None

    def espnet_values(self, config: str | None) -> dict[str, str]:
        """ESPnet's inference options that name this job's probe and output (``config``: the probe
        config to read); an option the job leaves unset is not among them."""
        pairs = (("asr_train_config", config), ("asr_model_file", self.asr_model_file), ("output_dir", self.output_dir))
        return {name: value for name, value in pairs if value is not None}


def read_jobs(path: Path) -> list[DecodeJob]:
    """The jobs of a ``--jobs`` file: one a line, the five tab-separated :data:`JOB_FIELDS`, ``-`` for
    an override that is not wanted; :class:`UsageError` names the file and line of a malformed one."""
    jobs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(JOB_FIELDS) or not all(fields[:3]) or "-" in fields[:3]:
            raise UsageError(f"{path}:{number}: expected {len(JOB_FIELDS)} tab-separated fields "
                             f"({' '.join(JOB_FIELDS)}; '-' only for the last two), got {line!r}")
        jobs.append(DecodeJob(*(None if value == "-" else value for value in fields)))
    if not jobs:
        raise UsageError(f"{path}: no decoding jobs")
    return jobs


@dataclass(frozen=True)
class Block:
    """Block ``job`` of ``nj`` of a split decoding (``JOB=1:nj``)."""

    nj: int
    job: int

    def __post_init__(self) -> None:
        if not 1 <= self.job <= self.nj:
            raise UsageError(f"--job {self.job} is outside 1-{self.nj} (JOB=1:{self.nj})")


@dataclass(frozen=True)
class DecodeOptions:
    """What to decode and how, besides ESPnet's options: the ``jobs`` (one unless ``--jobs``), the
    ``decoding`` (:data:`DECODINGS`), the ``block`` of a split decoding (None: every utterance) and
    whether a data file's ``cmd |`` lines may run (``allow_pipes``)."""

    jobs: tuple[DecodeJob, ...]
    decoding: str = "beam"
    block: Block | None = None
    allow_pipes: bool = False

    @classmethod
    def from_command_line(cls, given: dict[str, str | None], jobs_file: Path | None, decoding: str,
                          nj: int | None, job: int | None, allow_pipes: bool) -> DecodeOptions:
        """The options of the command line: ``given`` the values of :data:`JOB_FIELDS` (None where
        not given), ``jobs_file`` the ``--jobs`` file (which names them all for every job instead),
        ``nj`` and ``job`` the block (both or neither). :class:`UsageError` says what does not go
        together."""
        if decoding not in DECODINGS:
            raise UsageError(f"--decoding {decoding}: expected one of {', '.join(DECODINGS)}")
        if (nj is None) != (job is None):
            raise UsageError("--nj and --job go together (block JOB of NJ)")
        block = None if nj is None else Block(nj, job)
        if jobs_file is not None:
            clashing = [f"--{name}" for name, value in given.items() if value is not None]
            if clashing:
                raise UsageError(f"--jobs {jobs_file} names every job's {', '.join(clashing)}: give them there only")
            try:
                jobs = read_jobs(jobs_file)
            except OSError as err:
                raise UsageError(str(err)) from None
            return cls(tuple(jobs), decoding, block, allow_pipes)
        if given.get("output_dir") is None:
            raise UsageError("--nj needs --output_dir (or --jobs): the blocks are decoded below it" if block else
                             "--output_dir is required (or --jobs): where the hypotheses go")
        single = DecodeJob(**{name: given.get(name) for name in JOB_FIELDS})
        if single.overrides and single.asr_train_config is None:
            raise UsageError("--frontend_adapters/--frontend_path_or_url need --asr_train_config, the probe's config "
                             "to override")
        return cls((single,), decoding, block, allow_pipes)


def run_decoding(options: DecodeOptions, espnet_argv: Sequence[str]) -> int:
    """Decode every job of ``options`` with ESPnet's inference options ``espnet_argv``; returns the exit
    status: 0, 1 after one error line naming the file (a refused data line, checkpoint or YAML, a
    missing override), 2 for options that cannot decode. ESPnet's parser exits with 2 on an
    unknown option. The run stops at the first job that fails."""
    from lamer.probe.asr_task import register_lamer_choices
    from lamer.runtime.load_guard import run_safely

    register_lamer_choices()
    return run_safely(PROG, _decode_all, options, list(espnet_argv))


def espnet_options(argv: Sequence[str]) -> dict[str, Any]:
    """ESPnet's inference options ``argv`` parsed by ESPnet's own parser, ``--config`` read into them:
    the keyword arguments of ESPnet's ``inference`` (the config's path left out). The output
    directory is each job's, so it is not required here."""
    from espnet2.bin.asr_inference import get_parser

    parser = get_parser()
    for action in parser._actions:
        if action.dest == "output_dir":
            action.required = False
    values = vars(parser.parse_args(list(argv)))
    values.pop("config", None)
    return values


def merge_decodings(output_dirs: Sequence[Path], nj: int) -> None:
    """Merge the ``nj`` blocks of each split decoding of ``output_dirs`` into its ``1best_recog``; a
    block not (or not completely) decoded is an error naming it (OSError or ValueError)."""
    from lamer.probe.decode_split import merge_blocks

    for output_dir in output_dirs:
        merge_blocks(Path(output_dir), nj)


def _error(err: object) -> None:
    print(f"{PROG}: error: {err}", file=sys.stderr)


def _decode_all(options: DecodeOptions, argv: list[str]) -> int:
    from lamer.probe.data_options import check_data_files

    espnet = espnet_options(argv)
    try:
        check_data_files(argparse.Namespace(**espnet), options.allow_pipes)
    except (DataError, OSError) as err:
        _error(err)
        return 1
    for number, job in enumerate(options.jobs, 1):
        if len(options.jobs) > 1:
            logger.info("%s: job %d/%d: %s", PROG, number, len(options.jobs), job.output_dir)
        rc = _decode(job, espnet, options) if options.block is None else _decode_block(job, espnet, options)
        if rc != 0:
            return rc
    return 0


def _decode_block(job: DecodeJob, espnet: dict[str, Any], options: DecodeOptions) -> int:
    """The block of ``options`` of one job, decoded into its ``splitN/J`` directory."""
    from lamer.probe.decode_split import block_dir, mark_decoded, write_block_data

    block = options.block
    directory = block_dir(Path(job.output_dir), block.nj, block.job)
    try:
        specs, keys = write_block_data([",".join(spec) for spec in espnet[DATA]], block.nj, block.job, directory)
    except (OSError, ValueError) as err:
        _error(err)
        return 1
    logger.info("%s: block %d/%d of %s: %d utterances", PROG, block.job, block.nj, job.output_dir, len(keys))
    if keys:  # a block past the end of a short list is empty, and decoded as such
        data = [tuple(spec.split(",")) for spec in specs]
        rc = _decode(replace(job, output_dir=str(directory)), {**espnet, DATA: data}, options)
        if rc != 0:
            return rc
    mark_decoded(directory, keys)
    return 0


def _decode(job: DecodeJob, espnet: dict[str, Any], options: DecodeOptions) -> int:
    """One job: its probe's config (the ``fixed`` overrides applied), then the decoding."""
    config = job.asr_train_config
    if job.overrides:
        from lamer.probe.override import override_frontend

        try:
            config = str(override_frontend(Path(job.asr_train_config), Path(job.output_dir) / OVERRIDE_CONFIG,
                                           adapters=job.frontend_adapters, path_or_url=job.frontend_path_or_url))
        except (OSError, ValueError) as err:
            _error(err)
            return 1
    values = {**espnet, **job.espnet_values(config)}
    if options.decoding == "greedy":
        from lamer.probe.greedy import greedy_decode

        return _on_probe(greedy_decode, values, options.allow_pipes)
    from espnet.utils.cli_utils import get_commandline_args
    from espnet2.bin.asr_inference import inference

    print(get_commandline_args(), file=sys.stderr)  # ESPnet's inference starts its log so
    inference(**values)
    return _classify(values, options.allow_pipes)


def _on_probe(run: Callable[..., Any], values: dict[str, Any], allow_pipes: bool) -> int:
    """``run(train_config, model_file, wav_scp, output_dir, batch_size=, device=, allow_pipes=)`` (greedy
    decoding, the language classifier) on the probe and the one ``wav.scp`` of ESPnet's options
    ``values``: 0, 1 (its error printed) or 2 (the options do not name one wav.scp and a probe)."""
    data = values[DATA]
    if len(data) != 1 or tuple(data[0][1:]) not in PROBE_DATA:
        _error(f"greedy decoding and the language classifier read one 'wav.scp,speech,sound' (or kaldi_ark), "
               f"got {data!r}")
        return 2
    if values["asr_train_config"] is None or values["asr_model_file"] is None:
        _error("greedy decoding and the language classifier need --asr_train_config and --asr_model_file")
        return 2
    try:
        run(Path(values["asr_train_config"]), Path(values["asr_model_file"]), Path(data[0][0]),
            Path(values["output_dir"]), batch_size=values["batch_size"],
            device="cuda" if values["ngpu"] > 0 else "cpu", allow_pipes=allow_pipes)
    except (OSError, ValueError) as err:
        _error(err)
        return 1
    return 0


def _classify(values: dict[str, Any], allow_pipes: bool) -> int:
    """After ESPnet's beam search: the language classifier's ``1best_recog/lid`` when the probe has
    one (``model: lamer_lid``); a probe without one leaves no ``lid`` of another model behind."""
    from lamer.probe.decode_split import RESULT_DIR
    from lamer.probe.lid_classify import classify_wav_scp
    from lamer.probe.lid_model import MODEL_NAME
    from lamer.probe.lid_output import LID_FILE
    from lamer.yaml_io import load_yaml

    if values["asr_train_config"] is None:
        return 0
    config = load_yaml(values["asr_train_config"])
    if not isinstance(config, dict) or config.get("model") != MODEL_NAME:
        (Path(values["output_dir"]) / RESULT_DIR / LID_FILE).unlink(missing_ok=True)
        return 0
    return _on_probe(classify_wav_scp, values, allow_pipes)

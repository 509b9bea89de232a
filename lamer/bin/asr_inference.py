"""Decode with ESPnet's own ASR inference, ``frontend: lamer`` registered.

    python -m lamer.bin.asr_inference --asr_train_config exp/probe/config.yaml \\
        --asr_model_file exp/probe/valid.loss.best.pth \\
        --data_path_and_name_and_type dump/test/wav.scp,speech,sound --output_dir exp/decode ...

Options added to ESPnet's: two for the ``fixed`` protocol (a probe trained on the base
model applied to a later stage): ``--frontend_adapters DIR`` (or ``none``) decodes with the
upstream patched by other adapters than the probe was trained on, ``--frontend_path_or_url
CKPT`` with another upstream checkpoint (methods that fine-tune the whole model). The modified
config is written to OUTPUT_DIR/config_frontend_override.yaml. Hypotheses land in
OUTPUT_DIR/1best_recog/text, ready for ``python -m lamer.bin.score``; a probe with a language
classifier (``model: lamer_lid``) also writes OUTPUT_DIR/1best_recog/lid (``<utt> [iso]`` lines,
for ``score --lid_if_present``), with either decoding (after a beam search, by one more pass of
the frontend and the classifier).

``--jobs FILE`` decodes several models in one process (ESPnet's import, several seconds, is
paid once): one job per line, five tab-separated fields ``OUTPUT_DIR
ASR_TRAIN_CONFIG ASR_MODEL_FILE FRONTEND_ADAPTERS FRONTEND_PATH_OR_URL``, ``-`` for an
override that is not wanted. The other options apply to every job.

``--decoding greedy`` replaces ESPnet's beam search by best-path CTC decoding for CTC-only
probes: same model and tokenizer, far faster on a CPU. It is not the same search: on a probe
whose posteriors are flat, prefix beam search emits more labels. ``--batch_size`` (default 1)
batches utterances; HuBERT's group-normalised CNN sees the padding, so batching moves the
features slightly. ``--decoding beam`` (default) is ESPnet's own inference.

Split decoding (``JOB=1:N`` array jobs, as ESPnet's asr.sh ``inference_nj``): ``--nj N --job J``
decodes only the J-th of N contiguous blocks of the utterances (in the order of the first
``--data_path_and_name_and_type`` file) for every job, into ``OUTPUT_DIR/splitN/J``; then

    python -m lamer.bin.asr_inference merge --jobs FILE --nj N     # or --output_dir DIR

writes ``OUTPUT_DIR/1best_recog/*`` in the original order, the files a one-job decode writes;
a block not (or not completely) decoded is an error naming it. ``--ngpu 1`` decodes on one GPU
per job.

Data files: a ``cmd |`` line of a ``wav.scp`` is a command, run (with /bin/sh, as Kaldi and ESPnet
do) only with ``--allow_wav_pipes true`` and a file given as ``PATH,speech,kaldi_ark``; without it
such a line is an error naming the file and line (lamer/probe/data_options.py). Greedy decoding
and the language classifier read ``sound`` and ``kaldi_ark`` files alike (lamer/data/wav_scp.py).
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from lamer.bin.options import ToolParser, help_asked, help_before_imports, positive_int, tool_parser
from lamer.data.errors import DataError
from lamer.probe.data_options import add_pipe_option

OVERRIDE_CONFIG = "config_frontend_override.yaml"
JOB_FIELDS = ("output_dir", "asr_train_config", "asr_model_file", "frontend_adapters", "frontend_path_or_url")
JOB_FIELD_HELP = {
    "output_dir": "where the hypotheses go (OUTPUT_DIR/1best_recog); with --nj, each block below it",
    "asr_train_config": "the probe's config.yaml (ESPnet's option)",
    "asr_model_file": "the probe's weights, e.g. valid.loss.best.pth (ESPnet's option)",
    "frontend_adapters": "fixed protocol: the upstream's adapters for decoding, or none for the base upstream alone "
                         "(default: those the probe was trained with)",
    "frontend_path_or_url": "fixed protocol: the upstream checkpoint for decoding (default: the probe's)",
}


@dataclass(frozen=True)
class DecodeJob:
    """One model to decode with: its probe, its output directory and the ``fixed`` overrides."""

    output_dir: str | None
    asr_train_config: str | None
    asr_model_file: str | None = None
    frontend_adapters: str | None = None
    frontend_path_or_url: str | None = None

    def espnet_arguments(self, config: str | None) -> list[str]:
        """ESPnet's options naming this job's probe and output (``config``: the one to read)."""
        pairs = (("asr_train_config", config), ("asr_model_file", self.asr_model_file),
                 ("output_dir", self.output_dir))
        return [arg for name, value in pairs if value is not None for arg in (f"--{name}", value)]


def read_jobs(path: Path) -> list[DecodeJob]:
    """The jobs of a ``--jobs`` file; a malformed line is an error naming the file and line."""
    jobs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(JOB_FIELDS) or not all(fields[:3]) or "-" in fields[:3]:
            raise ValueError(f"{path}:{number}: expected {len(JOB_FIELDS)} tab-separated fields "
                             f"({' '.join(JOB_FIELDS)}; '-' only for the last two), got {line!r}")
        jobs.append(DecodeJob(*(None if value == "-" else value for value in fields)))
    if not jobs:
        raise ValueError(f"{path}: no decoding jobs")
    return jobs


def build_parser() -> ToolParser:
    """Our options; the others are ESPnet's (``split_arguments`` passes them on)."""
    parser = tool_parser("asr_inference", __doc__, add_help=False)
    for name in JOB_FIELDS:
        parser.add_argument(f"--{name}", default=None, help=JOB_FIELD_HELP[name])
    parser.add_argument("--decoding", choices=("beam", "greedy"), default="beam",
                        help="beam: ESPnet's beam search; greedy: best-path CTC decoding (CTC-only probes)")
    parser.add_argument("--jobs", type=Path, default=None,
                        help="decode every job of this file in one process (five tab-separated fields a line, "
                             "see above; default: the one job of the options)")
    parser.add_argument("--nj", type=positive_int, default=None,
                        help="split decoding: the number of blocks (JOB=1:nj), with --job (default: no split)")
    parser.add_argument("--job", type=positive_int, default=None, help="split decoding: the block to decode, 1..nj")
    add_pipe_option(parser)
    return parser


def split_arguments(argv: list[str]) -> tuple[argparse.Namespace, list[DecodeJob], list[str]]:
    """Our options, the decoding jobs (one unless ``--jobs``) and the rest for ESPnet."""
    ours, rest = build_parser().parse_known_args(argv)
    given = {name: getattr(ours, name) for name in JOB_FIELDS}
    if (ours.nj is None) != (ours.job is None):
        raise ValueError("--nj and --job go together (block JOB of NJ)")
    if ours.nj is not None and not 1 <= ours.job <= ours.nj:
        raise ValueError(f"--job {ours.job} is outside 1-{ours.nj} (JOB=1:{ours.nj})")
    if ours.nj is not None and ours.jobs is None and ours.output_dir is None:
        raise ValueError("--nj needs --output_dir (or --jobs): the blocks are decoded below it")
    if ours.jobs is None:
        return ours, [DecodeJob(**given)], rest
    clashing = [f"--{name}" for name, value in given.items() if value is not None]
    if clashing:
        raise ValueError(f"--jobs {ours.jobs} names every job's {', '.join(clashing)}: give them there only")
    return ours, read_jobs(ours.jobs), rest


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return merge(argv[1:])
    if help_asked(argv):
        return _help()
    try:
        ours, jobs, rest = split_arguments(argv)
    except (OSError, ValueError) as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return 2
    from lamer.probe.asr_task import register_lamer_choices
    from lamer.runtime.load_guard import run_safely

    register_lamer_choices()
    for number, job in enumerate(jobs, 1):
        if len(jobs) > 1:
            logging.info("asr_inference: job %d/%d: %s", number, len(jobs), job.output_dir)
        rc = (run_safely("asr_inference", _decode, job, ours.decoding, rest, ours.allow_wav_pipes) if ours.nj is None
              else run_safely("asr_inference", _decode_block, job, ours, rest))
        if rc != 0:
            return rc
    return 0


def inference_parser() -> argparse.ArgumentParser:
    """ESPnet's inference parser, as this tool shows it in ``--help``."""
    from espnet2.bin.asr_inference import get_parser

    from lamer.probe.data_options import INFERENCE_HELP, as_tool

    return as_tool(get_parser(), "asr_inference", INFERENCE_HELP)


def _help() -> int:
    """Our options (usage line first, before ESPnet's import), then ESPnet's inference options."""
    with help_before_imports(build_parser().format_help(), ["--help"]):
        import espnet2.bin.asr_inference  # noqa: F401 - its import notes stay out of the help
    print("\nESPnet's inference options (passed on to it):\n")
    inference_parser().print_help()
    return 0


def _data_files_pass(arguments: list[str], allow_pipes: bool) -> bool:
    """Whether the data files of ESPnet's inference options ``arguments`` (parsed by ESPnet's
    parser, which reads ``--config`` too) pass :func:`~lamer.probe.data_options.check_data_files`;
    the error is printed when they do not."""
    from espnet2.bin.asr_inference import get_parser

    from lamer.probe.data_options import check_data_files

    try:
        check_data_files(get_parser().parse_args(arguments), allow_pipes)
    except (DataError, OSError) as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return False
    return True


def _decode_block(job: DecodeJob, ours: argparse.Namespace, rest: list[str]) -> int:
    """Block ``ours.job`` of ``ours.nj`` of one job, decoded into its ``splitN/J`` directory."""
    from lamer.probe.decode_split import block_dir, mark_decoded, write_block_data

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data_path_and_name_and_type", action="append", default=[])
    data, others = parser.parse_known_args(rest)
    if not data.data_path_and_name_and_type:
        print("asr_inference: error: --nj needs --data_path_and_name_and_type", file=sys.stderr)
        return 2
    if not _data_files_pass(rest + job.espnet_arguments(job.asr_train_config), ours.allow_wav_pipes):
        return 1  # checked in the files as given, so that an error names their lines, not a block's
    directory = block_dir(Path(job.output_dir), ours.nj, ours.job)
    try:
        specs, keys = write_block_data(data.data_path_and_name_and_type, ours.nj, ours.job, directory)
    except (OSError, ValueError) as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return 1
    logging.info("asr_inference: block %d/%d of %s: %d utterances", ours.job, ours.nj, job.output_dir, len(keys))
    if keys:  # a block past the end of a short list is empty, and decoded as such
        data_options = [arg for spec in specs for arg in ("--data_path_and_name_and_type", spec)]
        rc = _decode(replace(job, output_dir=str(directory)), ours.decoding, others + data_options,
                     ours.allow_wav_pipes)
        if rc != 0:
            return rc
    mark_decoded(directory, keys)
    return 0


def merge(argv: list[str]) -> int:
    """``merge (--jobs FILE | --output_dir DIR) --nj N``: every job's blocks into its 1best_recog."""
    from lamer.probe.decode_split import merge_blocks

    parser = tool_parser("asr_inference merge", "Merge the blocks of a split decoding (--nj N --job J).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--jobs", type=Path, help="the decoding jobs file the blocks were decoded with")
    where.add_argument("--output_dir", help="the output directory of a single decoding")
    parser.add_argument("--nj", type=positive_int, required=True, help="number of blocks (JOB=1:nj)")
    args = parser.parse_args(argv)
    try:
        outputs = [job.output_dir for job in read_jobs(args.jobs)] if args.jobs else [args.output_dir]
        for output_dir in outputs:
            merge_blocks(Path(output_dir), args.nj)
    except (OSError, ValueError) as err:
        print(f"asr_inference merge: error: {err}", file=sys.stderr)
        return 1
    return 0


def _decode(job: DecodeJob, decoding: str, rest: list[str], allow_pipes: bool) -> int:
    """One job: the probe's config (with the ``fixed`` overrides applied), then the decoding;
    ``allow_pipes``: run the ``cmd |`` lines of the data files (:func:`_data_files_pass`)."""
    config = job.asr_train_config
    if job.frontend_adapters is not None or job.frontend_path_or_url is not None:
        from lamer.probe.override import override_frontend

        if job.asr_train_config is None or job.output_dir is None:
            print("asr_inference: error: --frontend_adapters/--frontend_path_or_url need --asr_train_config "
                  "and --output_dir", file=sys.stderr)
            return 2
        try:
            config = str(override_frontend(Path(job.asr_train_config), Path(job.output_dir) / OVERRIDE_CONFIG,
                                           adapters=job.frontend_adapters, path_or_url=job.frontend_path_or_url))
        except (OSError, ValueError) as err:
            print(f"asr_inference: error: {err}", file=sys.stderr)
            return 1
    arguments = rest + job.espnet_arguments(config)
    if not _data_files_pass(arguments, allow_pipes):
        return 1
    if decoding == "greedy":
        return _greedy(arguments, allow_pipes)
    from espnet2.bin import asr_inference

    asr_inference.main(arguments)
    return _classify(arguments, allow_pipes)


def _probe_arguments(rest: list[str]) -> tuple[argparse.Namespace, Path] | None:
    """ESPnet's inference options (parsed by its own parser, so ``--config`` and every option
    read as with ESPnet's inference and an unknown one is an error) and the one ``wav.scp`` they
    name; None after printing the error when they do not name one wav.scp and a probe."""
    from espnet2.bin.asr_inference import get_parser

    args = get_parser().parse_args(rest)
    if (len(args.data_path_and_name_and_type) != 1
            or args.data_path_and_name_and_type[0][1:] not in (("speech", "sound"), ("speech", "kaldi_ark"))):
        print(f"asr_inference: error: greedy decoding and the language classifier read one "
              f"'wav.scp,speech,sound' (or kaldi_ark), got {args.data_path_and_name_and_type!r}", file=sys.stderr)
        return None
    if args.asr_train_config is None or args.asr_model_file is None:
        print("asr_inference: error: greedy decoding and the language classifier need --asr_train_config and "
              "--asr_model_file", file=sys.stderr)
        return None
    return args, Path(args.data_path_and_name_and_type[0][0])


def _greedy(rest: list[str], allow_pipes: bool) -> int:
    """Best-path CTC decoding with ESPnet's model (and its language classifier, if it has one);
    the search options (beam size, weights) do not apply."""
    from lamer.probe.greedy import greedy_decode

    return _run_on_probe(rest, greedy_decode, allow_pipes)


def _run_on_probe(rest: list[str], run, allow_pipes: bool) -> int:
    """``run(train_config, model_file, wav_scp, output_dir, batch_size=, device=, allow_pipes=)`` on
    the probe and data of ESPnet's options ``rest``: 0, 1 (its error printed) or 2 (the options
    are incomplete)."""
    parsed = _probe_arguments(rest)
    if parsed is None:
        return 2
    args, wav_scp = parsed
    try:
        run(Path(args.asr_train_config), Path(args.asr_model_file), wav_scp, Path(args.output_dir),
            batch_size=args.batch_size, device="cuda" if args.ngpu > 0 else "cpu", allow_pipes=allow_pipes)
    except (OSError, ValueError) as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return 1
    return 0


def _classify(rest: list[str], allow_pipes: bool) -> int:
    """After ESPnet's beam search: the language classifier's ``1best_recog/lid`` when the probe
    has one (``model: lamer_lid``); nothing to do for a probe without one."""
    from espnet2.bin.asr_inference import get_parser

    from lamer.probe.decode_split import RESULT_DIR
    from lamer.probe.lid_model import MODEL_NAME
    from lamer.probe.lid_output import LID_FILE
    from lamer.yaml_io import load_yaml

    known, _ = get_parser().parse_known_args(rest)
    if known.asr_train_config is None:
        return 0
    config = load_yaml(known.asr_train_config)
    if not isinstance(config, dict) or config.get("model") != MODEL_NAME:
        if known.output_dir is not None:
            (Path(known.output_dir) / RESULT_DIR / LID_FILE).unlink(missing_ok=True)  # another model's
        return 0
    from lamer.probe.lid_classify import classify_wav_scp

    return _run_on_probe(rest, classify_wav_scp, allow_pipes)


if __name__ == "__main__":
    sys.exit(main())

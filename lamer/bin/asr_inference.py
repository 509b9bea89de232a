"""Decode with ESPnet's own ASR inference, ``frontend: lamer`` registered.

    python -m lamer.bin.asr_inference --asr_train_config exp/probe/config.yaml \\
        --asr_model_file exp/probe/valid.loss.ave.pth \\
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
The decoding itself is lamer/probe/inference.py's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, help_asked, help_before_imports, positive_int, tool_parser
from lamer.probe.data_options import add_pipe_option
from lamer.probe.inference import (
    DECODINGS,
    JOB_FIELDS,
    DecodeOptions,
    UsageError,
    merge_decodings,
    read_jobs,
    run_decoding,
)

JOB_FIELD_HELP = {
    "output_dir": "where the hypotheses go (OUTPUT_DIR/1best_recog); with --nj, each block below it",
    "asr_train_config": "the probe's config.yaml (ESPnet's option)",
    "asr_model_file": "the probe's weights, e.g. valid.loss.ave.pth (ESPnet's option)",
    "frontend_adapters": "fixed protocol: the upstream's adapters for decoding, or none for the base upstream alone "
                         "(default: those the probe was trained with)",
    "frontend_path_or_url": "fixed protocol: the upstream checkpoint for decoding (default: the probe's)",
}


def build_parser() -> ToolParser:
    """Our options; the others are ESPnet's (passed on to it)."""
    parser = tool_parser("asr_inference", __doc__, add_help=False)
    for name in JOB_FIELDS:
        parser.add_argument(f"--{name}", default=None, help=JOB_FIELD_HELP[name])
    parser.add_argument("--decoding", choices=DECODINGS, default="beam",
                        help="beam: ESPnet's beam search; greedy: best-path CTC decoding (CTC-only probes)")
    parser.add_argument("--jobs", type=Path, default=None,
                        help="decode every job of this file in one process (five tab-separated fields a line, "
                             "see above; default: the one job of the options)")
    parser.add_argument("--nj", type=positive_int, default=None,
                        help="split decoding: the number of blocks (JOB=1:nj), with --job (default: no split)")
    parser.add_argument("--job", type=positive_int, default=None, help="split decoding: the block to decode, 1..nj")
    add_pipe_option(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return merge(argv[1:])
    if help_asked(argv):
        return _help()
    ours, espnet_argv = build_parser().parse_known_args(argv)
    try:
        options = DecodeOptions.from_command_line({name: getattr(ours, name) for name in JOB_FIELDS}, ours.jobs,
                                                  ours.decoding, ours.nj, ours.job, ours.allow_wav_pipes)
    except UsageError as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return 2
    return run_decoding(options, espnet_argv)


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


def merge(argv: list[str]) -> int:
    """``merge (--jobs FILE | --output_dir DIR) --nj N``: every job's blocks into its 1best_recog."""
    parser = tool_parser("asr_inference merge", "Merge the blocks of a split decoding (--nj N --job J).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--jobs", type=Path, help="the decoding jobs file the blocks were decoded with")
    where.add_argument("--output_dir", help="the output directory of a single decoding")
    parser.add_argument("--nj", type=positive_int, required=True, help="number of blocks (JOB=1:nj)")
    args = parser.parse_args(argv)
    try:
        merge_decodings([job.output_dir for job in read_jobs(args.jobs)] if args.jobs else [args.output_dir], args.nj)
    except (OSError, ValueError) as err:
        print(f"asr_inference merge: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

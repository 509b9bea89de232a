"""Where a recipe's files are: every path under ``data/``, ``dump/`` and ``exp/<tag>/``, named once.

``Layout`` names the directories and files of one experiment; the recipe's planner
(:mod:`lamer.recipe.jobs`) builds every argument, input and output of its jobs from it. The file
names inside a program's output directory are the constants of the directory classes below
(``TargetsDir.LABELS``, ``ProbeDataDir.WAV_SCP``, ...): the program that writes the directory
(:mod:`lamer.ssl.targets`, :mod:`lamer.probe.inputs`, ...) takes them from here too, so no
file name is spelled in two places.

Paths are strings joined with ``/`` exactly as given (nothing normalised): they are command-line
arguments, printed by ``python -m lamer.bin.plan jobs`` and compared byte for byte between runs.
This module imports nothing heavy: every program may import it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def join(*parts: str) -> str:
    """``parts`` joined with ``/``, as given."""
    return "/".join(parts)


def split_dir(root: str, lang: str, split: str) -> str:
    """``<root>/<iso3>/<split>``: one split of one language, as prepare_data writes its data dirs
    (``root`` = ``--out``) and their converted audio (``root`` = ``--dump``)."""
    return join(root, lang, split)


@dataclass(frozen=True)
class ProbeDataDir:
    """A probe data directory (:func:`lamer.probe.inputs.write_probe_dir`): the languages'
    data dirs of one split merged into what ESPnet's ASR task reads."""

    WAV_SCP = "wav.scp"
    TEXT = "text"
    UTT2LANG = "utt2lang"
    SPEECH_SHAPE = "speech_shape"

    path: str

    @property
    def wav_scp(self) -> str:
        return join(self.path, self.WAV_SCP)

    @property
    def text(self) -> str:
        return join(self.path, self.TEXT)

    @property
    def utt2lang(self) -> str:
        return join(self.path, self.UTT2LANG)

    @property
    def speech_shape(self) -> str:
        return join(self.path, self.SPEECH_SHAPE)


@dataclass(frozen=True)
class TokensDir:
    """A token list directory (:func:`lamer.probe.inputs.write_token_dir`)."""

    TOKENS = "tokens.txt"
    NLSYMS = "nlsyms.txt"

    path: str

    @property
    def tokens(self) -> str:
        return join(self.path, self.TOKENS)

    @property
    def nlsyms(self) -> str:
        return join(self.path, self.NLSYMS)


@dataclass(frozen=True)
class ModelDir:
    """What a base model import or pre-training (:mod:`lamer.upstream.export`, :mod:`lamer.ssl.pretrain`)
    or an SSL stage (:mod:`lamer.ssl.stage_export`) leaves: a whole checkpoint and/or adapters."""

    CHECKPOINT = "upstream.pt"
    ADAPTERS = "adapters"

    path: str

    @property
    def checkpoint(self) -> str:
        return join(self.path, self.CHECKPOINT)

    @property
    def adapters(self) -> str:
        return join(self.path, self.ADAPTERS)


class CodebookFiles:
    """The two files of a k-means codebook (:func:`lamer.ssl.kmeans.save_codebook`)."""

    ARRAY = "codebook.npy"
    META = "codebook.json"
    NAMES = (ARRAY, META)


@dataclass(frozen=True)
class TargetsDir:
    """A targets directory (:mod:`lamer.ssl.targets`): the lists ``ssl_train`` reads, the codebook
    used, and the work directory of the split steps with each array job's files."""

    WAV_SCP = "wav.scp"
    LABELS = "labels"
    SPEECH_SHAPE = "speech_shape"
    UTT2LANG = "utt2lang"
    REPLAY_UTT2LANG = "replay_utt2lang"
    LANG = "lang"
    WORK = "split"
    OPTIONS = "options.json"
    ITEMS = "items.tsv"
    SAMPLE = "sample"  # kinds of job files: sample.J.npy, labels.J, speech_shape.J

    path: str

    @staticmethod
    def job_file_name(kind: str, job: int | str) -> str:
        """The name of job ``job``'s file of ``kind`` (SAMPLE, LABELS or SPEECH_SHAPE) in the work dir."""
        return f"{kind}.{job}.npy" if kind == TargetsDir.SAMPLE else f"{kind}.{job}"

    def file(self, name: str) -> str:
        return join(self.path, name)

    @property
    def wav_scp(self) -> str:
        return self.file(self.WAV_SCP)

    @property
    def labels(self) -> str:
        return self.file(self.LABELS)

    @property
    def speech_shape(self) -> str:
        return self.file(self.SPEECH_SHAPE)

    @property
    def lang(self) -> str:
        return self.file(self.LANG)

    @property
    def replay_utt2lang(self) -> str:
        return self.file(self.REPLAY_UTT2LANG)

    @property
    def merged(self) -> tuple[str, ...]:
        """Every file the merge writes (``replay_utt2lang`` and ``lang`` possibly empty)."""
        names = (self.WAV_SCP, self.LABELS, self.SPEECH_SHAPE, self.UTT2LANG, self.REPLAY_UTT2LANG, self.LANG)
        return tuple(self.file(name) for name in (*names, *CodebookFiles.NAMES))

    @property
    def codebook(self) -> tuple[str, ...]:
        """The codebook the merge leaves beside the lists (the one ``--codebook DIR`` reads)."""
        return tuple(self.file(name) for name in CodebookFiles.NAMES)

    @property
    def record(self) -> tuple[str, ...]:
        """What ``split`` records: its options and utterances."""
        return (join(self.path, self.WORK, self.OPTIONS), join(self.path, self.WORK, self.ITEMS))

    @property
    def fitted(self) -> tuple[str, ...]:
        """The codebook ``fit`` writes into the work dir."""
        return tuple(join(self.path, self.WORK, name) for name in CodebookFiles.NAMES)

    def job_files(self, kind: str, nj: int) -> tuple[str, ...]:
        """The ``kind`` files of jobs 1..nj."""
        return tuple(join(self.path, self.WORK, self.job_file_name(kind, job)) for job in range(1, nj + 1))


@dataclass(frozen=True)
class ProbeDir:
    """A trained probe: ESPnet's ``asr_train`` output directory (its file names; the model that
    decoding reads is named by the probe's config: :mod:`lamer.probe.model_file`)."""

    CONFIG = "config.yaml"

    path: str

    @property
    def config(self) -> str:
        return join(self.path, self.CONFIG)

    def model(self, name: str) -> str:
        """The model file ``name`` (``decoded_model_name``'s) of this probe."""
        return join(self.path, name)


@dataclass(frozen=True)
class DecodeDir:
    """A decoding's output directory (:mod:`lamer.bin.asr_inference`): hypotheses and languages in
    ``1best_recog``, the blocks of a split decoding in ``split<N>/<J>``."""

    RESULT_DIR = "1best_recog"
    TEXT = "text"
    LID = "lid"

    path: str

    @staticmethod
    def blocks_name(nj: int) -> str:
        return f"split{nj}"

    @property
    def result(self) -> str:
        return join(self.path, self.RESULT_DIR)

    @property
    def text(self) -> str:
        return join(self.result, self.TEXT)

    @property
    def lid(self) -> str:
        return join(self.result, self.LID)

    def blocks(self, nj: int) -> str:
        return join(self.path, self.blocks_name(nj))


REPORT_DIR = "report"
RESULTS_MD = "RESULTS.md"  # the forgetting report's page (lamer.eval.report)
EXPERT_USAGE = "expert_usage.json"
ROUTING_VS_CEILING = "routing_vs_ceiling.json"  # lamer.eval.routing_vs_ceiling
SCORE_JSON = "score.json"  # a score directory's per-language figures (lamer.eval.scoring)
SCORE_SUMMARY_JSON = "summary.json"  # and its pooled ones
QUALITY_DIR = "quality"  # exp/<tag>/quality/{probe,decode,score}: the base model read with every label


def results_name(protocol: str) -> str:
    """The file name of an experiment's results matrix under ``protocol`` (lamer.eval.results)."""
    return f"results_{protocol}.json"


def utt_errors_name(protocol: str) -> str:
    """The file name of an experiment's per-utterance edits under ``protocol``, beside its results
    matrix (lamer.eval.utt_errors)."""
    return f"utt_errors_{protocol}.tsv"


def experiment_dir(tag: str, root: str = "exp") -> str:
    """An experiment's directory, ``<root>/<tag>`` (ssl.sh's ``--expdir``: ``exp``)."""
    return join(root, tag)


@dataclass(frozen=True)
class Layout:
    """Every path of one experiment: Kaldi data dirs under ``data``, converted audio, probe data and
    token lists under ``dump``, the experiment's outputs under ``exp`` (``exp/<tag>``); ``base`` is
    the base model's directory (default ``<exp>/base``, shared between experiments when given)."""

    exp: str
    data: str = "data"
    dump: str = "dump"
    base: str = ""

    # data/ and dump/: shared by the experiments of a recipe

    def data_dir(self, lang: str, split: str) -> str:
        return split_dir(self.data, lang, split)

    @property
    def audio(self) -> str:
        """The converted audio of every data dir (prepare_data ``--dump``)."""
        return join(self.dump, "audio")

    def probe_data(self, split: str) -> ProbeDataDir:
        """The probe data of ``split`` (train, dev or test): every language of the plan."""
        return ProbeDataDir(join(self.dump, "probe", split))

    def tokens(self, token_type: str = "char") -> TokensDir:
        return TokensDir(join(self.dump, "tokens", token_type))

    @property
    def quality_train(self) -> ProbeDataDir:
        """Every labelled training utterance of the plan's languages: the quality probe's training set
        when ``probe_minutes`` cuts the probes' own (``train``)."""
        return ProbeDataDir(join(self.dump, "probe", "train_all"))

    @property
    def quality_tokens(self) -> TokensDir:
        """The quality probe's token list, from :attr:`quality_train`'s text."""
        return TokensDir(join(self.dump, "tokens", "char_all"))

    # exp/<tag>/

    @property
    def base_model(self) -> ModelDir:
        return ModelDir(self.base or join(self.exp, "base"))

    @property
    def base_random(self) -> ModelDir:
        """The base model's architecture with random weights (``--base_init random``): the experiment's own."""
        return ModelDir(join(self.exp, "base_random"))

    @property
    def method_config(self) -> str:
        """The method's training options as ssl_train reads them in this experiment (its ``--config``;
        :meth:`lamer.ssl.method_config.Method.options_text`)."""
        return join(self.exp, "config", "method.yaml")

    def step_spec(self, step: str) -> str:
        """The spec of the job ``step`` that its program receives whole (an SSL stage's:
        :mod:`lamer.ssl.train_spec`, ``ssl_train --spec``)."""
        return join(self.exp, "config", f"{step}.json")

    def replay(self, stage: str, lang: str) -> str:
        """The replay sample of ``lang`` drawn for continual stage ``stage`` (a Kaldi data dir)."""
        return join(self.exp, "replay", stage, lang)

    def targets(self, stage: str, split: str) -> TargetsDir:
        return TargetsDir(join(self.exp, "targets", stage, split))

    def ssl(self, stage: str) -> ModelDir:
        """The output directory of a continual stage's SSL training."""
        return ModelDir(join(self.exp, "ssl", stage))

    def probe(self, stage: str) -> ProbeDir:
        return ProbeDir(join(self.exp, "probe", stage))

    @property
    def quality_probe(self) -> ProbeDir:
        """The plan's ``quality_probe``, trained with every label on the base model."""
        return ProbeDir(join(self.exp, QUALITY_DIR, "probe"))

    @property
    def decode_jobs(self) -> str:
        """The decoding table (asr_inference ``--jobs``): one row per decoded (protocol, stage)."""
        return join(self.exp, "decode", "jobs.tsv")

    def decode(self, protocol: str, stage: str) -> DecodeDir:
        return DecodeDir(join(self.exp, "decode", protocol, stage))

    @property
    def quality_decode(self) -> DecodeDir:
        return DecodeDir(join(self.exp, QUALITY_DIR, "decode"))

    def scores(self, protocol: str) -> str:
        """The score directories of ``protocol``, one per stage (collect_results ``--scores``)."""
        return join(self.exp, "score", protocol)

    def score(self, protocol: str, stage: str) -> str:
        return join(self.scores(protocol), stage)

    @property
    def quality_score(self) -> str:
        """The quality probe's score directory (score.json: the base model's quality)."""
        return join(self.exp, QUALITY_DIR, "score")

    def results(self, protocol: str) -> str:
        return join(self.exp, results_name(protocol))

    def utt_errors(self, protocol: str) -> str:
        return join(self.exp, utt_errors_name(protocol))

    def report(self, protocol: str) -> str:
        return join(self.exp, REPORT_DIR, protocol)

    def report_pages(self) -> list[Path]:
        """The RESULTS.md of every protocol's report there is, sorted."""
        return sorted(Path(self.exp).glob(f"{REPORT_DIR}/*/{RESULTS_MD}"))

    @property
    def expert_usage(self) -> str:
        return join(self.exp, EXPERT_USAGE)

    def routing_ceiling(self, stage: str) -> str:
        """What ``routing_ceiling`` measured on the adapters of continual stage ``stage``."""
        return join(self.exp, "routing_ceiling", f"{stage}.json")

    @property
    def routing_vs_ceiling(self) -> str:
        """Every stage's routers against their ceiling, per layer (``routing_vs_ceiling``)."""
        return join(self.exp, ROUTING_VS_CEILING)

    @property
    def logs(self) -> str:
        return join(self.exp, "logs")

    def log(self, name: str) -> str:
        """The log of job ``name`` (with ``JOB`` in it for an array job)."""
        return join(self.logs, f"{name}.log")

    @property
    def done_dir(self) -> str:
        """Where the records of finished jobs are (``.done/<job>``)."""
        return join(self.exp, ".done")

    def done(self, name: str) -> str:
        return join(self.done_dir, name)

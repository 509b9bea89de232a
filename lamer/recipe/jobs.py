"""The jobs of the stage script ``ssl.sh``, listed from the plan and the recipe's options alone.

``recipe_jobs(plan, options)`` decides every step of stages 1-8 without looking at data or
outputs on disk: which program runs with which arguments, on which queue (the ``$train_cmd``,
``$cuda_cmd`` or ``$decode_cmd`` of cmd.sh), with how many GPUs, as an array of how many jobs
(``JOB=1:nj``) and with which log. ``lamer.bin.plan jobs`` prints the list and ``lamer.bin.plan
run`` (called by ssl.sh) executes the same list through ``lamer.recipe.executor``, so listing and
running cannot diverge. Every path comes from the experiment's ``lamer.layout.Layout``.

Every job declares the paths it reads (``inputs``: the files and directories its arguments name
or that the program reads by convention inside them, the configs whose hashes its ``.done``
record keeps among them) and the paths it writes (``outputs``). Which jobs it waits for
(``after``) is derived from those (``lamer.recipe.graph``): the jobs whose outputs hold one of
its inputs, so the runner can start independent jobs side by side and no dependency is written
by hand. The list itself is in a topological order: a job comes after every job it waits for, so
running it in order (one job at a time) is safe.

Bookkeeping that loads no audio and no model runs in place (``queue`` None): ``link SRC DST``
shares an output that is the same computation as SRC's, ``write PATH TEXT`` writes a small file
(the decoding's ``jobs.tsv``; ``method_config``: the training options of the method config resolved
when the plan was checked, which every SSL stage's ssl_train reads as its ``--config``; and
``ssl_<stage>_spec``: the stage's typed spec, :class:`~lamer.ssl.train_spec.SSLTrainSpec`, which its
ssl_train receives whole as ``--spec``: the method's adapter and adapter config, the preset merged
in, and the replay utterances and share). Every other step is a program run through a queue.

Names are checked before any job is listed: the tag (``exp/<tag>``, by default the plan file's
stem) must be one printable line that does not start with ``-``, and no option may hold the array
token ``JOB`` where the launcher would replace it by a job's index (``--tag my.JOB.run``).
"""
from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lamer.launch.request import names_array
from lamer.layout import DecodeDir, Layout, ProbeDataDir, TokensDir, experiment_dir
from lamer.probe.model_file import ProbeConfigError, probe_model_name
from lamer.recipe.graph import derive_after
from lamer.recipe.plan import Plan, PlanError
from lamer.ssl.method_config import Method, MethodError, read_method
from lamer.ssl.replay_share import share_problem
from lamer.ssl.train_spec import ReplaySpec, SSLTrainSpec
from lamer.yaml_io import YamlError, parse_yaml, quoted

QUEUES = ("train", "cuda", "decode")
TRAIN_ON = ("new", "old", "all", "none")
PRETRAINED, RANDOM_INIT = "pretrained", "random"  # the base model's weights: its own, or its architecture's init
BASE_INIT = (PRETRAINED, RANDOM_INIT)
# what the continual stages' k-means targets cluster: a layer of the previous stage's model (HuBERT's
# later iterations) or MFCC frames (its first iteration, blind to what the model has learnt)
LAYER_TARGETS, MFCC_TARGETS = "layer", "mfcc"
TARGET_FEATURES = (LAYER_TARGETS, MFCC_TARGETS)
IN_PLACE = ("link", "write")
ARRAY_TOKEN = "JOB"  # replaced by the job's index by the launcher (Kaldi's JOB=1:N)
# frames per utterance that routing_ceiling samples in the recipe: with --routing_ceiling_utts 20, the
# demo's two stages cost about its decoding's CPU time and the ceilings move by a few thousandths of
# a nat against 40 x 40 (docs/training.md)
ROUTING_FRAMES = 20
STAGE_TITLES = {
    1: "data preparation",
    2: "probe data and token list",
    3: "base model",
    4: "replay samples",
    5: "continual SSL training",
    6: "probe training",
    7: "decoding and scoring",
    8: "results across stages",
}


@dataclass(frozen=True)
class Job:
    """One step of the recipe. ``name`` is unique and names its ``.done`` record; ``queue`` is the
    ``$cmd`` that runs ``argv`` (None: bookkeeping run in place, ``argv`` = ``link SRC DST`` or
    ``write PATH TEXT``); ``nj`` jobs run as an array when ``argv`` holds the token ``JOB``.
    ``inputs`` are the paths it reads, ``outputs`` those it writes, ``configs`` the inputs whose
    SHA-256 its ``.done`` record keeps (a changed config reruns it), ``runtime`` the options of
    ``argv`` that change how it runs but not what it writes (its record leaves their values out, so
    that more workers do not redo finished work). ``after`` names the jobs whose
    outputs it reads, derived from inputs and outputs by ``recipe_graph``: it starts once they are
    done (a name that is not in the list being run belongs to a stage outside
    --stage..--stop_stage, done already)."""

    name: str
    stage: int
    queue: str | None
    gpus: int
    nj: int
    log: str | None
    argv: tuple[str, ...]
    after: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    runtime: tuple[str, ...] = ()

    @property
    def is_array(self) -> bool:
        """Whether the launcher gets ``JOB=1:nj`` (the command names its part with ``JOB``)."""
        return ARRAY_TOKEN in self.argv

    def as_dict(self) -> dict:
        """The fields in the documented order, lists for the tuples."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    def to_json(self) -> str:
        """One JSON object (``as_dict``)."""
        return json.dumps(self.as_dict(), ensure_ascii=False)


@dataclass
class RecipeOptions:
    """The options of ssl.sh that change its jobs (same names and defaults as ssl.sh's)."""

    stage: int = 1
    stop_stage: int = 100
    tag: str = ""                # default: the plan file's stem
    root: str = ""               # the corpus root (db.sh); needed by stage 1 only
    nj: int = 2
    inference_nj: int = 1
    ngpu: int = 0
    gpu_inference: bool = False
    synth: bool = False
    synth_utts: int = 300
    synth_opts: str = ""
    prep_opts: str = ""
    token_opts: str = ""
    target_feature: str = LAYER_TARGETS  # mfcc: the continual stages' targets from MFCC frames
    target_layer: int = 3        # with target_feature layer (and the demo base model's second iteration)
    num_clusters: int = 100
    pretrain_opts: str = ""
    ssl_train_opts: str = ""
    probe_train_opts: str = ""
    decode_config: str = "conf/probe/decode_ctc.yaml"
    decoding: str = "greedy"
    routing_ceiling: bool = True
    routing_ceiling_utts: int = 20
    method: str = ""             # default: the plan's
    seed: int | None = None      # default: the plan's
    probe_seed: int | None = None  # the probes' seed; default: --seed's
    train_on: str = "new"
    base_init: str = PRETRAINED  # random: the base model's architecture with random weights (the reference)
    replay_share: float | None = None  # default: the plan's replay.share
    base_dir: str = ""           # default: <exp>/base
    base_exp: str = ""
    ssl_exp: str = ""            # link the continual SSL stages of this experiment instead of training them
    data: str = "data"
    dump: str = "dump"
    expdir: str = "exp"          # holds the experiments: <expdir>/<tag>
    python: str = "python"       # the interpreter of every job

    def exp(self, plan: Plan) -> str:
        """The experiment directory, ``<expdir>/<tag>``."""
        return experiment_dir(self.tag or plan.path.stem, self.expdir)

    def layout(self, plan: Plan) -> Layout:
        """Every path of the experiment: ``--data``, ``--dump``, ``exp/<tag>`` and ``--base_dir``."""
        return Layout(self.exp(plan), self.data, self.dump, self.base_dir)


def _py(module: str, *args: str) -> tuple[str, ...]:
    """A job's program and arguments, ``python -m lamer.bin.<module> ARGS`` without the interpreter
    (``_Recipe.job`` puts ``--python`` first)."""
    return ("-m", f"lamer.bin.{module}", *args)


def _opts(text: str) -> list[str]:
    """A ``*_opts`` string as arguments (shell-like quoting, no expansion)."""
    return shlex.split(text)


def synth_keys(plan: Plan) -> str:
    """The synthetic corpus' language keys for the plan's languages (demo recipes)."""
    from lamer.data.synth.language_table import LANGUAGES

    by_iso3 = {lang.iso3: lang.key for lang in LANGUAGES.values()}
    wanted = [lang for s in plan.all_stages for lang in s.languages]
    missing = [lang for lang in wanted if lang not in by_iso3]
    if missing:
        raise PlanError(f"{plan.path}: the synthetic corpus has no voice for {missing}")
    return ",".join(by_iso3[lang] for lang in wanted)


def _pop_options(opts: list[str], names: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[str]]:
    """The ``(name, value)`` of every ``--name VALUE`` or ``--name=VALUE`` of ``names`` in ``opts``, in
    their order, and the other arguments."""
    found: list[tuple[str, str]] = []
    rest: list[str] = []
    i = 0
    while i < len(opts):
        name, equals, value = opts[i].partition("=")
        if name in names and (equals or i + 1 < len(opts)):
            found.append((name, value if equals else opts[i + 1]))
            i += 1 if equals else 2
        else:
            rest.append(opts[i])
            i += 1
    return found, rest


def _with_adapter_conf(config: dict, values: list[str], where: str) -> dict:
    """``config`` (Lamer options) with ``--ssl_adapter_conf`` values on top, as ssl_train's parser
    (ESPnet's NestedDictAction) merges them: ``KEY=VALUE`` (``A.B=VALUE`` nested; VALUE read as YAML)
    or a YAML mapping, in order."""
    merged = copy.deepcopy(config)
    for value in values:
        key, equals, text = value.partition("=")
        parsed = text  # an empty VALUE stays a string, as ESPnet's action leaves it
        if text.strip() or not equals:
            try:
                parsed = parse_yaml(text if equals else value, f"{where} {value!r}")
            except YamlError as err:
                raise PlanError(str(err)) from None
        if not equals:
            if not isinstance(parsed, dict):
                raise PlanError(f"{where} {value!r}: expected KEY=VALUE or a mapping of Lamer options")
            merged.update(parsed)
            continue
        *parents, last = key.split(".")
        node = merged
        for parent in parents:
            if not isinstance(node.get(parent), dict):
                node[parent] = {}
            node = node[parent]
        node[last] = parsed
    return merged


# options of ssl_train that the recipe gives each SSL step in its spec, and what to use instead
SPEC_OWNED = {
    "--ssl_adapter_preset": "the recipe resolves the method config's preset into each SSL step's spec; name the "
                            "preset in the method config (--method) and give options on top of it as "
                            "--ssl_adapter_conf KEY=VALUE",
    "--replay_share": "the recipe gives each SSL step the plan's replay.share in its spec; change it with "
                      "ssl.sh --replay_share",
    "--replay_utt2lang": "the recipe gives each SSL step its replay utterances in its spec",
    "--spec": "the recipe writes each SSL step's spec",
}
SPEC_KEYS = ("replay_share", "replay_utt2lang", "spec")  # of a method config, for the same reason


def ssl_method(plan: Plan, opts: RecipeOptions) -> tuple[Method, list[str]]:
    """The method of the SSL stages and the rest of ``--ssl_train_opts``: the plan's method (read when
    the plan was checked) or ``--method``'s (read here, once), with the ``--ssl_adapter`` and
    ``--ssl_adapter_conf`` of ``--ssl_train_opts`` applied (the adapter and its config go to each SSL
    step's spec whole). The other options that the spec gives are refused there, and the replay's
    in the method config."""
    owned, rest = _pop_options(_opts(opts.ssl_train_opts), ("--ssl_adapter", "--ssl_adapter_conf", *SPEC_OWNED))
    where = f"--ssl_train_opts {opts.ssl_train_opts!r}"
    for name, _ in owned:
        if name in SPEC_OWNED:
            raise PlanError(f"{where}: {name}: {SPEC_OWNED[name]}")
    try:
        method = read_method(opts.method) if opts.method else plan.method
        clashing = [key for key in SPEC_KEYS if key in method.options]
        if clashing:
            raise PlanError(f"{method.path}: {', '.join(clashing)}: the recipe gives ssl_train the plan's replay in "
                            "each SSL step's spec; remove it from the method config")
        adapters = [value for name, value in owned if name == "--ssl_adapter"]
        if adapters:
            method = method.with_adapter(adapters[-1])
        overrides = [value for name, value in owned if name == "--ssl_adapter_conf"]
        if overrides:
            source = f"{where}: --ssl_adapter_conf"
            method = method.with_adapter_config(_with_adapter_conf(method.lamer_config.to_dict(), overrides, source),
                                                source)
    except MethodError as err:
        raise PlanError(str(err)) from None
    return method, rest


def check_names(plan: Plan, opts: RecipeOptions) -> None:
    """PlanError naming the option when the experiment's tag, or any option's value, would not
    survive as a name: a tag with a control character (a newline), a tag that starts with ``-``
    (read as an option by the tools it is passed to), or ``JOB`` as a word that the launcher would
    replace in the paths and arguments of array jobs."""
    tag = opts.tag or plan.path.stem
    given = f"--tag {tag!r}" if opts.tag else f"the tag {tag!r} (the plan file's stem; give --tag)"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in tag):
        raise PlanError(f"{given}: holds a control character such as a newline; a tag names exp/<tag> and must be "
                        "one printable line")
    if tag.startswith("-"):
        raise PlanError(f"{given}: starts with '-', which the tools it is passed to would read as an option; "
                        "start it with another character")
    for option in fields(opts):
        value = tag if option.name == "tag" else getattr(opts, option.name)
        if isinstance(value, str) and names_array(ARRAY_TOKEN, value):
            what = given if option.name == "tag" else f"--{option.name} {value!r}"
            raise PlanError(f"{what}: holds the word {ARRAY_TOKEN}, which the launcher replaces by the job's number "
                            f"in array jobs ({ARRAY_TOKEN}=1:N); rename it")


class _Recipe:
    """The decisions shared by the stages of one experiment."""

    def __init__(self, plan: Plan, opts: RecipeOptions):
        check_names(plan, opts)
        if opts.train_on not in TRAIN_ON:
            raise PlanError(f"--train_on {opts.train_on}: expected one of {', '.join(TRAIN_ON)}")
        if opts.routing_ceiling_utts < 1:
            raise PlanError(f"--routing_ceiling_utts {opts.routing_ceiling_utts}: expected a positive number of "
                            "utterances (--routing_ceiling false skips the measure)")
        for name in ("nj", "inference_nj"):
            if getattr(opts, name) < 1:
                raise PlanError(f"--{name} {getattr(opts, name)}: expected a positive number of jobs")
        if opts.ngpu < 0:
            raise PlanError(f"--ngpu {opts.ngpu}: expected 0 (CPU) or a number of GPUs")
        for name, example in (("expdir", "exp"), ("python", "python3")):
            if not getattr(opts, name):
                raise PlanError(f"--{name} is empty: give a value (e.g. --{name} {example})")
        if opts.target_feature not in TARGET_FEATURES:
            raise PlanError(f"--target_feature {opts.target_feature}: expected one of {', '.join(TARGET_FEATURES)}")
        if opts.base_init not in BASE_INIT:
            raise PlanError(f"--base_init {opts.base_init}: expected one of {', '.join(BASE_INIT)}")
        if opts.base_init == RANDOM_INIT and opts.base_exp:
            raise PlanError(f"--base_exp {opts.base_exp}: its probe read the pre-trained base model; with --base_init "
                            "random this experiment probes its own random-init base (leave --base_exp out)")
        if opts.replay_share is not None and (problem := share_problem(opts.replay_share)):
            raise PlanError(f"--replay_share {opts.replay_share}: {problem}")
        if opts.ssl_exp and opts.train_on == "none":
            raise PlanError(f"--ssl_exp {opts.ssl_exp}: --train_on none trains no SSL stage to share; leave it out")
        if opts.ssl_exp and Path(opts.ssl_exp) == Path(opts.exp(plan)):
            raise PlanError(f"--ssl_exp {opts.ssl_exp}: the experiment itself; name the one whose SSL stages to share")
        self.plan, self.o = plan, opts
        self.paths = opts.layout(plan)
        self.seed = str(plan.seed if opts.seed is None else opts.seed)
        self.probe_seed = self.seed if opts.probe_seed is None else str(opts.probe_seed)
        try:
            self.probe_model = probe_model_name(plan.probe, _opts(opts.probe_train_opts))
            self.quality_model = (probe_model_name(plan.quality_probe, _opts(opts.probe_train_opts))
                                  if plan.quality_probe else "")
        except (ProbeConfigError, YamlError) as err:
            raise PlanError(str(err)) from None
        # every consumer of the base model reads this one: the random-init reference replaces it whole
        self.base_ckpt = (self.paths.base_random if opts.base_init == RANDOM_INIT else self.paths.base_model).checkpoint
        self.stages = [s.name for s in plan.stages]
        self.all_languages = [lang for s in plan.all_stages for lang in s.languages]
        self.method, self.ssl_train_opts = ssl_method(plan, opts)
        self.adapters = opts.train_on != "none" and self.method.keeps_adapters
        # the routers against their ceiling: only frame routers have one (not LoRA, nor language routing)
        self.routed = self.adapters and opts.routing_ceiling and self.method.lamer_config.has_frame_routers

    def job(self, name: str, stage: int, argv: tuple[str, ...], queue: str = "train", gpus: int = 0, nj: int = 1, *,
            inputs: tuple[str, ...] | list[str], outputs: tuple[str, ...] | list[str],
            configs: tuple[str, ...] = (), runtime: tuple[str, ...] = ()) -> Job:
        log = self.paths.log(f"{name}.{ARRAY_TOKEN}" if ARRAY_TOKEN in argv else name)
        return Job(name, stage, queue, gpus, nj, log, (self.o.python, *argv), (), (*configs, *inputs), tuple(outputs),
                   configs, runtime)

    def link(self, name: str, stage: int, src: str, dst: str) -> Job:
        return Job(name, stage, None, 0, 1, None, ("link", src, dst), (), (src,), (dst,))

    def data_dirs(self, langs: list[str], split: str) -> list[str]:
        return [self.paths.data_dir(lang, split) for lang in langs]

    def languages(self, stage: str) -> list[str]:
        return next(s.languages for s in self.plan.all_stages if s.name == stage)

    def old(self, stage: str) -> list[str]:
        """Languages learned before ``stage``."""
        names = [s.name for s in self.plan.all_stages]
        return [lang for s in self.plan.all_stages[: names.index(stage)] for lang in s.languages]

    def previous(self, stage: str) -> str:
        names = [s.name for s in self.plan.all_stages]
        return names[names.index(stage) - 1]

    def model_of(self, stage: str) -> tuple[str, str | None]:
        """``(checkpoint, adapters or None)`` of the SSL model after ``stage``; methods that fine-tune
        the whole model leave a checkpoint instead of adapters."""
        if stage == "base" or self.o.train_on == "none":
            return self.base_ckpt, None
        if self.adapters:
            return self.base_ckpt, self.paths.ssl(stage).adapters
        return self.paths.ssl(stage).checkpoint, None

    def model_files(self, stage: str) -> tuple[str, ...]:
        """The files of ``model_of(stage)``."""
        ckpt, adapters = self.model_of(stage)
        return (ckpt, adapters) if adapters else (ckpt,)

    def replays(self, stage: str) -> list[str]:
        """The replay data dirs of a continual stage (only stages trained on their new languages)."""
        if self.o.train_on != "new" or self.plan.replay is None:
            return []
        return [self.paths.replay(stage, old) for old in self.old(stage)]

    def same_score(self, protocol: str, stage: str) -> str | None:
        """The scores this pair shares (the base probe reading the base model, under any protocol and
        for every stage of --train_on none: one computation, scored once; --base_exp's are made by
        another experiment), or None when the pair is decoded itself."""
        same = None
        if stage == "base" and self.o.base_exp:
            same = Layout(self.o.base_exp).score(protocol, "base")
        elif stage == "base" or self.o.train_on == "none":
            same = self.paths.score(self.plan.protocols[0], "base")
        return None if same in (None, self.paths.score(protocol, stage)) else same

    # the stages, in order

    def stage1(self, listed: bool) -> Iterator[Job]:
        """Stage 1; ``listed``: whether it is run or listed (its jobs are made in any case: later stages'
        inputs are their outputs), which needs the corpus root."""
        o, plan = self.o, self.plan
        if not o.root and listed:
            raise PlanError(f"{plan.path}: no data root for corpus {plan.corpus!r}: set it in db.sh (--root)")
        root = (o.root,) if o.root else ()
        if o.synth:
            yield self.job("synth", 1, _py("synth_corpus", "--out", str(Path(o.root).parent), "--langs",
                                           synth_keys(plan), "--utts_per_lang", str(o.synth_utts), "--seed",
                                           self.seed, "--nj", str(o.nj), *_opts(o.synth_opts)),
                           inputs=(), outputs=root)
        locales = ",".join(loc for s in plan.all_stages for loc in s.locales)
        lang_map = ",".join(f"{loc}={iso3}" for loc, iso3 in plan.lang_map.items())
        yield self.job("data", 1, _py("prepare_data", plan.corpus, "--root", o.root, "--langs", locales, "--out",
                                      o.data, "--dump", self.paths.audio, "--nj", str(o.nj),
                                      *(("--lang_map", lang_map) if lang_map else ()), *_opts(o.prep_opts)),
                       inputs=root, outputs=(*[d for split in ("train", "dev", "test")
                                               for d in self.data_dirs(self.all_languages, split)], self.paths.audio),
                       runtime=("--nj",))  # its languages are prepared the same by any number of workers

    def stage2(self) -> Iterator[Job]:
        for split in ("train", "dev", "test"):
            data = self.data_dirs(self.all_languages, split)
            out = self.paths.probe_data(split).path
            budget: tuple[str, ...] = ()
            if split == "train" and self.plan.probe_minutes is not None:  # the probes' labelled budget
                budget = ("--minutes_per_dir", f"{self.plan.probe_minutes:g}", "--seed", str(self.plan.seed))
            yield self.job(f"probe_{split}", 2, _py("probe_data", "dir", "--data", *data, "--out", out, *budget),
                           inputs=data, outputs=(out,))
        yield self.tokens_job("tokens", self.paths.probe_data("train"), self.paths.tokens())
        if self.plan.quality_probe:
            data, every = self.data_dirs(self.all_languages, "train"), self.paths.quality_train
            yield self.job("quality_train", 2, _py("probe_data", "dir", "--data", *data, "--out", every.path),
                           inputs=data, outputs=(every.path,))
            yield self.tokens_job("quality_tokens", every, self.paths.quality_tokens)

    def tokens_job(self, name: str, data: ProbeDataDir, tokens: TokensDir) -> Job:
        """The token list ``tokens`` of the probe trained on ``data``'s text."""
        return self.job(name, 2, _py("probe_data", "tokens", "--text", data.text, "--out", tokens.path,
                                     *_opts(self.o.token_opts)), inputs=(data.text,), outputs=(tokens.path,))

    def stage3(self) -> Iterator[Job]:
        yield from self.base_model_jobs()
        if self.o.base_init == RANDOM_INIT:
            trained, out = self.paths.base_model.checkpoint, self.paths.base_random.path
            yield self.job("base_random", 3, _py("export_model", "--upstream", trained, "--reinit", self.seed,
                                                 "--format", "s3prl", "--out", out),
                           inputs=(trained,), outputs=(out,))

    def base_model_jobs(self) -> Iterator[Job]:
        """The plan's base model: its checkpoint imported, or the demo model pre-trained."""
        base_model, base_dir = self.plan.base_model, self.paths.base_model.path
        if base_model.checkpoint is not None:
            check = ("--sha256", base_model.sha256) if base_model.sha256 else ()
            yield self.job("base_model", 3, _py("export_model", "--upstream", base_model.checkpoint, *check,
                                                "--format", "s3prl", "--out", base_dir),
                           inputs=(base_model.checkpoint,), outputs=(base_dir,))
            return
        base = self.plan.base.languages
        train, valid = self.data_dirs(base, "train"), self.data_dirs(base, "dev")
        dirs = [arg for d in train for arg in ("--train_dir", d)] + [arg for d in valid for arg in ("--valid_dir", d)]
        yield self.job("base_model", 3, _py(
            "pretrain_base", *dirs, "--config", base_model.pretrain, "--work_dir", base_dir, "--layer",
            str(self.o.target_layer), "--num_clusters", str(self.o.num_clusters), "--seed", self.seed,
            "--", "--ngpu", str(self.o.ngpu), *_opts(self.o.pretrain_opts)), "cuda", self.o.ngpu,
            inputs=(*train, *valid), outputs=(base_dir,), configs=(base_model.pretrain,))

    def stage4(self) -> Iterator[Job]:
        replay = self.plan.replay
        if self.o.train_on != "new" or replay is None or self.o.ssl_exp:
            return
        for s in self.stages:
            new: list[str] = []
            if replay.amount == "minutes":
                amount: tuple[str, ...] = ("--minutes", str(replay.value))
            else:
                new = self.data_dirs(self.languages(s), "train")
                amount = ("--fraction", str(replay.value), *[arg for d in new for arg in ("--of", d)])
            for old in self.old(s):
                src, out = self.paths.data_dir(old, "train"), self.paths.replay(s, old)
                yield self.job(f"replay_{s}_{old}", 4, _py(
                    "prepare_data", "replay", "--src", src, *amount, "--strategy", replay.strategy, "--seed",
                    self.seed, "--out", out),
                    inputs=(src, *new), outputs=(out,))

    def targets(self, s: str, split: str, data: list[str], replays: list[str], model: tuple[str, ...]) -> Iterator[Job]:
        """k-means targets of stage ``s``'s ``split``: split the utterances over --nj shards, sample
        frames and fit the codebook (train only), label each shard, merge the labels. ``data`` and
        ``replays``: the data dirs and replay dirs; ``model``: the extracting upstream's files. Other
        splits name the train split's directory, whose merge writes the codebook they label with."""
        o = self.o
        t = self.paths.targets(s, split)
        name = f"targets_{s}" if split == "train" else f"targets_{s}_{split}"
        # 'lang' (indices into the plan's languages) for the routers: language routing, specialise_weight
        feature = ("--feature", MFCC_TARGETS) if o.target_feature == MFCC_TARGETS else \
            ("--feature", LAYER_TARGETS, "--layer", str(o.target_layer))
        options = (*feature, "--languages", ",".join(self.all_languages))
        codebook: tuple[str, ...] = ()
        if split == "train":
            options += ("--num_clusters", str(o.num_clusters), "--seed", self.seed)
        else:
            train = self.paths.targets(s, "train")
            options += ("--codebook", train.path)
            codebook = train.codebook
        shard_queue, device = ("cuda", ("--device", "cuda")) if o.ngpu > 0 else ("train", ())
        gpus = 1 if o.ngpu > 0 else 0
        features = ("--upstream", model[0], *(("--adapters", model[1]) if len(model) > 1 else ()))
        dirs = [a for d in data for a in ("--data_dir", d)] + [a for d in replays for a in ("--replay_data_dir", d)]
        yield self.job(f"{name}_split", 5, _py("ssl_targets", "split", *dirs, *features, *options, "--out_dir",
                                               t.path, "--nj", str(o.nj)),
                       inputs=(*data, *model, *replays, *codebook), outputs=t.record)
        codebook_read = t.fitted if split == "train" else codebook  # what label and merge assign with
        if split == "train":
            samples = t.job_files(t.SAMPLE, o.nj)
            yield self.job(f"{name}_sample", 5, _py("ssl_targets", "sample", "--out_dir", t.path, "--job",
                                                    ARRAY_TOKEN, *device), shard_queue, gpus, o.nj,
                           inputs=t.record, outputs=samples)
            yield self.job(f"{name}_fit", 5, _py("ssl_targets", "fit", "--out_dir", t.path),
                           inputs=(*t.record, *samples), outputs=t.fitted)
        labelled = (*t.job_files(t.LABELS, o.nj), *t.job_files(t.SPEECH_SHAPE, o.nj))
        yield self.job(f"{name}_label", 5, _py("ssl_targets", "label", "--out_dir", t.path, "--job", ARRAY_TOKEN,
                                               *device), shard_queue, gpus, o.nj,
                       inputs=(*t.record, *codebook_read), outputs=labelled)
        yield self.job(f"{name}_merge", 5, _py("ssl_targets", "merge", "--out_dir", t.path),
                       inputs=(*t.record, *codebook_read, *labelled), outputs=t.merged)

    def stage5(self) -> Iterator[Job]:
        if self.o.train_on == "none":
            return
        if self.o.ssl_exp:  # another probe seed of the same training: its SSL stages, linked
            for s in self.stages:
                yield self.link(f"ssl_{s}", 5, Layout(self.o.ssl_exp).ssl(s).path, self.paths.ssl(s).path)
            return
        method_config = self.paths.method_config
        # the method as resolved when the plan was checked: its training options here, its adapter in
        # each stage's spec; the records hold the texts, this one's configs the files they came from
        yield Job("method_config", 5, None, 0, 1, None, ("write", method_config, self.method.options_text()),
                  inputs=self.method.configs, outputs=(method_config,), configs=self.method.configs)
        for s in self.stages:
            langs = {"new": self.languages(s), "old": self.plan.base.languages,
                     "all": self.old(s) + self.languages(s)}[self.o.train_on]
            replays = self.replays(s)
            prev = self.previous(s)
            # MFCC targets read no model but its frame rate, which every stage shares: the base model's
            # lets a stage's targets be made without waiting for the stage before it to train
            features = (self.base_ckpt,) if self.o.target_feature == MFCC_TARGETS else self.model_files(prev)
            ckpt, adapters = self.model_of(prev)
            init: tuple[str, ...] = ("--upstream", ckpt, *(("--init_adapters", adapters) if adapters else ()))
            yield from self.targets(s, "train", self.data_dirs(langs, "train"), replays, features)
            yield from self.targets(s, "dev", self.data_dirs(langs, "dev"), [], features)
            train, dev = self.paths.targets(s, "train"), self.paths.targets(s, "dev")
            replay = None
            if replays:
                share = self.o.replay_share if self.o.replay_share is not None else self.plan.replay.share
                replay = ReplaySpec(train.replay_utt2lang, float(share))
            # what ssl_train receives whole: the method's adapter as the plan check resolved it, the replay
            spec_path = self.paths.step_spec(f"ssl_{s}")
            spec = SSLTrainSpec(self.method.adapter, self.method.adapter_config, replay)
            yield Job(f"ssl_{s}_spec", 5, None, 0, 1, None, ("write", spec_path, spec.to_json()),
                      outputs=(spec_path,))
            data: list[str] = []
            for kind, t in (("train", train), ("valid", dev)):
                data += [f"--{kind}_data_path_and_name_and_type", f"{t.wav_scp},speech,sound",
                         f"--{kind}_data_path_and_name_and_type", f"{t.labels},labels,text_int",
                         f"--{kind}_data_path_and_name_and_type", f"{t.lang},lang,text_int",
                         f"--{kind}_shape_file", t.speech_shape]
            reads = [path for t in (train, dev) for path in (t.wav_scp, t.labels, t.lang, t.speech_shape)]
            out = self.paths.ssl(s).path
            yield self.job(f"ssl_{s}", 5, _py(
                "ssl_train", "--config", method_config, "--spec", spec_path, *init, "--ngpu", str(self.o.ngpu),
                "--seed", self.seed, "--resume", "true", "--num_classes", str(self.o.num_clusters), *data,
                "--output_dir", out, *self.ssl_train_opts), "cuda", self.o.ngpu,
                inputs=(method_config, spec_path, *reads, *((replay.utt2lang,) if replay else ()),
                        *self.model_files(prev)), outputs=(out,))

    def stage6(self) -> Iterator[Job]:
        o, paths = self.o, self.paths
        for s in ["base", *self.stages]:
            out = paths.probe(s).path
            if s == "base" and o.base_exp:
                yield self.link("probe_base", 6, Layout(o.base_exp).probe("base").path, out)
                continue
            if s != "base" and o.train_on == "none":
                yield self.link(f"probe_{s}", 6, paths.probe("base").path, out)
                continue
            yield self.probe_job(f"probe_{s}", s, self.plan.probe, out, paths.probe_data("train"), paths.tokens())
        if self.plan.quality_probe and not o.base_exp:
            yield self.probe_job("probe_quality", "base", self.plan.quality_probe, paths.quality_probe.path,
                                 paths.quality_train, paths.quality_tokens)

    def probe_job(self, name: str, stage: str, config: Path, out: str, train: ProbeDataDir, tokens: TokensDir) -> Job:
        """Train the probe ``config`` on the model after ``stage`` into ``out``, on ``train`` and the dev set."""
        o, paths = self.o, self.paths
        ckpt, adapters = self.model_of(stage)
        # ESPnet parses a KEY=VALUE option's VALUE as YAML: quoted, a path is a string, byte for byte
        frontend = ["--frontend_conf", f"path_or_url={quoted(ckpt)}"]
        if adapters:
            frontend += ["--frontend_conf", f"adapters={quoted(adapters)}"]
        data: list[str] = []
        reads: list[str] = []
        for split, d in (("train", train), ("valid", paths.probe_data("dev"))):
            data += [f"--{split}_data_path_and_name_and_type", f"{d.wav_scp},speech,sound",
                     f"--{split}_data_path_and_name_and_type", f"{d.text},text,text",
                     f"--{split}_shape_file", d.speech_shape]
            reads += [d.wav_scp, d.text, d.speech_shape]
        return self.job(name, 6, _py(
            "asr_train", "--config", str(config), "--ngpu", str(o.ngpu), "--seed", self.probe_seed,
            "--resume", "true", "--output_dir", out, *frontend,
            "--use_preprocessor", "true", "--token_type", "char", "--token_list", tokens.tokens,
            "--non_linguistic_symbols", tokens.nlsyms, *data, *_opts(o.probe_train_opts)), "cuda", o.ngpu,
            inputs=(*reads, tokens.tokens, tokens.nlsyms, *self.model_files(stage)), outputs=(out,),
            configs=(str(config),))

    def decode_table(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The rows of ``jobs.tsv``: every (protocol, stage) pair decoded itself, as asr_inference's
        ``--jobs`` fields (output dir, probe config and model, the ``fixed`` overrides or ``-``),
        each with the files it reads (the probe's and the stage's model: the probe's frontend
        loads it, from the overrides or from the probe's config)."""
        rows = []
        for protocol in self.plan.protocols:
            for s in ["base", *self.stages]:
                if self.same_score(protocol, s):
                    continue
                ckpt, adapters = self.model_of(s)
                probe, override = s, ("-", "-")
                if protocol == "fixed":
                    probe = "base"  # the base probe, frozen, reads this stage's features
                    override = (adapters or "none", ckpt)
                probe_dir = self.paths.probe(probe)
                model = probe_dir.model(self.probe_model)
                row = (self.paths.decode(protocol, s).path, probe_dir.config, model, *override)
                rows.append((row, (probe_dir.config, model, *self.model_files(s))))
        if self.plan.quality_probe and not self.o.base_exp:
            probe_dir = self.paths.quality_probe
            model = probe_dir.model(self.quality_model)
            row = (self.paths.quality_decode.path, probe_dir.config, model, "-", "-")
            rows.append((row, (probe_dir.config, model, *self.model_files("base"))))
        return rows

    def stage7(self) -> Iterator[Job]:
        o, paths = self.o, self.paths
        table = self.decode_table()
        rows = [row for row, _ in table]
        jobs_file = paths.decode_jobs
        test = paths.probe_data("test")
        if rows:
            bad = [value for row in rows for value in row if "\t" in value or "\n" in value]
            if bad:
                raise PlanError(f"{bad[0]!r}: a path of the decoding table holds a tab or a newline")
            yield Job("decode_jobs", 7, None, 0, 1, None,
                      ("write", jobs_file, "".join("\t".join(row) + "\n" for row in rows)), outputs=(jobs_file,))
            gpus = 1 if o.gpu_inference else 0
            common = ("--jobs", jobs_file, "--nj", str(o.inference_nj))
            blocks = [DecodeDir(row[0]).blocks(o.inference_nj) for row in rows]
            yield self.job("decode", 7, _py(
                "asr_inference", "--config", o.decode_config, "--decoding", o.decoding, "--ngpu", str(gpus),
                "--data_path_and_name_and_type", f"{test.wav_scp},speech,sound", *common,
                "--job", ARRAY_TOKEN), "decode", gpus, o.inference_nj,
                inputs=(jobs_file, test.wav_scp, *(path for _, reads in table for path in reads)), outputs=blocks,
                configs=(o.decode_config,))
            yield self.job("decode_merge", 7, _py("asr_inference", "merge", *common),
                           inputs=(jobs_file, *blocks), outputs=[DecodeDir(row[0]).result for row in rows])
        for protocol in self.plan.protocols:
            for s in ["base", *self.stages]:
                name, out = f"score_{protocol}_{s}", paths.score(protocol, s)
                same = self.same_score(protocol, s)
                if same:
                    yield self.link(name, 7, same, out)
                    continue
                yield self.score_job(name, paths.decode(protocol, s), out)
        if self.plan.quality_probe:  # --base_exp's scores when it is given
            name, out = "score_quality", paths.quality_score
            if o.base_exp:
                yield self.link(name, 7, Layout(o.base_exp).quality_score, out)
            else:
                yield self.score_job(name, paths.quality_decode, out)

    def score_job(self, name: str, decoded: DecodeDir, out: str) -> Job:
        test = self.paths.probe_data("test")
        return self.job(name, 7, _py(
            "score", "--ref", test.text, "--hyp", decoded.text, "--utt2lang", test.utt2lang,
            "--lid_if_present", decoded.lid, "--out", out),
            inputs=(test.text, test.utt2lang, decoded.result), outputs=(out,))

    def routing(self) -> Iterator[Job]:
        """Per continual stage, its routers against their ceiling on the languages learned so far
        (``routing_ceiling``: at most --routing_ceiling_utts utterances per language of the train
        and of the dev dirs, ROUTING_FRAMES frames of each), then every stage's figures per layer in
        one file (``routing_vs_ceiling``)."""
        o, paths = self.o, self.paths
        queue, gpus, device = ("cuda", 1, ("--device", "cuda")) if o.ngpu > 0 else ("train", 0, ())
        for s in self.stages:
            langs = self.old(s) + self.languages(s)
            train, dev = self.data_dirs(langs, "train"), self.data_dirs(langs, "dev")
            ckpt, adapters = self.model_of(s)
            yield self.job(f"routing_ceiling_{s}", 8, _py(
                "routing_ceiling", "--upstream", ckpt, "--adapters", str(adapters), "--train_data", *train,
                "--eval_data", *dev, "--max_utts", str(o.routing_ceiling_utts), "--frames_per_utt",
                str(ROUTING_FRAMES), *device, "--out",
                paths.routing_ceiling(s)), queue, gpus,
                inputs=(*train, *dev, *self.model_files(s)), outputs=(paths.routing_ceiling(s),))
        yield self.job("routing_vs_ceiling", 8, _py(
            "routing_vs_ceiling", "--ceiling", *(f"{s}={paths.routing_ceiling(s)}" for s in self.stages),
            "--out", paths.routing_vs_ceiling),
            inputs=[paths.routing_ceiling(s) for s in self.stages], outputs=(paths.routing_vs_ceiling,))

    def stage8(self) -> Iterator[Job]:
        paths = self.paths
        usage: tuple[str, ...] = ()
        usage_reads: tuple[str, ...] = ()
        if self.adapters:
            out = paths.expert_usage
            last = self.stages[-1]
            data = self.data_dirs(self.all_languages, "dev")
            yield self.job("expert_usage", 8, _py(
                "expert_usage", "--upstream", self.base_ckpt, "--adapters", paths.ssl(last).adapters, "--data",
                *data, "--out", out, "--if_routed"), inputs=(*data, *self.model_files(last)), outputs=(out,))
            usage = ("--expert_usage_if_present", out)  # adapters without routers measure nothing
            usage_reads = (out,)
        if self.routed:
            yield from self.routing()
            usage += ("--routing_vs_ceiling", paths.routing_vs_ceiling)
            usage_reads += (paths.routing_vs_ceiling,)
        for protocol in self.plan.protocols:
            results, utt_errors = paths.results(protocol), paths.utt_errors(protocol)
            scores = [paths.score(protocol, s) for s in ["base", *self.stages]]
            yield self.job(f"results_{protocol}", 8, _py(
                "collect_results", "--plan", str(self.plan.path), "--scores", paths.scores(protocol),
                "--protocol", protocol, "--out", results, "--utt_errors", utt_errors),
                inputs=scores, outputs=(results, utt_errors), configs=(str(self.plan.path),))
            report = paths.report(protocol)
            quality = ("--base_quality", paths.quality_score) if self.plan.quality_probe else ()
            yield self.job(f"report_{protocol}", 8, _py(
                "forgetting_report", "--matrix", results, *usage, *quality, "--out", report),
                inputs=(results, *usage_reads, *quality[1:]), outputs=(report,))


def recipe_graph(plan: Plan, options: RecipeOptions) -> list[Job]:
    """Every job of stages 1-8, in the order they run, each with the jobs it waits for (``after``,
    derived from inputs and outputs).

    Decided from the plan and the options alone (the method, resolved when the plan was checked,
    says whether a stage leaves adapters or a whole checkpoint); raises PlanError for options that
    cannot run."""
    recipe = _Recipe(plan, options)
    stages = [recipe.stage1(options.stage <= 1 <= options.stop_stage), recipe.stage2(), recipe.stage3(),
              recipe.stage4(), recipe.stage5(), recipe.stage6(), recipe.stage7(), recipe.stage8()]
    jobs = [job for stage in stages for job in stage]
    names = [job.name for job in jobs]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise PlanError(f"{plan.path}: job names {clash} are not unique (a stage name clashes with a step name)")
    return derive_after(jobs)


def recipe_jobs(plan: Plan, options: RecipeOptions) -> list[Job]:
    """The jobs of stages ``options.stage``..``options.stop_stage`` of ``recipe_graph``, in the order
    they run (``after`` may name jobs of earlier stages)."""
    return [job for job in recipe_graph(plan, options) if options.stage <= job.stage <= options.stop_stage]

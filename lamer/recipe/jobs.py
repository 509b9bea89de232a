"""The jobs of the stage script ``ssl.sh``, listed from the plan and the recipe's options alone.

``recipe_jobs(plan, options)`` decides every step of stages 1-8 without looking at data or
outputs on disk: which program runs with which arguments, on which queue (the ``$train_cmd``,
``$cuda_cmd`` or ``$decode_cmd`` of cmd.sh), with how many GPUs, as an array of how many jobs
(``JOB=1:nj``) and with which log. ``lamer.bin.plan jobs`` prints the list and ``lamer.bin.plan
run`` (called by ssl.sh) executes the same list through ``lamer.recipe.executor``, so listing and
running cannot diverge.

Every job names the jobs whose outputs it reads (``after``), derived from the same facts as its
arguments (data dirs, base model, the previous stage's model, targets, probes, decoding table), so
the runner can start independent jobs side by side. The list itself is in a topological order:
a job comes after every listed job it names, so running it in order (one job at a time) is safe.

Bookkeeping that loads no audio and no model runs in place (``queue`` None): ``link SRC DST``
shares an output that is the same computation as SRC's, ``write PATH TEXT`` writes a small file
(the decoding's ``jobs.tsv``). Every other step is a program run through a queue.
"""
from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from lamer.recipe.plan import Plan, PlanError
from lamer.yaml_io import YamlError, load_yaml, quoted

QUEUES = ("train", "cuda", "decode")
TRAIN_ON = ("new", "old", "all", "none")
IN_PLACE = ("link", "write")
ARRAY_TOKEN = "JOB"  # replaced by the job's index by the launcher (Kaldi's JOB=1:N)
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
    """One step of the recipe. ``name`` is unique and names its ``.done`` marker; ``queue`` is the
    ``$cmd`` that runs ``argv`` (None: bookkeeping run in place, ``argv`` = ``link SRC DST`` or
    ``write PATH TEXT``); ``nj`` jobs run as an array when ``argv`` holds the token ``JOB``.
    ``after`` names the jobs whose outputs it reads: it starts once they are done (a name that is
    not in the list being run belongs to a stage outside --stage..--stop_stage, done already)."""

    name: str
    stage: int
    queue: str | None
    gpus: int
    nj: int
    log: str | None
    argv: tuple[str, ...]
    after: tuple[str, ...] = ()

    @property
    def is_array(self) -> bool:
        """Whether the launcher gets ``JOB=1:nj`` (the command names its part with ``JOB``)."""
        return ARRAY_TOKEN in self.argv

    def to_json(self) -> str:
        """One JSON object (keys in the documented order, argv as a list)."""
        return json.dumps({**asdict(self), "argv": list(self.argv), "after": list(self.after)}, ensure_ascii=False)


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
    target_layer: int = 3
    num_clusters: int = 100
    pretrain_opts: str = ""
    ssl_train_opts: str = ""
    probe_train_opts: str = ""
    decode_config: str = "conf/probe/decode_ctc.yaml"
    decoding: str = "greedy"
    method: str = ""             # default: the plan's
    seed: int | None = None      # default: the plan's
    train_on: str = "new"
    replay_share: float | None = None  # default: the plan's replay.share
    base_dir: str = ""           # default: <exp>/base
    base_exp: str = ""
    data: str = "data"
    dump: str = "dump"

    def exp(self, plan: Plan) -> str:
        """The experiment directory, ``exp/<tag>``."""
        return f"exp/{self.tag or plan.path.stem}"


def _py(module: str, *args: str) -> tuple[str, ...]:
    return ("python", "-m", f"lamer.bin.{module}", *args)


def _unique(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``names`` in their first order, each once."""
    return tuple(dict.fromkeys(names))


def _opts(text: str) -> list[str]:
    """A ``*_opts`` string as arguments (shell-like quoting, no expansion)."""
    return shlex.split(text)


def synth_keys(plan: Plan) -> str:
    """The synthetic corpus' language keys for the plan's languages (demo recipes)."""
    from lamer.data.synth.languages import LANGUAGES

    by_iso3 = {lang.iso3: lang.key for lang in LANGUAGES.values()}
    wanted = [lang for s in plan.all_stages for lang in s.languages]
    missing = [lang for lang in wanted if lang not in by_iso3]
    if missing:
        raise PlanError(f"{plan.path}: the synthetic corpus has no voice for {missing}")
    return ",".join(by_iso3[lang] for lang in wanted)


def method_keeps_adapters(method: str | Path, ssl_train_opts: str = "") -> bool:
    """Whether ssl_train with this method config leaves adapters (``<out>/adapters``) rather than a
    whole fine-tuned checkpoint (``<out>/upstream.pt``): its ``ssl_adapter`` (default ``lamer``),
    unless ``--ssl_adapter`` in ``ssl_train_opts`` overrides it."""
    path = Path(method)
    try:
        conf = load_yaml(path) or {}
    except YamlError as err:
        raise PlanError(f"method config {err}") from None
    if not isinstance(conf, dict):
        raise PlanError(f"{path}: expected a mapping of ssl_train options")
    adapter = str(conf.get("ssl_adapter", "lamer"))
    opts = _opts(ssl_train_opts)
    for i, token in enumerate(opts):
        if token == "--ssl_adapter" and i + 1 < len(opts):
            adapter = opts[i + 1]
        elif token.startswith("--ssl_adapter="):
            adapter = token.partition("=")[2]
    return adapter != "none"


class _Recipe:
    """The decisions shared by the stages of one experiment."""

    def __init__(self, plan: Plan, opts: RecipeOptions):
        if opts.train_on not in TRAIN_ON:
            raise PlanError(f"--train_on {opts.train_on}: expected one of {', '.join(TRAIN_ON)}")
        for name in ("nj", "inference_nj"):
            if getattr(opts, name) < 1:
                raise PlanError(f"--{name} {getattr(opts, name)}: expected a positive number of jobs")
        if opts.ngpu < 0:
            raise PlanError(f"--ngpu {opts.ngpu}: expected 0 (CPU) or a number of GPUs")
        self.plan, self.o = plan, opts
        self.exp = opts.exp(plan)
        self.method = opts.method or str(plan.method)
        self.seed = str(plan.seed if opts.seed is None else opts.seed)
        self.base_dir = opts.base_dir or f"{self.exp}/base"
        self.base_ckpt = f"{self.base_dir}/upstream.pt"
        self.stages = [s.name for s in plan.stages]
        self.all_languages = [lang for s in plan.all_stages for lang in s.languages]
        self.adapters = opts.train_on != "none" and method_keeps_adapters(self.method, opts.ssl_train_opts)

    def log(self, name: str) -> str:
        return f"{self.exp}/logs/{name}.log"

    def job(self, name: str, stage: int, argv: tuple[str, ...], queue: str = "train", gpus: int = 0,
            nj: int = 1, *, after: tuple[str, ...] | list[str]) -> Job:
        log = self.log(f"{name}.{ARRAY_TOKEN}" if ARRAY_TOKEN in argv else name)
        return Job(name, stage, queue, gpus, nj, log, argv, _unique(after))

    def link(self, name: str, stage: int, src: str, dst: str, *, after: tuple[str, ...] | list[str]) -> Job:
        return Job(name, stage, None, 0, 1, None, ("link", src, dst), _unique(after))

    @property
    def data_jobs(self) -> tuple[str, ...]:
        """The jobs that write the Kaldi data dirs (``<data>/<iso3>/<split>``) and their audio."""
        return ("data",)

    def data_dirs(self, langs: list[str], split: str) -> list[str]:
        return [f"{self.o.data}/{lang}/{split}" for lang in langs]

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
            return self.base_ckpt, f"{self.exp}/ssl/{stage}/adapters"
        return f"{self.exp}/ssl/{stage}/upstream.pt", None

    def model_jobs(self, stage: str) -> tuple[str, ...]:
        """The jobs that write ``model_of(stage)``: the base model's (stage 3) and/or the stage's SSL
        training (its checkpoint or adapters)."""
        ckpt, adapters = self.model_of(stage)
        jobs = ["base_model" if ckpt == self.base_ckpt else f"ssl_{stage}"]
        if adapters:
            jobs.append(f"ssl_{stage}")
        return _unique(jobs)

    def replays(self, stage: str) -> list[str]:
        """The replay data dirs of a continual stage (only stages trained on their new languages)."""
        if self.o.train_on != "new" or not self.plan.replay:
            return []
        return [f"{self.exp}/replay/{stage}/{old}" for old in self.old(stage)]

    def replay_jobs(self, stage: str) -> tuple[str, ...]:
        """The stage-4 jobs that write ``replays(stage)``."""
        return tuple(f"replay_{stage}_{old}" for old in self.old(stage)) if self.replays(stage) else ()

    def same_score(self, protocol: str, stage: str) -> tuple[str, tuple[str, ...]] | None:
        """The scores this pair shares (the base probe reading the base model, under any protocol and
        for every stage of --train_on none: one computation, scored once) and the jobs that write them
        (none: --base_exp's, made by another experiment), or None when the pair is decoded itself."""
        same, writers = None, ()
        if stage == "base" and self.o.base_exp:
            same = f"{self.o.base_exp}/score/{protocol}/base"
        elif stage == "base" or self.o.train_on == "none":
            first = self.plan.protocols[0]
            same, writers = f"{self.exp}/score/{first}/base", (f"score_{first}_base",)
        return None if same in (None, f"{self.exp}/score/{protocol}/{stage}") else (same, writers)

    # the stages, in order

    def stage1(self) -> Iterator[Job]:
        o, plan = self.o, self.plan
        if not o.root:
            raise PlanError(f"{plan.path}: no data root for corpus {plan.corpus!r}: set it in db.sh (--root)")
        if o.synth:
            yield self.job("synth", 1, _py("synth_corpus", "--out", str(Path(o.root).parent), "--langs",
                                           synth_keys(plan), "--utts_per_lang", str(o.synth_utts), "--seed",
                                           self.seed, "--nj", str(o.nj), *_opts(o.synth_opts)), after=())
        locales = ",".join(loc for s in plan.all_stages for loc in s.locales)
        lang_map = ",".join(f"{loc}={iso3}" for loc, iso3 in plan.lang_map.items())
        yield self.job("data", 1, _py("prepare_data", plan.corpus, "--root", o.root, "--langs", locales, "--out",
                                      o.data, "--dump", f"{o.dump}/audio", "--nj", str(o.nj),
                                      *(("--lang_map", lang_map) if lang_map else ()), *_opts(o.prep_opts)),
                       after=("synth",) if o.synth else ())

    def stage2(self) -> Iterator[Job]:
        for split in ("train", "dev", "test"):
            yield self.job(f"probe_{split}", 2, _py("probe_data", "dir", "--data",
                                                    *self.data_dirs(self.all_languages, split),
                                                    "--out", f"{self.o.dump}/probe/{split}"), after=self.data_jobs)
        yield self.job("tokens", 2, _py("probe_data", "tokens", "--text", f"{self.o.dump}/probe/train/text",
                                        "--out", f"{self.o.dump}/tokens/char", *_opts(self.o.token_opts)),
                       after=("probe_train",))

    def stage3(self) -> Iterator[Job]:
        base_model = self.plan.base_model
        if "checkpoint" in base_model:
            check = ("--sha256", base_model["sha256"]) if "sha256" in base_model else ()
            yield self.job("base_model", 3, _py("export_model", "--upstream", base_model["checkpoint"], *check,
                                                "--format", "s3prl", "--out", self.base_dir), after=())
            return
        base = self.plan.base.languages
        dirs = [arg for d in self.data_dirs(base, "train") for arg in ("--train_dir", d)]
        dirs += [arg for d in self.data_dirs(base, "dev") for arg in ("--valid_dir", d)]
        yield self.job("base_model", 3, _py(
            "pretrain_base", *dirs, "--config", base_model["pretrain"], "--work_dir", self.base_dir, "--layer",
            str(self.o.target_layer), "--num_clusters", str(self.o.num_clusters), "--seed", self.seed,
            "--", "--ngpu", str(self.o.ngpu), *_opts(self.o.pretrain_opts)), "cuda", self.o.ngpu, after=self.data_jobs)

    def stage4(self) -> Iterator[Job]:
        replay = self.plan.replay
        if self.o.train_on != "new" or not replay:
            return
        for s in self.stages:
            if "minutes" in replay:
                amount: tuple[str, ...] = ("--minutes", str(replay["minutes"]))
            else:
                new = [arg for d in self.data_dirs(self.languages(s), "train") for arg in ("--of", d)]
                amount = ("--fraction", str(replay["fraction"]), *new)
            for old in self.old(s):
                yield self.job(f"replay_{s}_{old}", 4, _py(
                    "prepare_data", "replay", "--src", f"{self.o.data}/{old}/train", *amount, "--strategy",
                    str(replay.get("strategy", "random")), "--seed", self.seed, "--out",
                    f"{self.exp}/replay/{s}/{old}"), after=self.data_jobs)

    def targets(self, s: str, split: str, data: list[str], model: tuple[str, ...],
                needs: tuple[str, ...]) -> Iterator[Job]:
        """k-means targets of stage ``s``'s ``split``: split the utterances over --nj shards, sample
        frames and fit the codebook (train only), label each shard, merge the labels. ``needs``: the
        jobs that write ``data`` and ``model``. Other splits name the train split's directory, whose
        merge writes the codebook they label with."""
        o = self.o
        out = f"{self.exp}/targets/{s}/{split}"
        name = f"targets_{s}" if split == "train" else f"targets_{s}_{split}"
        # 'lang' (indices into the plan's languages) for the routers: language routing, specialise_weight
        options = ("--feature", "layer", "--layer", str(o.target_layer), "--languages", ",".join(self.all_languages))
        if split == "train":
            options += ("--num_clusters", str(o.num_clusters), "--seed", self.seed)
        else:
            options += ("--codebook", f"{self.exp}/targets/{s}/train")
        shard_queue, device = ("cuda", ("--device", "cuda")) if o.ngpu > 0 else ("train", ())
        gpus = 1 if o.ngpu > 0 else 0
        codebook = () if split == "train" else (f"targets_{s}_merge",)
        yield self.job(f"{name}_split", 5, _py("ssl_targets", "split", *data, *model, *options, "--out_dir", out,
                                               "--nj", str(o.nj)), after=(*needs, *codebook))
        labelled = (f"{name}_split",)
        if split == "train":
            yield self.job(f"{name}_sample", 5, _py("ssl_targets", "sample", "--out_dir", out, "--job", ARRAY_TOKEN,
                                                    *device), shard_queue, gpus, o.nj, after=labelled)
            yield self.job(f"{name}_fit", 5, _py("ssl_targets", "fit", "--out_dir", out), after=(f"{name}_sample",))
            labelled += (f"{name}_fit",)
        yield self.job(f"{name}_label", 5, _py("ssl_targets", "label", "--out_dir", out, "--job", ARRAY_TOKEN,
                                               *device), shard_queue, gpus, o.nj, after=(*labelled, *codebook))
        yield self.job(f"{name}_merge", 5, _py("ssl_targets", "merge", "--out_dir", out),
                       after=(*labelled, f"{name}_label", *codebook))

    def stage5(self) -> Iterator[Job]:
        if self.o.train_on == "none":
            return
        for s in self.stages:
            langs = {"new": self.languages(s), "old": self.plan.base.languages,
                     "all": self.old(s) + self.languages(s)}[self.o.train_on]
            replays = self.replays(s)
            prev = self.previous(s)
            init: tuple[str, ...] = ("--upstream", self.base_ckpt)
            features: tuple[str, ...] = ("--upstream", self.base_ckpt)
            if prev != "base":
                ckpt, adapters = self.model_of(prev)
                init = ("--upstream", ckpt, *(("--init_adapters", adapters) if adapters else ()))
                features = ("--upstream", ckpt, *(("--adapters", adapters) if adapters else ()))
            train = [a for d in self.data_dirs(langs, "train") for a in ("--data_dir", d)]
            train += [a for d in replays for a in ("--replay_data_dir", d)]
            dev = [a for d in self.data_dirs(langs, "dev") for a in ("--data_dir", d)]
            reads = (*self.data_jobs, *self.model_jobs(prev))
            yield from self.targets(s, "train", train, features, (*reads, *self.replay_jobs(s)))
            yield from self.targets(s, "dev", dev, features, reads)
            t = f"{self.exp}/targets/{s}"
            replay_opts: tuple[str, ...] = ()
            if replays:
                replay_opts = ("--replay_utt2lang", f"{t}/train/replay_utt2lang")
                share = self.o.replay_share if self.o.replay_share is not None else self.plan.replay.get("share")
                if share is not None:
                    replay_opts += ("--replay_share", str(share))
            yield self.job(f"ssl_{s}", 5, _py(
                "ssl_train", "--config", self.method, *init, "--ngpu", str(self.o.ngpu), "--seed", self.seed,
                "--resume", "true", "--num_classes", str(self.o.num_clusters),
                "--train_data_path_and_name_and_type", f"{t}/train/wav.scp,speech,sound",
                "--train_data_path_and_name_and_type", f"{t}/train/labels,labels,text_int",
                "--train_data_path_and_name_and_type", f"{t}/train/lang,lang,text_int",
                "--train_shape_file", f"{t}/train/speech_shape",
                "--valid_data_path_and_name_and_type", f"{t}/dev/wav.scp,speech,sound",
                "--valid_data_path_and_name_and_type", f"{t}/dev/labels,labels,text_int",
                "--valid_data_path_and_name_and_type", f"{t}/dev/lang,lang,text_int",
                "--valid_shape_file", f"{t}/dev/speech_shape",
                *replay_opts, "--output_dir", f"{self.exp}/ssl/{s}", *_opts(self.o.ssl_train_opts)),
                "cuda", self.o.ngpu, after=(f"targets_{s}_merge", f"targets_{s}_dev_merge", *reads,
                                            *self.replay_jobs(s)))

    def stage6(self) -> Iterator[Job]:
        o = self.o
        for s in ["base", *self.stages]:
            if s == "base" and o.base_exp:
                yield self.link("probe_base", 6, f"{o.base_exp}/probe/base", f"{self.exp}/probe/base", after=())
                continue
            if s != "base" and o.train_on == "none":
                yield self.link(f"probe_{s}", 6, f"{self.exp}/probe/base", f"{self.exp}/probe/{s}",
                                after=("probe_base",))
                continue
            ckpt, adapters = self.model_of(s)
            # ESPnet parses a KEY=VALUE option's VALUE as YAML: quoted, a path is a string, byte for byte
            frontend = ["--frontend_conf", f"path_or_url={quoted(ckpt)}"]
            if adapters:
                frontend += ["--frontend_conf", f"adapters={quoted(adapters)}"]
            data: list[str] = []
            for split, folder in (("train", "train"), ("valid", "dev")):
                d = f"{o.dump}/probe/{folder}"
                data += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
                         f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text",
                         f"--{split}_shape_file", f"{d}/speech_shape"]
            yield self.job(f"probe_{s}", 6, _py(
                "asr_train", "--config", str(self.plan.probe), "--ngpu", str(o.ngpu), "--seed", self.seed,
                "--resume", "true", "--output_dir", f"{self.exp}/probe/{s}", *frontend,
                "--use_preprocessor", "true", "--token_type", "char", "--token_list",
                f"{o.dump}/tokens/char/tokens.txt", "--non_linguistic_symbols", f"{o.dump}/tokens/char/nlsyms.txt",
                *data, *_opts(o.probe_train_opts)), "cuda", o.ngpu,
                after=("probe_train", "probe_dev", "tokens", *self.model_jobs(s)))

    def decode_table(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The rows of ``jobs.tsv``: every (protocol, stage) pair decoded itself, as asr_inference's
        ``--jobs`` fields (output dir, probe config and model, the ``fixed`` overrides or ``-``),
        each with the jobs that write what it reads (the probe and the stage's model)."""
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
                probe_dir = f"{self.exp}/probe/{probe}"
                row = (f"{self.exp}/decode/{protocol}/{s}", f"{probe_dir}/config.yaml",
                       f"{probe_dir}/valid.loss.best.pth", *override)
                rows.append((row, (f"probe_{probe}", *self.model_jobs(s))))
        return rows

    def stage7(self) -> Iterator[Job]:
        o = self.o
        table = self.decode_table()
        rows = [row for row, _ in table]
        jobs_file = f"{self.exp}/decode/jobs.tsv"
        if rows:
            bad = [value for row in rows for value in row if "\t" in value or "\n" in value]
            if bad:
                raise PlanError(f"{bad[0]!r}: a path of the decoding table holds a tab or a newline")
            yield Job("decode_jobs", 7, None, 0, 1, None,
                      ("write", jobs_file, "".join("\t".join(row) + "\n" for row in rows)), ())
            gpus = 1 if o.gpu_inference else 0
            common = ("--jobs", jobs_file, "--nj", str(o.inference_nj))
            yield self.job("decode", 7, _py(
                "asr_inference", "--config", o.decode_config, "--decoding", o.decoding, "--ngpu", str(gpus),
                "--data_path_and_name_and_type", f"{o.dump}/probe/test/wav.scp,speech,sound", *common,
                "--job", ARRAY_TOKEN), "decode", gpus, o.inference_nj,
                after=("decode_jobs", "probe_test", *(job for _, needs in table for job in needs)))
            yield self.job("decode_merge", 7, _py("asr_inference", "merge", *common), after=("decode_jobs", "decode"))
        for protocol in self.plan.protocols:
            for s in ["base", *self.stages]:
                name, out = f"score_{protocol}_{s}", f"{self.exp}/score/{protocol}/{s}"
                same = self.same_score(protocol, s)
                if same:
                    yield self.link(name, 7, same[0], out, after=same[1])
                    continue
                decoded = f"{self.exp}/decode/{protocol}/{s}/1best_recog"
                yield self.job(name, 7, _py(
                    "score", "--ref", f"{o.dump}/probe/test/text", "--hyp", f"{decoded}/text", "--utt2lang",
                    f"{o.dump}/probe/test/utt2lang", "--lid_if_present", f"{decoded}/lid", "--out", out),
                    after=("probe_test", "decode_merge"))

    def stage8(self) -> Iterator[Job]:
        usage: tuple[str, ...] = ()
        if self.adapters:
            out = f"{self.exp}/expert_usage.json"
            yield self.job("expert_usage", 8, _py(
                "expert_usage", "--upstream", self.base_ckpt, "--adapters",
                f"{self.exp}/ssl/{self.stages[-1]}/adapters", "--data", *self.data_dirs(self.all_languages, "dev"),
                "--out", out, "--if_routed"), after=(*self.data_jobs, *self.model_jobs(self.stages[-1])))
            usage = ("--expert_usage_if_present", out)  # adapters without routers measure nothing
        for protocol in self.plan.protocols:
            results = f"{self.exp}/results_{protocol}.json"
            yield self.job(f"results_{protocol}", 8, _py(
                "collect_results", "--plan", str(self.plan.path), "--scores", f"{self.exp}/score/{protocol}",
                "--protocol", protocol, "--out", results),
                after=[f"score_{protocol}_{s}" for s in ["base", *self.stages]])
            yield self.job(f"report_{protocol}", 8, _py(
                "forgetting_report", "--matrix", results, *usage, "--out", f"{self.exp}/report/{protocol}"),
                after=(f"results_{protocol}", *(("expert_usage",) if usage else ())))


def recipe_jobs(plan: Plan, options: RecipeOptions) -> list[Job]:
    """Every job of stages ``options.stage``..``options.stop_stage``, in the order they run.

    Decided from the plan and the options alone (the method config says whether a stage leaves
    adapters or a whole checkpoint); raises PlanError for options that cannot run."""
    recipe = _Recipe(plan, options)
    stages = [recipe.stage1, recipe.stage2, recipe.stage3, recipe.stage4, recipe.stage5, recipe.stage6,
              recipe.stage7, recipe.stage8]
    jobs = [job for number, stage in enumerate(stages, 1) if options.stage <= number <= options.stop_stage
            for job in stage()]
    names = [job.name for job in jobs]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise PlanError(f"{plan.path}: job names {clash} are not unique (a stage name clashes with a step name)")
    check_order(jobs)
    return jobs


def check_order(jobs: list[Job]) -> None:
    """Raise ValueError unless every job comes after the listed jobs its ``after`` names (the list is
    a topological order: run in order, one at a time, every job finds its inputs)."""
    seen: set[str] = set()
    listed = {job.name for job in jobs}
    for job in jobs:
        early = [name for name in job.after if name in listed and name not in seen]
        if early:
            raise ValueError(f"job {job.name} needs {early}, which are not listed before it")
        seen.add(job.name)

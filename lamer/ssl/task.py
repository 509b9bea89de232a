"""The ESPnet task of continual SSL training, so that espnet2's Trainer runs it.

ESPnet gives resume (``--resume true``), checkpoints, logs, validation loss, gradient
accumulation, ``--ngpu 0`` and torch.distributed. This task adds the model (upstream +
method + HuBERT head), the data names (``speech``, ``labels``, optional ``lang``), the replay
batch sampler for the training iterator, and the export of the trained upstream at the end.

The method's adapter and the replay reach the task as one typed
:class:`~lamer.ssl.train_spec.SSLTrainSpec`, made once as the options are parsed
(:meth:`SSLTask.get_parser`) and kept as ``args.spec`` (ESPnet's ``<output_dir>/config.yaml``
records it as a mapping): read from ``--spec FILE`` (the recipe's: the plan's method and replay,
checked when the plan was), or, for ``ssl_train`` run by hand, made from ``--ssl_adapter``,
``--ssl_adapter_preset`` (relative to the ``--config`` that names it), ``--ssl_adapter_conf``,
``--replay_utt2lang`` and ``--replay_share``, checked there (the adapter config by
:class:`~lamer.adapters.config.LamerConfig`, the share by :mod:`lamer.ssl.replay_share`). Those
options then leave the namespace: the spec is their one carrier, and the model and the sampler
read its typed fields.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from espnet2.iterators.sequence_iter_factory import SequenceIterFactory
from espnet2.tasks.abs_task import AbsTask, IteratorOptions, optim_classes
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.distributed_utils import get_rank
from espnet2.train.trainer import Trainer
from espnet2.utils import config_argparse
from espnet2.utils.get_default_kwargs import get_default_kwargs
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import float_or_none, str2bool, str_or_none
from espnet2.utils.yaml_no_alias_safe_dump import NoAliasSafeDumper

from lamer.adapters import patch_state, router_parameters
from lamer.adapters.checkpoint import describe_base
from lamer.data.kaldi_table import read_utt2lang
from lamer.runtime.load_guard import espnet_safe_loading
from lamer.ssl.encoder import MaskedUpstream
from lamer.ssl.growth import check_optimizer
from lamer.ssl.hubert_head import HubertHead
from lamer.ssl.method_config import ADAPTERS, DEFAULT_ADAPTER, adapter_config, resolve_preset
from lamer.ssl.methods import PRESET_MISMATCH, build_ssl_upstream, describe, setup_method
from lamer.ssl.model import MaskedPredictionModel
from lamer.ssl.replay_share import check_share
from lamer.ssl.sampler import ReplayBatchSampler, read_lengths
from lamer.ssl.stage_export import export_stage
from lamer.ssl.train_spec import ReplaySpec, SSLTrainSpec, read_train_spec, train_spec_from_dict
from lamer.upstream import LoadedUpstream
from lamer.yaml_io import brief

# the defaults of the classes the options configure, read off their signatures (as ESPnet does)
MODEL_DEFAULTS = get_default_kwargs(MaskedPredictionModel)
HEAD_DEFAULTS = get_default_kwargs(HubertHead)
# normalize_waveform None: the upstream's own setting (from its checkpoint)
UPSTREAM_DEFAULTS = {**get_default_kwargs(build_ssl_upstream), "normalize_waveform": None}


def _merged(defaults: dict, given: dict | None, option: str) -> dict:
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ValueError(f"--{option}: unknown key(s) {unknown}; known keys are {sorted(defaults)}")
    return {**defaults, **(given or {})}


# the options that the spec carries (``--spec`` or these, never both)
SPEC_OPTIONS = ("ssl_adapter", "ssl_adapter_preset", "ssl_adapter_conf", "replay_utt2lang", "replay_share")
# ESPnet writes every option into <output_dir>/config.yaml with this dumper: the spec as its file's mapping
NoAliasSafeDumper.add_representer(SSLTrainSpec, lambda dumper, spec: dumper.represent_dict(spec.as_dict()))


def spec_of_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SSLTrainSpec:
    """The spec of ``ssl_train`` run without ``--spec``: its adapter options (a preset merged with
    ``ssl_adapter_conf`` into the whole adapter config) and its replay options, each checked once.
    ValueError (OSError for a missing preset) names the option."""
    if not isinstance(args.ssl_adapter_conf, dict):  # a --config file's value has no type
        raise ValueError(f"--ssl_adapter_conf: expected a mapping of Lamer options, got {brief(args.ssl_adapter_conf)}")
    config = None
    if args.ssl_adapter_preset or args.ssl_adapter_conf:
        preset = None
        if args.ssl_adapter_preset:
            # a relative preset is the --config file's when that file named it (it set the parser's default)
            named = args.ssl_adapter_preset
            from_config = args.config is not None and parser.get_default("ssl_adapter_preset") == named
            preset = resolve_preset(named, args.config if from_config else None)
        source = f"{preset} (--ssl_adapter_preset, with --ssl_adapter_conf)" if preset else "--ssl_adapter_conf"
        config = adapter_config(preset, args.ssl_adapter_conf, source=source)
    share = None if args.replay_share is None else check_share(args.replay_share, "--replay_share")
    if share and not args.replay_utt2lang:
        raise ValueError("--replay_share > 0 needs --replay_utt2lang (the replay utterances of the training data)")
    if args.replay_utt2lang and share is None:
        raise ValueError("--replay_utt2lang needs --replay_share: the part of every batch taken from the replay "
                         "utterances (the plan's replay.share; 0 keeps them out of the batches)")
    replay = ReplaySpec(args.replay_utt2lang, float(share)) if args.replay_utt2lang else None
    return SSLTrainSpec(args.ssl_adapter, config, replay)


def resolve_options(args: argparse.Namespace, parser: argparse.ArgumentParser, defaults: dict) -> None:
    """Make the spec of the parsed options ``args`` of ``parser``, once, and keep it as ``args.spec`` in
    place of :data:`SPEC_OPTIONS`: read from ``--spec`` (a path; a mapping where ESPnet's config.yaml
    recorded one) or made from those options (:func:`spec_of_options`). ``defaults``: their values
    before a ``--config`` file was read, to tell an option that was given. ValueError (OSError for a
    missing file) names the option."""
    if args.spec is not None:
        given = [f"--{name}" for name in SPEC_OPTIONS if getattr(args, name) != defaults[name]]
        if given:
            raise ValueError(f"--spec gives the adapter and the replay; {', '.join(given)} given too (on the command "
                             "line or in --config): give them in the spec only")
        spec = read_train_spec(args.spec) if isinstance(args.spec, str) else \
            train_spec_from_dict(args.spec, f"{args.config}: spec")
    else:
        spec = spec_of_options(args, parser)
    for name in SPEC_OPTIONS:
        delattr(args, name)
    args.spec = spec


class SSLTask(AbsTask):
    """HuBERT masked prediction on an upstream trained fully or through Lamer adapters."""

    num_optimizers: int = 1
    class_choices_list = []
    trainer = Trainer

    @classmethod
    def get_parser(cls) -> config_argparse.ArgumentParser:
        """ESPnet's parser of the task, whose parsed options come out with their spec made
        (:func:`resolve_options`); a problem is a one-line usage error naming the option or key."""
        parser = super().get_parser()
        parse_known_args = parser.parse_known_args

        def parse_and_resolve(args=None, namespace=None):
            defaults = {name: parser.get_default(name) for name in SPEC_OPTIONS}  # --config sets them
            parsed, rest = parse_known_args(args, namespace)
            try:
                resolve_options(parsed, parser, defaults)
            except (OSError, ValueError) as err:
                parser.error(str(err))
            return parsed, rest

        parser.parse_known_args = parse_and_resolve  # what parse_args calls
        return parser

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(description="SSL model and method")
        group.add_argument("--spec", type=str_or_none, default=None,
                           help="the step's spec (JSON, lamer.ssl.train_spec; the recipe writes "
                                "exp/<tag>/config/ssl_<stage>.json): the adapter, its config and the replay, in place "
                                "of --ssl_adapter, --ssl_adapter_preset, --ssl_adapter_conf, --replay_utt2lang and "
                                "--replay_share")
        group.add_argument("--upstream", type=str, default="tiny",
                           help="upstream preset name (random weights) or path of a local checkpoint")
        group.add_argument("--upstream_conf", action=NestedDictAction, default={},
                           help=f"upstream options, defaults {UPSTREAM_DEFAULTS}")
        group.add_argument("--ssl_adapter", type=str, default=DEFAULT_ADAPTER, choices=ADAPTERS,
                           help="none: train every parameter (full fine-tuning / pre-training); lamer: adapters")
        group.add_argument("--ssl_adapter_preset", type=str_or_none, default=None,
                           help="an 'adapter: lamer' YAML file (conf/lamer/*.yaml) giving the adapter settings; "
                                "relative: to the --config that names it, else to the current folder; merged into "
                                "--ssl_adapter_conf as the options are parsed")
        group.add_argument("--ssl_adapter_conf", action=NestedDictAction, default={},
                           help="Lamer options on top of --ssl_adapter_preset (after parsing: the whole adapter "
                                "config, preset included)")
        group.add_argument("--init_adapters", type=str_or_none, default=None,
                           help="adapter directory of the previous stage to continue (with its own config)")
        group.add_argument("--preset_mismatch", type=str, default="error", choices=PRESET_MISMATCH,
                           help="with --init_adapters: when the preset gives another config than the continued "
                                "adapters have, stop (error) or continue them with their own config, logged")
        group.add_argument("--add_experts", type=int, default=0,
                           help="routed experts to add per patched module (stage chaining with new experts)")
        group.add_argument("--freeze_previous_experts", type=str2bool, default=False,
                           help="with --add_experts: keep the earlier experts fixed")
        group.add_argument("--num_classes", type=int, default=100, help="k-means codebook size of the labels")
        group.add_argument("--head_conf", action=NestedDictAction, default={},
                           help=f"prediction head options, defaults {HEAD_DEFAULTS}")
        group.add_argument("--model_conf", action=NestedDictAction, default={},
                           help=f"masking and loss options, defaults {MODEL_DEFAULTS}")
        group.add_argument("--stage_info", action=NestedDictAction, default={},
                           help="stored in the adapter manifest's 'extra' (e.g. {stage: 1, languages: [spa]})")
        group = parser.add_argument_group(description="replay")
        group.add_argument("--replay_utt2lang", type=str_or_none, default=None,
                           help="utt2lang of the replay utterances inside the training data "
                                "(enables the replay sampler)")
        group.add_argument("--replay_share", type=float_or_none, default=None,
                           help="share of every training batch taken from the replay utterances, in [0, 1) (with "
                                "--replay_utt2lang; the recipe's --spec gives the plan's replay.share; 0: none)")

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool):
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1, not_sequence=("lang",))

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool):
        return None

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ("speech", "labels")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ("lang",)

    @classmethod
    def build_upstream(cls, args: argparse.Namespace) -> LoadedUpstream:
        """The upstream of ``args``, set up for the method (adapters patched or all parameters free)."""
        conf = _merged(UPSTREAM_DEFAULTS, args.upstream_conf, "upstream_conf")
        loaded = build_ssl_upstream(args.upstream, conf["family"], conf["seed"])
        spec = args.spec
        report = setup_method(loaded.model, spec.adapter, spec.adapter_config, args.init_adapters, args.add_experts,
                              args.freeze_previous_experts, args.preset_mismatch)
        logging.info("upstream %s (%s), adapter %s: %s", args.upstream, loaded.family, spec.adapter,
                     describe(report))
        if args.freeze_previous_experts:
            check_optimizer(args.optim_conf)
        return loaded

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> MaskedPredictionModel:
        loaded = cls.build_upstream(args)
        normalize = _merged(UPSTREAM_DEFAULTS, args.upstream_conf, "upstream_conf")["normalize_waveform"]
        encoder = MaskedUpstream(loaded.model, normalize_waveform=loaded.normalize if normalize is None else normalize)
        head_conf = _merged(HEAD_DEFAULTS, args.head_conf, "head_conf")
        head = HubertHead(describe_base(loaded.model)["hidden_size"], args.num_classes, head_conf["final_dim"],
                          head_conf["temperature"])
        model = MaskedPredictionModel(encoder, head, **_merged(MODEL_DEFAULTS, args.model_conf, "model_conf"))
        model.loaded_upstream = loaded  # configs for the export at the end (not a submodule)
        return model

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> list[torch.optim.Optimizer]:
        """ESPnet's optimizer; with a Lamer ``router_lr_scale`` other than 1, the routers' parameters form
        a second parameter group whose learning rate is ``optim_conf.lr`` times the scale (schedulers
        such as warmuplr scale every group's own base rate)."""
        state = patch_state(model.encoder.upstream)
        scale = state.config.router_lr_scale if state is not None else 1.0
        if scale == 1.0:
            return super().build_optimizers(args, model)
        if args.sharded_ddp or args.exclude_weight_decay:
            raise ValueError(f"router_lr_scale {scale} (adapter config) cannot be combined with --sharded_ddp or "
                             "--exclude_weight_decay: set router_lr_scale 1 or drop those options")
        if "lr" not in args.optim_conf:
            raise ValueError(f"router_lr_scale {scale} (adapter config) scales optim_conf.lr: give optim_conf.lr")
        optim_class = optim_classes.get(args.optim)
        if optim_class is None:
            raise ValueError(f"--optim must be one of {list(optim_classes)}: {args.optim}")
        routers = {id(param) for param in router_parameters(model.encoder.upstream)}
        rest = [param for param in model.parameters() if id(param) not in routers]
        router_group = [param for param in model.parameters() if id(param) in routers]
        groups = [{"params": rest}, {"params": router_group, "lr": float(args.optim_conf["lr"]) * scale}]
        logging.info("optimizer: %d router parameter tensors at lr x %g", len(router_group), scale)
        return [optim_class(groups, **args.optim_conf)]

    @classmethod
    def build_sequence_iter_factory(cls, args: argparse.Namespace, iter_options: IteratorOptions, mode: str):
        replay = args.spec.replay
        if mode != "train" or replay is None:
            return super().build_sequence_iter_factory(args, iter_options, mode)
        if iter_options.batch_type not in ("folded", "sorted", "unsorted"):
            raise ValueError(f"--batch_type {iter_options.batch_type}: the replay sampler counts utterances; "
                             "use --batch_type sorted with --batch_size")
        lengths = read_lengths(Path(iter_options.shape_files[0]))
        distributed = iter_options.distributed
        sampler = ReplayBatchSampler(
            lengths, read_utt2lang(Path(replay.utt2lang)), iter_options.batch_size, replay.share,
            seed=args.seed, rank=torch.distributed.get_rank() if distributed else 0,
            world_size=torch.distributed.get_world_size() if distributed else 1)
        logging.info("[train] batch sampler: %s", sampler)
        return SequenceIterFactory(
            dataset=cls.build_dataset(args, iter_options), batches=sampler, seed=args.seed,
            num_iters_per_epoch=iter_options.num_iters_per_epoch, shuffle=True,
            num_workers=args.num_workers, collate_fn=iter_options.collate_fn, pin_memory=args.ngpu > 0)

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """ESPnet's training, then (on rank 0) the export of the trained upstream.

        Files are read weights-only and saved atomically here too (not only in the entry
        points): workers that ESPnet spawns for distributed training start here.
        """
        with espnet_safe_loading():
            super().main_worker(args)
            rank = get_rank(args.dist_rank, args.dist_launcher) if args.distributed else None
            if args.collect_stats or args.dry_run or rank not in (None, 0):
                return
            latest = Path(args.output_dir) / "latest.pth"
            if not latest.exists():
                raise FileNotFoundError(f"{latest}: training left no model to export")
            model = cls.build_model(args)
            model.load_state_dict(torch.load(latest, map_location="cpu", weights_only=True))
            path = export_stage(model.loaded_upstream, Path(args.output_dir), extra=dict(args.stage_info) or None)
            logging.info("exported the trained upstream to %s", path)

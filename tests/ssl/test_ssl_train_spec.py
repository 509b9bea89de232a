"""The typed spec of an SSL training step: its file round-trips, ssl_train reads it once into
``args.spec`` (checking its structure and types, one line naming the key of a malformed one), the
options it replaces cannot be given beside it, and ESPnet's config.yaml records it as a mapping that
ssl_train reads back."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamer.adapters import LamerConfig
from lamer.ssl.train_spec import ReplaySpec, SpecError, SSLTrainSpec, read_train_spec

REPO = Path(__file__).resolve().parents[2]
SPEC = SSLTrainSpec("lamer", LamerConfig(allocation="linear:1-4", rank=2, languages=["eng", "spa"]),
                    ReplaySpec("dump/replay_utt2lang", 0.2))


def parse(*argv: str):
    from lamer.ssl.task import SSLTask

    return SSLTask.get_parser().parse_args([*argv, "--output_dir", "x"])


def usage_error(capsys, *argv: str) -> str:
    """The one line of ssl_train's usage error."""
    with pytest.raises(SystemExit) as stop:
        parse(*argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("spec", [SPEC, SSLTrainSpec("none"), SSLTrainSpec("lamer", LamerConfig(), None),
                                  SSLTrainSpec("lamer", None, ReplaySpec("u2l", 0.0))])
def test_a_spec_round_trips_through_its_file(tmp_path, spec):
    path = tmp_path / "ssl_s1.json"
    path.write_text(spec.to_json(), encoding="utf-8")
    assert read_train_spec(path) == spec
    assert json.loads(spec.to_json()) == spec.as_dict()


def test_ssl_train_reads_the_spec_once_into_typed_fields(tmp_path):
    from tests.opened import opened, times

    path = tmp_path / "spec.json"
    path.write_text(SPEC.to_json(), encoding="utf-8")
    with opened() as counts:
        args = parse("--spec", str(path))
    assert times(counts, path) == 1
    assert args.spec == SPEC and isinstance(args.spec.replay.share, float)
    assert not any(hasattr(args, name) for name in ("ssl_adapter", "ssl_adapter_conf", "replay_share"))


@pytest.mark.parametrize("text, says", [
    ("[]", "expected a JSON object at the top level"),
    ('{"adapter": "lamer", "adapter_config": null}', "missing key(s) ['replay']"),
    ('{"adapter": "lamer", "adapter_config": null, "replay": null, "share": 0.2}', "unknown key(s) ['share']"),
    ('{"adapter": "lora", "adapter_config": null, "replay": null}', "adapter: expected one of none, lamer, got 'lora'"),
    ('{"adapter": "lamer", "adapter_config": [], "replay": null}', "adapter_config: expected a mapping of Lamer"),
    ('{"adapter": "lamer", "adapter_config": {"allocation": "groups"}, "replay": null}',
     "adapter_config: invalid Lamer config: allocation: schedule 'groups': expected KIND:VALUES"),
    ('{"adapter": "lamer", "adapter_config": {"rank": "4"}, "replay": null}', "adapter_config:"),
    ('{"adapter": "lamer", "adapter_config": null, "replay": {"utt2lang": "u", "share": "0.2"}}',
     "replay.share: expected a number, got '0.2'"),
    ('{"adapter": "lamer", "adapter_config": null, "replay": {"utt2lang": "u", "share": true}}',
     "replay.share: expected a number, got True"),
    ('{"adapter": "lamer", "adapter_config": null, "replay": {"utt2lang": "", "share": 0.2}}', "replay.utt2lang:"),
    ('{"adapter": "lamer", "adapter_config": null, "replay": {"share": 0.2}}', "replay: missing key(s) ['utt2lang']"),
    ('{"adapter": "lamer",', "invalid JSON"),
])
def test_a_malformed_spec_is_one_line_naming_the_file_and_key(tmp_path, capsys, text, says):
    path = tmp_path / "spec.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        read_train_spec(path)
    assert str(err.value).startswith(str(path)) and says in str(err.value) and "\n" not in str(err.value)
    assert usage_error(capsys, "--spec", str(path)).endswith(f"error: {err.value}")


def test_the_options_the_spec_gives_are_not_given_beside_it(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(SPEC.to_json(), encoding="utf-8")
    line = usage_error(capsys, "--spec", str(path), "--replay_share", "0.5", "--ssl_adapter_conf", "rank=8")
    assert line.endswith("error: --spec gives the adapter and the replay; --ssl_adapter_conf, --replay_share given "
                         "too (on the command line or in --config): give them in the spec only")
    config = tmp_path / "method.yaml"
    config.write_text("ssl_adapter: none\noptim: adam\n", encoding="utf-8")
    assert "--ssl_adapter given too" in usage_error(capsys, "--config", str(config), "--spec", str(path))


def test_without_a_spec_the_options_make_one(capsys):
    """ssl_train run by hand: the preset merged with ssl_adapter_conf, the share checked, once."""
    args = parse("--ssl_adapter_preset", str(REPO / "conf" / "lamer" / "lamer_base.yaml"), "--ssl_adapter_conf",
                 "rank=2", "--replay_utt2lang", "u2l", "--replay_share", "0.25")
    base = LamerConfig.from_yaml(REPO / "conf" / "lamer" / "lamer_base.yaml")
    assert args.spec == SSLTrainSpec("lamer", LamerConfig(**{**base.to_dict(), "rank": 2}), ReplaySpec("u2l", 0.25))
    assert parse().spec == SSLTrainSpec("lamer")
    line = usage_error(capsys, "--ssl_adapter_conf", "rank=0")
    assert line.endswith("error: --ssl_adapter_conf: invalid Lamer config: rank must be >= 1, got 0")


def test_espnets_config_yaml_records_the_spec_and_reads_it_back(tmp_path, capsys):
    """ESPnet dumps every option into <output_dir>/config.yaml with its own dumper; the spec is a
    mapping there, and a --config file holding it gives the same spec (its structure checked)."""
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    from lamer.yaml_io import load_mapping

    path = tmp_path / "spec.json"
    path.write_text(SPEC.to_json(), encoding="utf-8")
    args = parse("--spec", str(path), "--max_epoch", "2")
    recorded = tmp_path / "config.yaml"
    recorded.write_text(yaml_no_alias_safe_dump(vars(args), indent=4, sort_keys=False), encoding="utf-8")
    assert load_mapping(recorded)["spec"] == SPEC.as_dict()
    config = tmp_path / "again.yaml"
    config.write_text(yaml_no_alias_safe_dump({"spec": load_mapping(recorded)["spec"], "max_epoch": 2}),
                      encoding="utf-8")
    again = parse("--config", str(config))
    assert again.spec == SPEC and again.max_epoch == 2
    config.write_text("spec: {adapter: lamer, adapter_config: null}\n", encoding="utf-8")
    assert usage_error(capsys, "--config", str(config)).endswith(
        f"error: {config}: spec: missing key(s) ['replay'] (a spec has adapter, adapter_config, replay)")

"""The probe model that decoding reads follows the probe config's (or options') first criterion."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lamer.probe.model_file import ProbeConfigError, decoded_model_name, probe_model_name

CONF = Path(__file__).parents[2] / "conf" / "probe"


def test_the_first_criterion_of_the_config_names_the_average():
    config = {"best_model_criterion": [["valid", "cer_ctc", "min"], ["valid", "loss", "min"]]}
    assert decoded_model_name(config, "p.yaml") == "valid.cer_ctc.ave.pth"
    assert decoded_model_name({"best_model_criterion": ["train,loss,min"]}, "p.yaml") == "train.loss.ave.pth"


def test_without_a_criterion_espnet_ranks_by_the_training_loss():
    assert decoded_model_name({}, "p.yaml") == "train.loss.ave.pth"


@pytest.mark.parametrize("opts", [
    ["--best_model_criterion", "valid,acc,max"],
    ["--best_model_criterion=valid,acc,max"],
    ["--best_model_criterion", "valid,loss,min", "--best_model_criterion", "valid,acc,max", "train,loss,min"],
])
def test_the_last_option_overrides_the_config(opts):
    config = {"best_model_criterion": [["valid", "loss", "min"]]}
    assert decoded_model_name(config, "p.yaml", ["--max_epoch", "3", *opts]) == "valid.acc.ave.pth"


@pytest.mark.parametrize("criteria, named", [
    ([["valid", "loss", "avg"]], "p.yaml: best_model_criterion[0]"),
    ([["dev", "loss", "min"]], "p.yaml: best_model_criterion[0]"),
    ([["valid", "loss"]], "p.yaml: best_model_criterion[0]"),
    ([], "p.yaml: best_model_criterion"),
    ("valid,loss,min", "p.yaml: best_model_criterion"),
])
def test_a_malformed_criterion_is_refused_by_name(criteria, named):
    with pytest.raises(ProbeConfigError, match=f"^{re.escape(named)}: expected"):
        decoded_model_name({"best_model_criterion": criteria}, "p.yaml")


def test_an_option_without_its_value_is_refused():
    with pytest.raises(ProbeConfigError, match="--best_model_criterion without a value"):
        decoded_model_name({}, "p.yaml", ["--best_model_criterion", "--max_epoch", "3"])


@pytest.mark.parametrize("config", sorted(CONF.glob("probe_*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_probe_config_names_its_decoded_model(config):
    assert probe_model_name(config).endswith(".ave.pth")

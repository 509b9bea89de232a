"""Register Lamer's choices with ESPnet's ASR task: ``frontend: lamer``, ``model: lamer_lid``, and
``upstream: lamer_local`` of its ``frontend: s3prl``.

ESPnet's ``ASRTask`` builds its frontend and model from the module-level ``frontend_choices``
and ``model_choices``: both the argument parser (``--frontend``, ``--model``) and
``build_model`` read them. ESPnet's S3prlFrontend accepts the upstream names of ``s3prl.hub``.
Adding one entry to each before ESPnet's own ``main`` runs is all the bridge needs; training,
inference, checkpoints and resume stay ESPnet's. Our entry points call
:func:`register_lamer_choices`; a plain ESPnet gets the same through :mod:`lamer.probe.espnet_plugin`.
"""
from __future__ import annotations

FRONTEND_NAME = "lamer"


def _register(choices, name: str, cls: type) -> None:
    registered = choices.classes.get(name)
    if registered is not None and registered is not cls:
        raise RuntimeError(f"ESPnet already has a {choices.name} named {name!r}: {registered}")
    choices.classes[name] = cls


def register_lamer_choices() -> None:
    """Make ``frontend: lamer`` and ``model: lamer_lid`` choices of ESPnet's ASR task, and
    ``lamer_local`` an upstream of its ``frontend: s3prl`` (idempotent)."""
    from espnet2.tasks.asr import frontend_choices, model_choices

    from lamer.probe.frontend import LamerS3prlFrontend
    from lamer.probe.lid_model import MODEL_NAME, LidASRModel
    from lamer.probe.s3prl_expert import register

    _register(frontend_choices, FRONTEND_NAME, LamerS3prlFrontend)
    _register(model_choices, MODEL_NAME, LidASRModel)
    register()

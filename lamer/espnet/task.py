"""Register Lamer's choices with ESPnet's ASR task: ``frontend: lamer`` and ``model: lamer_lid``.

ESPnet's ``ASRTask`` builds its frontend and model from the module-level ``frontend_choices``
and ``model_choices``: both the argument parser (``--frontend``, ``--model``) and
``build_model`` read them. Adding one entry to each before ESPnet's own ``main`` runs is all
the bridge needs; training, inference, checkpoints and resume stay ESPnet's.
"""
from __future__ import annotations

FRONTEND_NAME = "lamer"


def _register(choices, name: str, cls: type) -> None:
    registered = choices.classes.get(name)
    if registered is not None and registered is not cls:
        raise RuntimeError(f"ESPnet already has a {choices.name} named {name!r}: {registered}")
    choices.classes[name] = cls


def register_lamer_choices() -> None:
    """Make ``frontend: lamer`` and ``model: lamer_lid`` choices of ESPnet's ASR task (idempotent)."""
    from espnet2.tasks.asr import frontend_choices, model_choices

    from lamer.espnet.frontend import LamerS3prlFrontend
    from lamer.espnet.lid_model import MODEL_NAME, LidASRModel

    _register(frontend_choices, FRONTEND_NAME, LamerS3prlFrontend)
    _register(model_choices, MODEL_NAME, LidASRModel)

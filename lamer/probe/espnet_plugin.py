"""lamer's names in a plain ESPnet and s3prl: ``frontend: lamer``, ``model: lamer_lid``, ``upstream: lamer_local``.

Neither ESPnet nor s3prl has a plugin mechanism: ESPnet's ASR task takes its frontends and
models from fixed lists in ``espnet2.tasks.asr`` (``class_choices``), and s3prl's upstream names
are the functions that ``s3prl.hub`` defines. :func:`install` adds lamer's entries there as soon
as those modules are imported, or at once if they already are: a finder at the head of
``sys.meta_path`` lets the module's own code run, then registers. Importing this module imports
neither ESPnet, s3prl nor torch, so it costs nothing in a process that never uses them.

What calls :func:`install` in a plain ESPnet is :data:`PTH_NAME`, written into site-packages by
``python -m lamer.bin.espnet_plugin install`` (``tools/install.sh`` does it): Python runs an
``import`` line of a ``.pth`` file in site-packages at every start, so a plain
``python -m espnet2.bin.asr_train`` or ``Speech2Text`` knows lamer's names. lamer's own entry
points register them themselves (:func:`lamer.probe.asr_task.register_lamer_choices`).
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from importlib.machinery import ModuleSpec

PTH_NAME = "lamer-espnet.pth"
# Run by Python's site module at start-up. It does nothing once lamer is uninstalled (pip does not
# remove this file, and a failing line would be reported at every start).
PTH_LINE = ('import importlib.util; importlib.util.find_spec("lamer") is None or '
            '__import__("lamer.probe.espnet_plugin").probe.espnet_plugin.install()\n')


def _register_espnet() -> None:
    from lamer.probe.asr_task import register_lamer_choices

    register_lamer_choices()


def _register_s3prl() -> None:
    from lamer.probe.s3prl_expert import register

    register()


# module -> what registers lamer's names in it, run right after the module's own code
REGISTRATIONS: dict[str, Callable[[], None]] = {"espnet2.tasks.asr": _register_espnet,
                                                 "s3prl.hub": _register_s3prl}


def _register(module: str) -> None:
    """Register lamer's names in ``module``; a failure is one warning, never a failed import of it."""
    try:
        REGISTRATIONS[module]()
    except Exception as err:  # ESPnet and s3prl must keep working without lamer's names
        warnings.warn(f"lamer: could not add its names to {module} ({type(err).__name__}: {err}); "
                      "frontend: lamer, model: lamer_lid and upstream: lamer_local are unavailable in this process",
                      RuntimeWarning)


class _RegisteringLoader:
    """The module's own loader, then the registration (every other attribute is the loader's)."""

    def __init__(self, loader, module: str) -> None:
        self._loader = loader
        self._module = module

    def create_module(self, spec: ModuleSpec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _register(self._module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class RegisteringFinder:
    """A ``sys.meta_path`` finder that hands each watched module to its real finder, with a loader
    that registers lamer's names after the module's code; other modules are not its business."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname not in REGISTRATIONS:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or isinstance(finder, RegisteringFinder) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisteringLoader(spec.loader, fullname)
                return spec
        return None


def install() -> None:
    """Register lamer's names in ESPnet's ASR task and s3prl's hub, now or when they are imported (idempotent)."""
    if not any(isinstance(finder, RegisteringFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, RegisteringFinder())
    for module in REGISTRATIONS:
        if module in sys.modules:
            _register(module)

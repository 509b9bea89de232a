"""Process-wide guards around torch and ESPnet, entered by lamer's training and decoding entry points.

- ``load_guard``: ESPnet's checkpoint, model and ``--init_param`` loads made weights-only and
  strict, its saves atomic (:func:`~lamer.runtime.load_guard.espnet_safe_loading`,
  :func:`~lamer.runtime.load_guard.run_safely`);
- ``yaml_guard``: ESPnet's ``KEY=VALUE`` options and YAML files read by lamer's strict loader
  (``lamer.yaml_io``) within the same block.

Neither knows the probe or the SSL task: both are below them.
"""

"""The ESPnet bridge: ASR+LID probes on a frozen, Lamer-patched s3prl upstream.

- ``frontend``: ``LamerS3prlFrontend``, ESPnet's S3prlFrontend with saved Lamer adapters;
- ``task``: registers it as ``frontend: lamer`` of ESPnet's ASR task
  (``python -m lamer.bin.asr_train`` / ``asr_inference`` are ESPnet's own, plus that);
- ``plugin``: the same names in a plain ESPnet (``python -m lamer.bin.espnet_plugin install``);
- ``pack``: a probe packed by ESPnet's ``pack`` with its upstream and adapters, and read back safely;
- ``override``: the ``fixed`` protocol, a trained probe decoded with other adapters;
- ``probe_data``: ``[iso] TRANSCRIPT`` probe dirs and token lists from Kaldi data dirs;
- ``usage``: expert usage per layer and language on dev sets;
- ``safe_load``: ESPnet's checkpoint, model and ``--init_param`` loads made weights-only and
  strict, its saves atomic (entered by our training and decoding entry points);
- ``safe_yaml``: ESPnet's ``KEY=VALUE`` options and YAML files read by lamer's strict loader
  (``lamer.yaml_io``) within the same block.

ESPnet is imported only by the modules that need it (``import espnet2.tasks.asr`` takes ~20 s).
"""

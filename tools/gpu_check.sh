#!/usr/bin/env bash
# The GPU check: the tiny recipe end to end on one GPU with mixed precision, then the adapters
# benchmark on the GPU. For a machine with an NVIDIA GPU: it installs tools/venv first if needed
# (tools/install.sh picks the CUDA build of torch where nvidia-smi sees a GPU; instant once done).
#
#   bash tools/gpu_check.sh [WORK_DIR]     # or: make gpu-check
#
# WORK_DIR (default: a new temporary folder) receives the recipe, its exp/ and the benchmark's JSON.
# Stages 1-8 of a one-stage plan (base pre-training on en, continual stage s1 on es) run with
# --ngpu 1 --gpu_inference true and --use_amp true in the ESPnet options of base pre-training,
# SSL and probe training; a few iterations each, a few minutes in all. It asserts that every
# training job ran on CUDA (ESPnet's gpu_max_cached_mem_GB above 0 in its log) with AMP on
# (use_amp: true in its config.yaml), and that the benchmark allocated GPU memory. Target
# extraction (ssl_targets --device cuda) and decoding (asr_inference --ngpu 1) stop with an error
# when no GPU is visible to them, so the recipe's success shows that they ran on it.
# Without a usable GPU it stops at once, naming what is missing. Jobs go through $cuda_cmd etc.
# of cmd.sh: LAMER_CMD_BACKEND=slurm runs the check through the queue.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${root}/tools/venv/bin/python"
started=$(date +%s)

say() { echo "gpu_check: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

nvidia-smi -L >/dev/null 2>&1 || fail "no GPU here: nvidia-smi is missing or sees no device"
LAMER_VENV="" bash "${root}/tools/install.sh" || fail "tools/install.sh failed"
"${python}" - <<'PY' || fail "torch cannot use the GPU (see above)"
import sys

import torch

if torch.version.cuda is None:
    sys.exit(f"torch {torch.__version__} is a CPU build: reinstall with TORCH_VARIANT=cuda bash tools/install.sh")
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: driver too old for CUDA "
             f"{torch.version.cuda}, or CUDA_VISIBLE_DEVICES hides them")
print(f"gpu_check: torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}",
      file=sys.stderr)
PY

work="${1:-$(mktemp -d -t lamer-gpu-check.XXXXXX)}"
recipe="${work}/recipe"
mkdir -p "${recipe}/conf"
say "recipe in ${recipe}"
demo="${root}/egs2/mini_lamer/ssl1"
for name in path.sh cmd.sh ssl.sh; do ln -sfn "${demo}/${name}" "${recipe}/${name}"; done
for name in ssl probe lamer slurm.conf; do ln -sfn "${root}/conf/${name}" "${recipe}/conf/${name}"; done
echo "COMMONVOICE=${recipe}/corpus/commonvoice" >"${recipe}/db.sh"
cat >"${recipe}/conf/plan.yaml" <<'EOF'
# The GPU check's plan: the smallest plan with every kind of job (pre-training, targets,
# replay, SSL training, probes, decoding, scoring).
corpus: commonvoice
base: [en]
stages:
  - {name: s1, languages: [es]}
base_model: {pretrain: conf/ssl/base_pretrain.yaml}
method: conf/ssl/demo.yaml
replay: {minutes: 0.3, strategy: random, share: 0.2}
probe: conf/probe/probe_cpu_demo.yaml
protocols: [retrained]
seed: 0
EOF

amp="--use_amp true"
(cd "${recipe}" && ./ssl.sh --synth true --synth_utts 40 --nj 2 --inference_nj 2 \
    --ngpu 1 --gpu_inference true --target_layer 2 --num_clusters 20 \
    --pretrain_opts "--max_epoch 1 ${amp}" \
    --ssl_train_opts "--max_epoch 1 --num_iters_per_epoch 10 ${amp}" \
    --probe_train_opts "--max_epoch 1 ${amp}") || fail "the recipe failed: see ${recipe}/exp/plan/logs"

exp="${recipe}/exp/plan"
[ -f "${exp}/report/retrained/RESULTS.md" ] || fail "no ${exp}/report/retrained/RESULTS.md"
# Every ESPnet training writes "Nepoch results: ... gpu_max_cached_mem_GB=X" when it ran on CUDA.
"${python}" - "${exp}" <<'PY' || fail "a training job did not run on the GPU with AMP (see above)"
import re
import sys
from pathlib import Path

import yaml

exp = Path(sys.argv[1])
trained = [log for log in sorted((exp / "logs").rglob("*.log")) if "epoch results:" in log.read_text(errors="replace")]
problems = []
for log in trained:
    memory = [float(m) for m in re.findall(r"gpu_max_cached_mem_GB=([0-9.eE+-]+)", log.read_text(errors="replace"))]
    if not memory or max(memory) <= 0:
        problems.append(f"{log}: no gpu_max_cached_mem_GB above 0 (trained on the CPU?)")
    else:
        print(f"gpu_check: {log.relative_to(exp)}: gpu_max_cached_mem_GB={max(memory):.3f}", file=sys.stderr)
configs = sorted(exp.rglob("config.yaml"))
for config in configs:
    if yaml.safe_load(config.read_text()).get("use_amp") is not True:
        problems.append(f"{config}: use_amp is not true")
if len(trained) < 3:
    problems.append(f"only {len(trained)} training logs under {exp}/logs (expected pre-training, SSL, probes)")
if len(configs) < 3:
    problems.append(f"only {len(configs)} training configs under {exp}")
for problem in problems:
    print(f"gpu_check: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

say "adapters benchmark on the GPU"
(cd "${root}" && "${python}" -m lamer.bench adapters --device cuda --json) >"${work}/bench_adapters.json" \
    || fail "python -m lamer.bench adapters --device cuda failed"
"${python}" - "${work}/bench_adapters.json" <<'PY' || fail "the benchmark used no GPU memory"
import json
import sys

result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"gpu_check: bench adapters: {json.dumps(result)}", file=sys.stderr)
sys.exit(0 if result["device"].startswith("cuda") and result["cuda_max_memory_allocated_mb"] > 0 else 1)
PY
say "PASSED in $(( $(date +%s) - started )) s (outputs in ${work})"

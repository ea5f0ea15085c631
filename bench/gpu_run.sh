#!/usr/bin/env bash
# The whole GPU run in one script, inside a time budget (docs/benchmarks.md, "GPU run"):
#
#   bench/gpu_run.sh [--profile gpu-random|tiny] OUTDIR
#
# Writes OUTDIR/gpu_run.json (everything measured) and OUTDIR/gpu_run.log. gpu-random (the default):
# records nvidia-smi and the package versions, installs the wheels brought along in .whl/
# (bench/gpu_wheels.sh), runs `bench/container_bench.py --profile gpu-random --stages` (real-size
# random weights in bf16, staged to disk and loaded as the server loads them; a song with lyrics and
# cover, 1/2/4 takes, stems, a 600 s song) and then bench/quality_bench.py. A stage
# that fails is recorded in the JSON, not fatal; one that would start too late is skipped.
# tiny: the same steps on the CPU with the tiny models and short songs, no wheels (the test suite
# runs it: tests/bench/test_gpu_run.py), so the GPU run cannot fail on a typo.
#
# Environment: GPU_RUN_BUDGET_S (seconds for the whole run; default 450 for gpu-random, inside the
# 8 minutes the run is given), PYTHON (default: python3 for gpu-random, .venv/bin/python for tiny).
set -uo pipefail

usage() {
  echo "usage: $0 [--profile gpu-random|tiny] OUTDIR" >&2
  exit 2
}

profile=gpu-random
outdir=
while [[ $# -gt 0 ]]; do
  case $1 in
    --profile) [[ $# -ge 2 ]] || usage; profile=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) [[ -z $outdir ]] || usage; outdir=$1; shift ;;
  esac
done
[[ -n $outdir && ($profile == gpu-random || $profile == tiny) ]] || usage

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
mkdir -p "$outdir" && outdir=$(cd "$outdir" && pwd) || exit 1
log=$outdir/gpu_run.log
: >"$log"
started=$(date +%s)

if [[ $profile == gpu-random ]]; then
  budget=${GPU_RUN_BUDGET_S:-450}
  python=${PYTHON:-python3}
  # Seconds kept for the quality benchmark after the container stages.
  quality_reserve=90
  container_args=(--duration 180 --long-duration 600 --drop-page-cache)
  quality_args=(--profile gpu-random --limit 2 --duration 30 --json)
else
  budget=${GPU_RUN_BUDGET_S:-300}
  python=${PYTHON:-.venv/bin/python}
  quality_reserve=60
  container_args=(--duration 4 --long-duration 6 --steps 1)
  quality_args=(--profile tiny --limit 1 --duration 3 --steps 1 --json)
fi

say() { echo "[gpu_run $(($(date +%s) - started)) s] $*" | tee -a "$log"; }
left() { echo $((started + budget - $(date +%s))); }

# One step: its own time limit, output to the log (and the terminal), status and seconds recorded.
declare -A step_rc step_s
step() {
  local name=$1 limit=$2
  shift 2
  if ((limit < 5)); then
    say "$name: skipped, ${limit} s of the budget left"
    step_rc[$name]=skipped
    return
  fi
  say "$name (limit ${limit} s): $*"
  local t0=$(date +%s)
  timeout -k 15 "$limit" "$@" 2>&1 | tee -a "$log" >&2
  step_rc[$name]=${PIPESTATUS[0]}
  step_s[$name]=$(($(date +%s) - t0))
  say "$name: exit ${step_rc[$name]} after ${step_s[$name]} s"
}

say "profile $profile, budget ${budget} s, output in $outdir"
{ date -u; uname -a; } >>"$log"
nvidia_smi=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi 2>&1 | tee -a "$log" >&2
  nvidia_smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm \
    --format=csv,noheader 2>&1)
fi

# Wheels: only for the GPU machine's image (Python 3.12); installed apart from it, first on the path.
if [[ $profile == gpu-random ]] && compgen -G ".whl/*.whl" >/dev/null; then
  site=${TMPDIR:-/tmp}/gpu-run-site
  step wheels 120 "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH=$site
else
  say "wheels: none installed (profile $profile; .whl/ holds $(compgen -G ".whl/*.whl" | wc -l) wheels)"
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$repo/sagemaker_containers/music
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

limit=$(($(left) - quality_reserve))
step container $limit "$python" bench/container_bench.py --profile "$profile" --stages \
  --deadline-s $((limit - 30)) --out "$outdir/container.json" "${container_args[@]}"

step quality "$(($(left) - 10))" bash -c "\"\$0\" bench/quality_bench.py ${quality_args[*]} >\"$outdir/quality.json\"" "$python"

# One JSON: the container stages, the quality report, the machine and how each step ended.
for name in wheels container quality; do
  echo "$name ${step_rc[$name]:-not_run} ${step_s[$name]:-0}"
done >"$outdir/steps.txt"
NVIDIA_SMI=$nvidia_smi step merge 60 "$python" - "$outdir" <<'EOF'
import json, os, sys
from pathlib import Path

out = Path(sys.argv[1])

def read(name):
    path = out / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"error": f"{name}: {type(exc).__name__}: {exc}"}

steps = {}
for line in (out / "steps.txt").read_text().splitlines():
    name, rc, seconds = line.split()
    steps[name] = {"exit": rc, "seconds": int(seconds)}
report = {
    "nvidia_smi": os.environ.get("NVIDIA_SMI") or None,
    "steps": steps,
    "container": read("container.json"),
    "quality": read("quality.json") if (out / "quality.json").exists() else None,
}
(out / "gpu_run.json").write_text(json.dumps(report, indent=2))
for name in ("container.json", "quality.json", "steps.txt"):
    (out / name).unlink(missing_ok=True)
EOF
say "done in $(($(date +%s) - started)) s: $outdir/gpu_run.json"
[[ ${step_rc[merge]} == 0 ]]

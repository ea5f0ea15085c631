#!/usr/bin/env bash
# Download the wheels of bench/gpu_wheels.txt for the GPU machine (CPython 3.12, manylinux x86_64)
# into .whl/ (git-ignored; bench/gpu_run.sh installs them there), print each with its size and check
# that the wheels and the working tree that travels with them stay under the 64 MiB a device call
# carries. Usage: bench/gpu_wheels.sh   (PYTHON=... to use another interpreter's pip)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
limit=$((64 * 1024 * 1024))

platforms=()
for tag in manylinux_2_{17,24,27,28,31,34}_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
rm -rf .whl
mkdir .whl
"$python" -m pip download -q --no-deps --only-binary=:all: --implementation cp --python-version 3.12 \
  --abi cp312 --abi abi3 --abi none "${platforms[@]}" -d .whl -r bench/gpu_wheels.txt

expected=$(grep -cE '^[A-Za-z]' bench/gpu_wheels.txt)
found=$(find .whl -type f -name '*.whl' | wc -l)
if ((found != expected)); then
  echo "expected $expected wheels, found $found in .whl/" >&2
  exit 1
fi
wheels=$(find .whl -type f -name '*.whl' -printf '%s\n' | awk '{s += $1} END {print s}')
# What else travels: tracked files and untracked ones git does not ignore.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null |
  awk '{s += $1} END {print s + 0}')
find .whl -type f -name '*.whl' -printf '%s %f\n' | sort -rn | awk '{printf "%8.2f MiB  %s\n", $1 / 1048576, $2}'
awk -v w="$wheels" -v t="$tree" -v l="$limit" 'BEGIN {
  printf "wheels %.2f MiB + working tree %.2f MiB = %.2f MiB of %.0f MiB\n", w / 1048576, t / 1048576, (w + t) / 1048576, l / 1048576
}'
if ((wheels + tree > limit)); then
  echo "over the 64 MiB a device call carries: bring fewer wheels" >&2
  exit 1
fi

#!/usr/bin/env bash
# Compares a benchmark under two settings of this checkout, in one sitting:
# `scripts/bench-env-ab.sh NAME "A=1 B=2" "A=3" [PAIRS]` runs
# `npm run bench -- NAME` alternately with each set of environment variables,
# PAIRS times (default 2), and writes each run's JSON result, with the
# settings it ran under, to bench/results/env-ab-NAME.jsonl.
# Alternating runs means drift in a shared machine's load hits both sides.
set -euo pipefail
name=${1:?usage: scripts/bench-env-ab.sh NAME "ENV_A" "ENV_B" [PAIRS]}
a=${2:?usage: scripts/bench-env-ab.sh NAME "ENV_A" "ENV_B" [PAIRS]}
b=${3:?usage: scripts/bench-env-ab.sh NAME "ENV_A" "ENV_B" [PAIRS]}
pairs=${4:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH="$here/node_modules/.bin:$PATH"
out="bench/results/env-ab-$name.jsonl"
: >"$out"
for i in $(seq 1 "$pairs"); do
  for settings in "$a" "$b"; do
    # shellcheck disable=SC2086 # the settings are words on purpose
    env $settings npm run --silent bench -- "$name" >/dev/null
    node -e 'const r=require(process.argv[1]);process.stdout.write(JSON.stringify({settings:process.argv[2],commit:process.argv[3],...r})+"\n")' "$here/bench/results/$name.json" "$settings" "$(git rev-parse --short HEAD)" | tee -a "$out"
  done
done
echo "wrote $out (bench/results/$name.json holds the last run)"

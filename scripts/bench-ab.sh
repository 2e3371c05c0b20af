#!/usr/bin/env bash
# Compares a benchmark's figures between an older commit and the working
# tree, on this machine, in one sitting: `scripts/bench-ab.sh REF NAME [PAIRS]`
# runs `npm run bench -- NAME` alternately in REF (a temporary worktree
# sharing this checkout's node_modules, so both run on the same Node.js) and
# here, PAIRS times (default 2), and prints each run's JSON result.
# Alternating runs means drift in a shared machine's load hits both sides.
set -euo pipefail
ref=${1:?usage: scripts/bench-ab.sh REF NAME [PAIRS]}
name=${2:?usage: scripts/bench-ab.sh REF NAME [PAIRS]}
pairs=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
wt=$(mktemp -d /tmp/custos-ab-XXXXXX)
trap 'git -C "$here" worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git -C "$here" worktree add --detach --force "$wt" "$ref" >/dev/null
ln -s "$here/node_modules" "$wt/node_modules"
out="$here/bench/results/ab-$name.jsonl"
: >"$out"
for i in $(seq 1 "$pairs"); do
  for side in ref head; do
    dir=$([ "$side" = ref ] && echo "$wt" || echo "$here")
    (cd "$dir" && npm run --silent bench -- "$name" >/dev/null)
    line=$(node -e 'const r=require(process.argv[1]);process.stdout.write(JSON.stringify({side:process.argv[2],commit:process.argv[3],...r}))' "$dir/bench/results/$name.json" "$side" "$(git -C "$dir" rev-parse --short HEAD)")
    echo "$line" | tee -a "$out"
  done
done
# Leave the committed figures of HEAD as the last HEAD run wrote them.
echo "wrote $out"

#!/usr/bin/env bash
# Compares a benchmark's figures between an older commit and the working
# tree, on this machine, in one sitting: `scripts/bench-ab.sh REF NAME [PAIRS]`
# runs `npm run bench -- NAME` alternately in REF (a temporary worktree with
# its own dependencies, as its lock file pins them) and here, PAIRS times
# (default 2), both on this checkout's Node.js, and prints each run's JSON
# result and the mean ratio of each side.
# Alternating runs means drift in a shared machine's load hits both sides.
# AB_BENCH_FILES="bench/a.ts bench/b.ts" copies those files from here into
# REF first, so both sides measure with the same benchmark code (for a bench
# changed since REF; the files must still run against REF's sources).
set -euo pipefail
ref=${1:?usage: scripts/bench-ab.sh REF NAME [PAIRS]}
name=${2:?usage: scripts/bench-ab.sh REF NAME [PAIRS]}
pairs=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
wt=$(mktemp -d /tmp/custos-ab-XXXXXX)
# Run as root, the embedded PostgreSQL is the `postgres` user, which must traverse the folder to reach its programs.
chmod o+x "$wt"
trap 'git -C "$here" worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git -C "$here" worktree add --detach --force "$wt" "$ref" >/dev/null
(cd "$wt" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
for f in ${AB_BENCH_FILES:-}; do cp "$here/$f" "$wt/$f"; done
# Both sides on the same Node.js: this checkout's (node_modules/.bin/node, Node.js 24).
export PATH="$here/node_modules/.bin:$PATH"
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
# The mean of each side's headline figure: `ratio` where the bench has one (http, tokens), else decisions/s (hospital).
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const ratio = rows.every((x) => typeof x.ratio === "number");
  const key = ratio ? "ratio" : "decisions_per_s";
  const show = (x) => (ratio ? (x * 100).toFixed(1) + " %" : Math.round(x) + "/s");
  for (const side of ["ref", "head"]) {
    const r = rows.filter((x) => x.side === side).map((x) => x[key]);
    console.log(`${side}: ${ratio ? "ratios" : "decisions"} ${r.map(show).join(", ")}; mean ${show(r.reduce((a, b) => a + b, 0) / r.length)}`);
  }' "$out"
echo "wrote $out (bench/results/$name.json holds the last run of HEAD)"

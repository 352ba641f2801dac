#!/usr/bin/env bash
# The cost curve of `make bench` (issue 17, point 4): the CA workload at N = 100, 1,000
# and 10,000 on the embedded dev server, and on the Temporal server on PostgreSQL with
# one and two certflow-worker processes. Each run writes out/curve/<temporal>-w<workers>-n<N>.json;
# the plot and the summary table come from those files (tools/benchplot).
# Usage: hack/bench-curve.sh [N...]   (default: 100 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-$PWD/bin}
out=${CURVE_OUT:-out/curve}
mkdir -p "$out"
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(100 1000 10000)
for n in "${ns[@]}"; do
  # 10,000 Certificates take minutes at 15-25 per second on 2 cores.
  timeout=$(( n / 5 + 600 ))s
  for setup in "dev 1" "postgres 1" "postgres 2"; do
    read -r temporal workers <<<"$setup"
    f="$out/$temporal-w$workers-n$n.json"
    echo ">> bench: $temporal, $workers worker(s), N=$n -> $f" >&2
    # A failed run stops the curve (its JSON says why, its figures are in ${f%.json}.log).
    if ! "$bin/certflow-bench" --bin-dir "$bin" --crds deploy/crds --mode throughput -n "$n" \
      --temporal "$temporal" --workers "$workers" --timeout "$timeout" --out "$f" ${BENCH_FLAGS:-} >"${f%.json}.log"; then
      echo "bench-curve: the run failed: $f, ${f%.json}.log" >&2
      exit 1
    fi
    grep '^bench: \(throughput\|CPU per cert\|kube-apiserver requests\)' "${f%.json}.log" >&2 || true
  done
done

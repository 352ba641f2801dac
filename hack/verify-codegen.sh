#!/usr/bin/env bash
# Fails when the generated files (deepcopy, CRDs, clientset, listers,
# informers) are not what hack/update-codegen.sh would produce from api/.
# Generates into a scratch copy of the inputs and diffs it with the tree.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$repo"
mkdir -p "$tmp/hack" "$tmp/deploy"
cp go.mod go.sum "$tmp/"
cp hack/boilerplate.go.txt "$tmp/hack/"
cp -R api "$tmp/api"
# Start from no generated code, as a fresh checkout of the inputs would.
find "$tmp/api" -name 'zz_generated.*.go' -delete

"$repo/hack/update-codegen.sh" "$tmp" 2>/dev/null

status=0
for p in api deploy/crds client; do
  if ! diff -r -x '*_test.go' -x testdata -x '*.md' "$tmp/$p" "$repo/$p" >"$tmp/diff.txt" 2>&1; then
    echo "generated files under $p/ are out of date; run 'make generate':" >&2
    head -n 50 "$tmp/diff.txt" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "generated files are up to date" >&2
exit $status

#!/usr/bin/env bash
# The whole test suite: build, type check, layering check, unit tests, integration tests.
# Integration tests start their own berthd on a temp data root and socket; they need root.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs
npx tsc --noEmit -p .
npx depcruise src --config .dependency-cruiser.cjs
mapfile -t files < <(find src test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"

#!/usr/bin/env bash
# Runs the soak scenarios RELIABILITY.md records, ROUNDS times each, one at a
# time (they share the machine), and prints each run's table row. Every
# run's full output is kept in OUT. Exits non-zero if any run broke the
# promise.
#
#   scripts/soak-all.sh                 # 3 rounds at 500 events/s
#   ROUNDS=1 RATE=200 scripts/soak-all.sh
#   ONLY="receiver-chaos" scripts/soak-all.sh
set -u
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-500}
OUT=${OUT:-soak-runs}
ONLY=${ONLY:-}
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/hookline" ./cmd/hookline && go build -o "$OUT/bin/soak" ./cmd/soak || exit 2
git rev-parse --short HEAD >"$OUT/commit" 2>/dev/null

# name | flags. Crash scenarios keep the issue's fault counts (100 worker
# kills per run); Redis restarts are scaled to the duration; receiver chaos
# runs its full 10 minutes, with 200 slots per worker: its attempts wait
# on timeouts and slow bodies (about 0.3 s each on average), and 50 slots
# per worker cap three workers near 500 attempts/s, below what it needs.
runs=(
	"worker-crash|-scenario worker-crash -duration 3m -kills 100"
	"api-crash|-scenario api-crash -duration 3m -kills 30"
	"redis-everysec|-scenario redis-everysec -duration 2m -kills 2"
	"redis-always|-scenario redis-always -duration 2m -kills 2"
	"receiver-chaos|-scenario receiver-chaos -duration 10m -concurrency 200"
	"sentinel-failover|-topology sentinel -scenario failover -duration 3m -kills 2"
	"cluster-worker-crash|-topology cluster -scenario worker-crash -duration 3m -kills 30"
	"burst|-scenario burst -events 5000"
)
failed=0
for round in $(seq 1 "$ROUNDS"); do
	for r in "${runs[@]}"; do
		name=${r%%|*}
		flags=${r#*|}
		if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then
			continue
		fi
		log="$OUT/$name-$round.txt"
		echo "== $(date -u +%H:%M:%S) $name, round $round: $log"
		# shellcheck disable=SC2086
		if ! "$OUT/bin/soak" $flags -rate "$RATE" -bin "$(cd "$OUT/bin" && pwd)/hookline" >"$log" 2>&1; then
			failed=1
			echo "   FAIL (see $log)"
		fi
		grep '^row:' "$log" | sed 's/^row: //'
	done
done
exit $failed

#!/usr/bin/env bash
# Brings up a local Redis topology for trying Hookline on Redis's distributed
# modes, from the redis-server binary (no Docker), under .data/topology.
#
#   scripts/redis-topology.sh sentinel   master :7000, replica :7001, sentinels :26379-26381
#   scripts/redis-topology.sh cluster    three masters :7100-7102
#   scripts/redis-topology.sh stop       stops what this script started
#
# It prints the HOOKLINE_REDIS_URL to use. The tests start their own copies
# on free ports (internal/redistest: StartSentinel, StartCluster).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=.data/topology
mkdir -p "$dir"

node() { # port dir-name extra-args…
  local port=$1 name=$2; shift 2
  mkdir -p "$dir/$name"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/$dir/$name" --appendonly yes \
    --maxmemory-policy noeviction --daemonize yes --pidfile "$PWD/$dir/$name.pid" \
    --logfile "$PWD/$dir/$name/redis.log" "$@"
}

case "${1:-}" in
sentinel)
  node 7000 master
  node 7001 replica --replicaof 127.0.0.1 7000
  for p in 26379 26380 26381; do
    mkdir -p "$dir/s$p"
    cat >"$dir/s$p/sentinel.conf" <<CONF
port $p
bind 127.0.0.1
dir $PWD/$dir/s$p
daemonize yes
pidfile $PWD/$dir/s$p.pid
logfile $PWD/$dir/s$p/sentinel.log
sentinel monitor hookline 127.0.0.1 7000 2
sentinel down-after-milliseconds hookline 1000
sentinel failover-timeout hookline 5000
CONF
    redis-server "$dir/s$p/sentinel.conf" --sentinel
  done
  echo "HOOKLINE_REDIS_URL='redis+sentinel://127.0.0.1:26379/0?master_name=hookline&addr=127.0.0.1:26380&addr=127.0.0.1:26381'"
  echo "failover: redis-cli -p 26379 sentinel failover hookline   (or kill the master: kill -9 \$(cat $dir/master.pid))"
  ;;
cluster)
  for i in 0 1 2; do
    node $((7100 + i)) "c$i" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000
  done
  sleep 0.5
  redis-cli --cluster create 127.0.0.1:7100 127.0.0.1:7101 127.0.0.1:7102 --cluster-yes >/dev/null
  echo "HOOKLINE_REDIS_URL='redis+cluster://127.0.0.1:7100?addr=127.0.0.1:7101&addr=127.0.0.1:7102'"
  echo "with HOOKLINE_QUEUE_SHARDS=3 the delivery queues spread over the three masters (RELIABILITY.md)"
  ;;
stop)
  shopt -s nullglob
  for f in "$dir"/*.pid; do
    pid=$(cat "$f")
    if grep -qs redis "/proc/$pid/comm"; then kill "$pid" && echo "stopped $(basename "$f" .pid) (pid $pid)"; fi
    rm -f "$f"
  done
  ;;
*)
  sed -n '2,10p' "$0"; exit 2 ;;
esac

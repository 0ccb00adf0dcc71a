#!/usr/bin/env bash
# Failover demo: three servers and three agents on loopback. A parallel Job
# runs; the agent running its pods is killed (kill -9) and its pods run
# again elsewhere; then the leader is killed and the Job finishes anyway.
#
#   make build && examples/failover-demo.sh
#
# Everything it starts is stopped, and its data removed, when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/jobcluster}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
DIR=$(mktemp -d /tmp/jobcluster-demo-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

export JOBCLUSTER_ADDR=127.0.0.1:7500,127.0.0.1:7510,127.0.0.1:7520
JOIN=127.0.0.1:7502,127.0.0.1:7512,127.0.0.1:7522
declare -A PID
for i in 0 1 2; do
  n=s$((i+1)); p=$((7500 + i*10))
  "$BIN" server --name "$n" --data-dir "$DIR/$n" --rpc-addr 127.0.0.1:$p --raft-addr 127.0.0.1:$((p+1)) \
    --gossip-addr 127.0.0.1:$((p+2)) --bootstrap-expect 3 --join "$JOIN" --log-level warn 2>>"$DIR/$n.log" &
  PIDS+=($!); PID[$n]=$!; disown
done
for i in 0 1 2; do
  n=a$((i+1)); p=$((7600 + i*10))
  "$BIN" agent --name "$n" --data-dir "$DIR/$n" --gossip-addr 127.0.0.1:$p --rpc-addr 127.0.0.1:$((p+1)) \
    --join "$JOIN" --log-level warn 2>>"$DIR/$n.log" &
  PIDS+=($!); PID[$n]=$!; disown
done

until [ "$("$BIN" get nodes 2>/dev/null | grep -c ' Ready')" = 3 ]; do sleep 0.2; done
echo "== cluster up"
"$BIN" members
echo

cat <<'YAML' | "$BIN" submit -
apiVersion: batch/v1
kind: Job
metadata:
  name: failover-demo
spec:
  completions: 6
  parallelism: 6
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo working on $JOBCLUSTER_NODE_NAME; sleep 8; echo done"]
YAML
until [ "$("$BIN" get pods 2>/dev/null | grep -c Running)" = 6 ]; do sleep 0.1; done
echo; echo "== pods running"
"$BIN" get pods -o wide

victim=$("$BIN" get pods -o wide | awk 'NR>1 && $3=="Running" {print $7}' | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
echo; echo "== kill -9 agent $victim"
start=$(date +%s.%N)
kill -9 "${PID[$victim]}"
until [ "$("$BIN" get pods -o wide 2>/dev/null | awk -v v="$victim" 'NR>1 && $3=="Running" && $7!=v' | wc -l)" = 6 ]; do sleep 0.05; done
end=$(date +%s.%N)
printf '\n== every lost pod runs again elsewhere after %.1f s\n' "$(echo "$end - $start" | bc)"
"$BIN" get pods -o wide

leader=$("$BIN" members | awk '$6=="true" {print $1}')
echo; echo "== kill -9 leader $leader"
kill -9 "${PID[$leader]}"
"$BIN" get jobs failover-demo
echo; echo "== waiting for the Job to finish"
until "$BIN" get jobs failover-demo 2>/dev/null | grep -qE 'Complete|Failed'; do sleep 0.2; done
"$BIN" get jobs failover-demo
"$BIN" describe job failover-demo | sed -n '/Pods Statuses/p'
"$BIN" members

#!/usr/bin/env bash
# The containerised failover demo: 3 servers and 3 agents, each in its own
# container with its own address on a private network, mutual TLS and a
# gossip key. It runs a parallel Job and a CronJob, then in turn kills an
# agent, cuts one off the network, kills the leader, freezes an agent and
# restarts every server one by one, printing what happened. It removes
# everything it made (containers, network, certificates) when it ends.
#
# Run it with `make demo` (which builds bin/jobcluster and the image), or
# after both: examples/cluster/demo.sh
set -euo pipefail

cd "$(dirname "$0")"
BIN=$(realpath "${BIN:-../../bin/jobcluster}")
PROJECT=${PROJECT:-jcdemo}
export JOBCLUSTER_IMAGE=${JOBCLUSTER_IMAGE:-jobcluster-cluster:latest}
# The newer build the servers are upgraded to, one by one; without it they
# are restarted on the same image.
NEXT_IMAGE=${JOBCLUSTER_NEXT_IMAGE:-}
COMPOSE=(docker-compose -p "$PROJECT" -f docker-compose.yml)
SERVERS=172.28.0.11:7400,172.28.0.12:7400,172.28.0.13:7400

cleanup() {
	"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
	rm -rf tls
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
jc() {
	"$BIN" --addr "$SERVERS" --timeout 20s --ca-file tls/jobcluster-ca.pem \
		--cert-file tls/client-demo.pem --key-file tls/client-demo-key.pem "$@"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# until_ok DESCRIPTION SECONDS COMMAND...: retry COMMAND until it succeeds.
until_ok() {
	local what=$1 limit=$2
	shift 2
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS > end)); then
			echo "timed out after ${limit}s waiting for: $what" >&2
			return 1
		fi
		sleep 0.2
	done
}
ready_nodes() { jc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l; }
node_is() { jc get node "$1" --no-headers | awk -v want="$2" '$2 == want { found = 1 } END { exit !found }'; }
have_ready() { [ "$(ready_nodes)" -ge "$1" ]; }
# version_of NODE: the version a member advertises.
version_of() { jc members -o json | tr -d ' \n' | grep -o "\"name\":\"$1\"[^}]*" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'; }
version_differs() { local v; v=$(version_of "$1"); [ -n "$v" ] && [ "$v" != "$2" ]; }
leader() { jc members 2>/dev/null | awk 'NR > 1 && $6 == "true" { print $1 }'; }
new_leader() { l=$(leader); [ -n "$l" ] && [ "$l" != "$1" ]; }
# running_on NODE: the Job's running pods on NODE.
running_on() { jc get pods -l job-name=work --no-headers -o wide | awk -v n="$1" '$3 == "Running" && $7 == n { print $1 }'; }
all_pods() { jc get pods -l job-name=work --no-headers | awk '{ print $1 }'; }
# no_overlap LOST BEFORE: the last line the lost pods printed (the
# containers share one kernel, so /proc/uptime is one clock) comes before
# the first line of every pod created since (not in BEFORE).
logs_of() { # pod, [logs flags...]: its log, retried while a server cannot reach it yet
	local i
	for i in $(seq 20); do
		jc logs "$@" 2>/dev/null && return 0
		sleep 0.5
	done
	echo "logs of $1: no server could read it for 10 s" >&2
	return 1
}
no_overlap() { # lost pods, pods before, [uptime when a frozen machine thawed]
	local last=0 first=999999999 thawed=0 thaw=${3:-} printed="" p v w
	for p in $1; do
		if [ -n "$thaw" ]; then
			# A machine frozen as a whole freezes its pods too; at the
			# thaw they may print until the guard's overdue timer fires.
			# That counts from their first line after the thaw, not
			# from before docker unpause, which a loaded machine may
			# take a while to carry out.
			v=$(logs_of "$p" | awk -v t="$thaw" '$1 < t' | tail -1)
			w=$(logs_of "$p" | awk -v t="$thaw" '$1 >= t { if (f == "") f = $1; l = $1 } END { if (f != "") print l - f }')
			[ -n "$w" ] && printed=1 && thawed=$(awk -v a="$thawed" -v d="$w" 'BEGIN { print (d > a) ? d : a }')
		else
			v=$(logs_of "$p" --tail 1 | tail -1)
		fi
		[ -n "$v" ] && last=$(awk -v a="$last" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
	done
	for p in $(all_pods); do
		grep -qx "$p" <<<"$2" && continue
		v=$(logs_of "$p" | awk 'NR == 1')
		[ -n "$v" ] && first=$(awk -v a="$first" -v b="$v" 'BEGIN { print (b < a) ? b : a }')
	done
	if ! awk -v l="$last" -v f="$first" 'BEGIN { exit !(l < f) }'; then
		echo "OVERLAP: a lost pod printed at uptime ${last}s, after a replacement started at ${first}s" >&2
		return 1
	fi
	if [ -n "$thaw" ]; then
		echo "no overlap: the lost pods' last line while frozen at uptime ${last}s, their replacements' first at ${first}s"
		if ! awk -v d="$thawed" 'BEGIN { exit !(d <= 0.25) }'; then
			echo "OVERLAP: the thawed pods printed for ${thawed}s after the thaw, more than 0.25s" >&2
			return 1
		fi
		if [ -n "$printed" ]; then
			echo "at the thaw they printed for ${thawed}s more, until the guard killed them"
		else
			echo "at the thaw the guard killed them before they printed again"
		fi
	else
		echo "no overlap: the lost pods' last line at uptime ${last}s, their replacements' first at ${first}s"
	fi
}
replaced() { # every pod of the list is no longer running, and 6 run elsewhere
	local running
	running=$(jc get pods -l job-name=work --no-headers -o wide | awk '$3 == "Running" { print $1 }')
	for p in $1; do grep -qx "$p" <<<"$running" && return 1; done
	[ "$(wc -l <<<"$running")" -ge "$2" ]
}

say "certificates, gossip key and image"
mkdir -p tls
(
	cd tls
	"$BIN" tls ca create >/dev/null
	for i in 1 2 3; do
		"$BIN" tls cert create --server --name "s$i" --additional-ipaddress "172.28.0.1$i" >/dev/null
		"$BIN" tls cert create --agent --name "a$i" >/dev/null
	done
	"$BIN" tls cert create --client --name demo >/dev/null
	"$BIN" keygen >gossip.key
	chmod 0644 ./*
)
docker image inspect "$JOBCLUSTER_IMAGE" >/dev/null || { echo "no image $JOBCLUSTER_IMAGE: run make cluster-image first" >&2; exit 1; }

say "starting 3 servers and 3 agents"
start=$(now)
"${COMPOSE[@]}" up -d >/dev/null 2>&1
until_ok "3 Ready nodes" 60 have_ready 3
echo "3 agents Ready $(since "$start")s after docker-compose up"
jc get nodes -o wide

say "a parallel Job (6 pods at once, 60 s each, printing the machine's uptime every 0.1 s) and a CronJob every 10 s"
jc submit - <<'EOF'
apiVersion: batch/v1
kind: Job
metadata:
  name: work
spec:
  completions: 6
  parallelism: 6
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'i=0; while [ $i -lt 600 ]; do read up rest </proc/uptime; echo $up; sleep 0.1; i=$((i+1)); done']
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "*/10 * * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'date']
EOF
until_ok "6 pods running" 30 sh -c "[ \$($BIN --addr $SERVERS --ca-file tls/jobcluster-ca.pem --cert-file tls/client-demo.pem --key-file tls/client-demo-key.pem get pods -l job-name=work --no-headers | grep -c Running) -ge 6 ]"
jc get pods -l job-name=work -o wide

victim=a1
lost=$(running_on $victim)
before=$(all_pods)
say "docker kill the agent $victim (running: $(echo $lost))"
start=$(now)
docker kill "${PROJECT}_${victim}_1" >/dev/null
until_ok "its pods to run elsewhere" 60 replaced "$lost" 6
echo "its pods run elsewhere $(since "$start")s after docker kill"
docker start "${PROJECT}_${victim}_1" >/dev/null
until_ok "$victim Ready again" 60 node_is $victim Ready
echo "$victim is back and Ready"
no_overlap "$lost" "$before"

victim=a2
lost=$(running_on $victim)
before=$(all_pods)
say "docker network disconnect the agent $victim (running: $(echo $lost))"
start=$(now)
docker network disconnect "${PROJECT}_jobcluster" "${PROJECT}_${victim}_1"
until_ok "its pods to run elsewhere" 60 replaced "$lost" 6
echo "its pods run elsewhere $(since "$start")s after the disconnect (its own stopped when its lease ran out)"
docker network connect --ip 172.28.0.22 "${PROJECT}_jobcluster" "${PROJECT}_${victim}_1"
until_ok "$victim Ready again" 60 node_is $victim Ready
echo "$victim reconnected and Ready"
no_overlap "$lost" "$before"

old=$(leader)
say "docker kill the leader $old"
start=$(now)
docker kill "${PROJECT}_${old}_1" >/dev/null
until_ok "a new leader" 30 new_leader "$old"
echo "$(leader) leads $(since "$start")s after docker kill"
docker start "${PROJECT}_${old}_1" >/dev/null

victim=a3
lost=$(running_on $victim)
before=$(all_pods)
say "docker pause the agent $victim (running: $(echo $lost))"
start=$(now)
docker pause "${PROJECT}_${victim}_1" >/dev/null
until_ok "its pods to run elsewhere" 60 replaced "$lost" 6
echo "its pods run elsewhere $(since "$start")s after docker pause"
read -r thaw _ </proc/uptime
docker unpause "${PROJECT}_${victim}_1" >/dev/null
until_ok "$victim Ready again" 60 node_is $victim Ready
echo "$victim thawed and Ready"
no_overlap "$lost" "$before" "$thaw"

if [ -n "$NEXT_IMAGE" ]; then
	docker image inspect "$NEXT_IMAGE" >/dev/null
	say "rolling upgrade of every server to $NEXT_IMAGE"
	for s in s1 s2 s3; do
		start=$(now)
		from=$(version_of "$s")
		JOBCLUSTER_IMAGE=$NEXT_IMAGE "${COMPOSE[@]}" up -d --no-deps "$s" >/dev/null 2>&1
		until_ok "$s to be back in the cluster" 60 sh -c "$BIN --addr 172.28.0.1${s#s}:7400 --timeout 3s --ca-file tls/jobcluster-ca.pem --cert-file tls/client-demo.pem --key-file tls/client-demo-key.pem get jobs"
		until_ok "$s to advertise its new version" 30 version_differs "$s" "$from"
		echo "$s upgraded from $from to $(version_of "$s") and serving after $(since "$start")s; leader $(leader)"
	done
else
	say "rolling restart of every server"
	for s in s1 s2 s3; do
		start=$(now)
		"${COMPOSE[@]}" restart "$s" >/dev/null 2>&1
		until_ok "$s to be back in the cluster" 60 sh -c "$BIN --addr 172.28.0.1${s#s}:7400 --timeout 3s --ca-file tls/jobcluster-ca.pem --cert-file tls/client-demo.pem --key-file tls/client-demo-key.pem get jobs"
		echo "$s restarted and serving after $(since "$start")s; leader $(leader)"
	done
fi

say "the Job's end"
until_ok "work to complete" 180 sh -c "[ \"\$($BIN --addr $SERVERS --ca-file tls/jobcluster-ca.pem --cert-file tls/client-demo.pem --key-file tls/client-demo-key.pem get job work -o jsonpath={.status.succeeded})\" = 6 ]"
jc get job work
jc get pods -l job-name=work -o wide
jc cronjob history tick --limit 8
echo
echo "done: every container, the network and the certificates are removed on exit"

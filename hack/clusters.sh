#!/usr/bin/env bash
# Real Kubernetes clusters on loopback, for meshperf's tests and for trying the cluster
# side by hand: kube-apiserver, kube-controller-manager and kube-scheduler v1.36.3 built
# from their Go modules (hack/k8sbins, cached), Debian's etcd (one, shared, a key prefix
# per cluster) and kwok fake nodes, so Deployments get Pods that become Running.
#
#   hack/clusters.sh up N              start clusters c1..cN (those already up are kept)
#   hack/clusters.sh down              stop them all and remove their state
#   hack/clusters.sh status            which are up
#   hack/clusters.sh stop-apiserver I  stop cluster cI's API server (tests of lost clusters)
#   hack/clusters.sh start-apiserver I start it again, with the same flags and data
#   hack/clusters.sh kubeconfig        print the path of the merged kubeconfig (contexts c1..cN)
#   hack/clusters.sh start-up N LOG   `up N` in the background at low priority, output in LOG
#   hack/clusters.sh wait-up LOG      wait for it, saying every 30 s what it is doing
#
# make test uses start-up/wait-up so that the first, slow build of the control plane
# (10-15 minutes on 2 cores) overlaps the tests of the packages that need no cluster.
#
# State lives in $MESHPERF_CLUSTERS_DIR (default /tmp/meshperf-clusters). Every process
# is stopped by its recorded PID. Cluster I's API server listens on 127.0.0.1:$((17440+I)).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state="${MESHPERF_CLUSTERS_DIR:-/tmp/meshperf-clusters}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/meshperf"
kwok_version=v0.8.0
etcd_port=17379
node_name=kwok-node-1

log() { echo "clusters: $*" >&2; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
	local f=$1
	if alive "$f"; then
		local pid
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

ensure_tools() {
	bins=$("$here/k8sbins/build.sh")
	if ! command -v etcd >/dev/null; then
		log "installing etcd from Debian"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
	fi
	kwok="$cache/kwok-$kwok_version/kwok"
	stages="$cache/kwok-$kwok_version/stages.yaml"
	if [[ ! -x "$kwok" || ! -s "$stages" ]]; then
		log "installing kwok $kwok_version (go install; a cold build took ~3 min on 2 cores)"
		mkdir -p "$(dirname "$kwok")"
		(cd /tmp && GOBIN="$(dirname "$kwok")" GOFLAGS= go install "sigs.k8s.io/kwok/cmd/kwok@$kwok_version")
		local src
		src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$kwok_version/kustomize/stage"
		: >"$stages.tmp"
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
			cat "$src/$f" >>"$stages.tmp"
			printf '\n---\n' >>"$stages.tmp"
		done
		mv "$stages.tmp" "$stages"
	fi
}

start_etcd() {
	if alive "$state/etcd.pid"; then return; fi
	mkdir -p "$state/etcd"
	etcd --name meshperf-test --data-dir "$state/etcd/data" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
		--initial-cluster "meshperf-test=http://127.0.0.1:$((etcd_port + 1))" \
		--quota-backend-bytes 2147483648 >"$state/etcd/log" 2>&1 </dev/null &
	echo $! >"$state/etcd.pid"
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && return
		sleep 0.1
	done
	log "etcd did not start; see $state/etcd/log"
	exit 1
}

# certs I: a CA, the API server's serving certificate, an admin client certificate and
# the service-account key pair, with openssl.
certs() {
	local d="$state/c$1/pki"
	[[ -s "$d/admin.crt" ]] && return
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 365 -subj "/CN=meshperf-test-c$1-ca" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\n' >san.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 365 -extfile san.ext 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin-c$1" 2>/dev/null
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 365 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		rm -f ./*.csr san.ext
	)
}

kubeconfig_for() {
	local i=$1 d="$state/c$1/pki"
	cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c$i
  cluster:
    server: https://127.0.0.1:$((17440 + i))
    certificate-authority-data: $(base64 -w0 "$d/ca.crt")
users:
- name: admin-c$i
  user:
    client-certificate-data: $(base64 -w0 "$d/admin.crt")
    client-key-data: $(base64 -w0 "$d/admin.key")
contexts:
- name: c$i
  context:
    cluster: c$i
    user: admin-c$i
current-context: c$i
EOF
}

api() { # api I METHOD PATH [BODY-FILE]: a call to cluster I's API server as its admin
	local i=$1 d="$state/c$1/pki"
	local args=(-fsS --cacert "$d/ca.crt" --cert "$d/admin.crt" --key "$d/admin.key" -X "$2" "https://127.0.0.1:$((17440 + i))$3")
	if [[ $# -ge 4 ]]; then args+=(-H 'Content-Type: application/yaml' --data-binary "@$4"); fi
	curl "${args[@]}"
}

start_apiserver() {
	local i=$1 c="$state/c$1"
	alive "$c/apiserver.pid" && return
	# --watch-cache=false: clients of 1.36 ask for watch-list streams, which the watch
	# cache serves only with etcd progress notifications, which Debian's etcd 3.4
	# lacks; kwok's watches then kept failing and pods took up to a minute to start.
	"$bins/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$etcd_port" --etcd-prefix "/meshperf-c$i" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port $((17440 + i)) \
		--tls-cert-file "$c/pki/apiserver.crt" --tls-private-key-file "$c/pki/apiserver.key" \
		--client-ca-file "$c/pki/ca.crt" \
		--service-account-key-file "$c/pki/sa.pub" --service-account-signing-key-file "$c/pki/sa.key" \
		--service-account-issuer "https://kubernetes.default.svc.c$i" \
		--service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC \
		--endpoint-reconciler-type none --allow-privileged --watch-cache=false \
		>>"$c/apiserver.log" 2>&1 </dev/null &
	echo $! >"$c/apiserver.pid"
	for _ in $(seq 300); do
		api "$i" GET /readyz >/dev/null 2>&1 && return
		alive "$c/apiserver.pid" || break
		sleep 0.1
	done
	log "c$i: kube-apiserver did not become ready; see $c/apiserver.log"
	exit 1
}

start_cluster() {
	local i=$1 c="$state/c$1"
	mkdir -p "$c"
	certs "$i"
	kubeconfig_for "$i" >"$c/kubeconfig"
	start_apiserver "$i"
	if ! alive "$c/kcm.pid"; then
		"$bins/kube-controller-manager" --kubeconfig "$c/kubeconfig" --leader-elect=false \
			--controllers '*' \
			--use-service-account-credentials=true --bind-address 127.0.0.1 --secure-port $((17540 + i)) \
			--cluster-signing-cert-file "$c/pki/ca.crt" --cluster-signing-key-file "$c/pki/ca.key" \
			--root-ca-file "$c/pki/ca.crt" --service-account-private-key-file "$c/pki/sa.key" \
			>>"$c/kcm.log" 2>&1 </dev/null &
		echo $! >"$c/kcm.pid"
	fi
	if ! alive "$c/scheduler.pid"; then
		"$bins/kube-scheduler" --kubeconfig "$c/kubeconfig" --leader-elect=false \
			--bind-address 127.0.0.1 --secure-port $((17640 + i)) >>"$c/scheduler.log" 2>&1 </dev/null &
		echo $! >"$c/scheduler.pid"
	fi
	if ! alive "$c/kwok.pid"; then
		"$kwok" --kubeconfig "$c/kubeconfig" -c "$stages" --manage-all-nodes=false \
			--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
			--node-lease-duration-seconds 40 >>"$c/kwok.log" 2>&1 </dev/null &
		echo $! >"$c/kwok.pid"
	fi
	if ! api "$i" GET "/api/v1/nodes/$node_name" >/dev/null 2>&1; then
		cat >"$c/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/hostname: $node_name
    node.kubernetes.io/instance-type: kwok.c$i
spec:
  taints: []
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
EOF
		api "$i" POST /api/v1/nodes "$c/node.yaml" >/dev/null
	fi
	for _ in $(seq 300); do
		# Ready, and the node lifecycle controller has lifted the not-ready taint.
		local node
		node=$(api "$i" GET "/api/v1/nodes/$node_name" 2>/dev/null | tr -d ' \n') || true
		if grep -q '"type":"Ready","status":"True"' <<<"$node" && ! grep -q 'node.kubernetes.io/not-ready' <<<"$node"; then
			# The default service account appears once the controller manager runs.
			if api "$i" GET /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; then
				log "c$i ready at https://127.0.0.1:$((17440 + i))"
				return
			fi
		fi
		sleep 0.2
	done
	log "c$i: the kwok node did not become Ready; see $c/*.log"
	exit 1
}

merge_kubeconfigs() {
	local n=$1 out="$state/kubeconfig"
	{
		echo "apiVersion: v1"
		echo "kind: Config"
		echo "clusters:"
		for i in $(seq "$n"); do kubeconfig_for "$i" | sed -n '/^clusters:/,/^users:/p' | sed '1d;$d'; done
		echo "users:"
		for i in $(seq "$n"); do kubeconfig_for "$i" | sed -n '/^users:/,/^contexts:/p' | sed '1d;$d'; done
		echo "contexts:"
		for i in $(seq "$n"); do kubeconfig_for "$i" | sed -n '/^contexts:/,/^current-context:/p' | sed '1d;$d'; done
		echo "current-context: c1"
	} >"$out.tmp"
	mv "$out.tmp" "$out"
	echo "$n" >"$state/count"
}

cmd=${1:-}
case "$cmd" in
up)
	n=${2:-3}
	[[ "$n" =~ ^[1-9][0-9]?$ ]] || { log "up N: N is a number of clusters (1-99)"; exit 2; }
	mkdir -p "$state"
	ensure_tools
	start_etcd
	pids=()
	for i in $(seq "$n"); do
		start_cluster "$i" &
		pids+=($!)
	done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[[ $rc == 0 ]] || { log "some clusters did not start"; exit 1; }
	have=$(cat "$state/count" 2>/dev/null || echo 0)
	merge_kubeconfigs $((n > have ? n : have))
	log "kubeconfig: $state/kubeconfig (contexts c1..c$((n > have ? n : have)))"
	;;
down)
	# Every component at once (each may take seconds to shut down), etcd last.
	for c in "$state"/c*/; do
		[[ -d "$c" ]] || continue
		for p in kwok scheduler kcm apiserver; do stop_pid "$c/$p.pid" & done
	done
	wait
	stop_pid "$state/etcd.pid"
	rm -rf "$state"
	log "stopped"
	;;
status)
	for c in "$state"/c*/; do
		[[ -d "$c" ]] || continue
		line="$(basename "$c"):"
		for p in apiserver kcm scheduler kwok; do
			if alive "$c/$p.pid"; then line+=" $p=up"; else line+=" $p=down"; fi
		done
		echo "$line"
	done
	;;
stop-apiserver)
	stop_pid "$state/c${2:?cluster number}/apiserver.pid"
	;;
start-apiserver)
	bins=$("$here/k8sbins/build.sh")
	start_apiserver "${2:?cluster number}"
	;;
kubeconfig)
	echo "$state/kubeconfig"
	;;
start-up)
	n=${2:?number of clusters}
	logf=${3:?log file}
	mkdir -p "$(dirname "$logf")"
	if alive "$logf.pid"; then
		# an earlier make test's bring-up is still going: two would build the same binaries
		log "clusters are already being brought up (pid $(cat "$logf.pid"), log: $logf)"
		exit 0
	fi
	rm -f "$logf.rc"
	log "bringing up $n clusters in the background (log: $logf); the first time this builds the control plane, 10-15 minutes"
	# The exit status goes to LOG.rc for wait-up; nice keeps the tests that run meanwhile
	# ahead of the compiler on a small machine.
	(
		rc=0
		nice -n 10 "$0" up "$n" || rc=$?
		echo "$rc" >"$logf.rc"
	) >"$logf" 2>&1 </dev/null &
	echo $! >"$logf.pid"
	;;
wait-up)
	logf=${2:?log file}
	start=$SECONDS
	next=$SECONDS
	while [[ ! -s "$logf.rc" ]]; do
		if [[ ! -f "$logf" ]]; then log "nothing to wait for: run start-up first"; exit 2; fi
		if ((SECONDS >= next)); then
			log "waiting for the clusters ($((SECONDS - start))s so far): $(tail -n 1 "$logf" 2>/dev/null)"
			next=$((SECONDS + 30))
		fi
		sleep 2
	done
	rc=$(cat "$logf.rc")
	if [[ $rc != 0 ]]; then
		log "bringing the clusters up failed (exit $rc):"
		cat "$logf" >&2
		exit "$rc"
	fi
	log "clusters up after $((SECONDS - start))s of waiting"
	;;
*)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac

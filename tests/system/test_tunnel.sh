#!/usr/bin/env bash
# test_tunnel.sh - the installed package carries traffic (issue 7): the .deb
# runs under systemd in a container that sits in one NAT-lab host, a second
# hypernatd runs in another lab host, a DHT bootstrap node on a public lab
# host; the container exports a UDP and a TCP echo with hypernatctl, the
# peer imports them, and datagrams and a byte stream go through and back
# intact.  Root only; everything it starts it stops by pid, the lab and the
# container are gone on every exit.
set -u
cd "$(dirname "$0")" || exit 2
TOP=$(cd ../.. && pwd)
. ./container.sh
export NATLAB_PREFIX=hnst$$ NATLAB_STATE=/tmp/natlab-hnst$$
. ../natlab/natlab.sh
PY=/usr/bin/python3
TRAFFIC=$TOP/tests/demo/traffic.py
T=$(mktemp -d /tmp/hn-systun.XXXXXX)
PIDS=()
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() {
	echo "systun: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
cleanup() {
	local p
	sysc_shutdown
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	natlab_down
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the package: the one `make deb` left, else build it
DEB=${HN_DEB:-$(ls "$TOP"/build/deb/hypernat_*_*.deb 2>/dev/null | head -n 1)}
if [ -z "$DEB" ]; then
	make -s -C "$TOP" deb > "$T/deb.log" 2>&1 || { bad build "$(tail -5 "$T/deb.log")"; finish; }
	DEB=$(ls "$TOP"/build/deb/hypernat_*_*.deb | head -n 1)
fi
make -s -C "$TOP" build/hypernatd build/hypernatctl >/dev/null 2>&1 || { bad build hypernatd; finish; }
sysc_rootfs || { bad boot "no rootfs"; finish; }

# a1: the container (public address, so the test is about the package, not
# about punching); b1: the peer; pub1: the DHT
natlab_up a=none b=none >/dev/null || { bad lab "natlab up"; finish; }
mkdir -p "$T/dht" "$T/peer"
cat > "$T/dht/hypernat.conf" <<EOF
dht:
  bootstrap: []
  host: 198.51.100.11
  port: 49737
  mode: persistent
daemon:
  control_group: ""
EOF
natlab_exec pub1 "$TOP/build/hypernatd" -c "$T/dht/hypernat.conf" -s "$T/dht/sock" \
	-S "$T/dht/state" > "$T/dht/log" 2>&1 &
PIDS+=($!)
cat > "$T/peer/hypernat.conf" <<EOF
dht:
  bootstrap: [198.51.100.11:49737]
  port: 0
daemon:
  control_group: ""
EOF
natlab_exec b1 "$TOP/build/hypernatd" -c "$T/peer/hypernat.conf" -s "$T/peer/sock" \
	-S "$T/peer/state" > "$T/peer/log" 2>&1 &
PIDS+=($!)

if ! sysc_boot "hnst$$" "$NATLAB_PREFIX-a1"; then
	bad boot "is-system-running: $SYSC_STATE"
	finish
fi
cp "$DEB" "$SYSC_ROOT/root/"
# the package's conffile, pointed at the lab's DHT before the first start
mkdir -p "$SYSC_ROOT/etc/hypernat"
cat > "$SYSC_ROOT/etc/hypernat/hypernat.conf" <<EOF
dht:
  bootstrap: [198.51.100.11:49737]
  port: 49737
EOF
if out=$(sysc_exec env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold \
	"/root/$(basename "$DEB")" 2>&1) && sysc_exec systemctl is-active -q hypernatd; then
	ok "installed and active"
else
	bad install "$out"
	finish
fi
cp "$TRAFFIC" "$SYSC_ROOT/root/traffic.py"
sysc_exec systemd-run -q --unit hn-echo python3 /root/traffic.py echo --udp 7913 --tcp 7915 ||
	bad echo "systemd-run"

bootstrapped() { # bootstrapped CTL-ARGS...
	"$@" -j status 2>/dev/null | $PY -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["status"]["dht_node"]["bootstrapped"] else 1)'
}
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
PEER=("$TOP/build/hypernatctl" -s "$T/peer/sock")
wait_for 30 bootstrapped sysc_exec hypernatctl || bad bootstrap "container daemon"
wait_for 30 bootstrapped "${PEER[@]}" || bad bootstrap "peer daemon"

# export in the container, as a user would
if sysc_exec hypernatctl add udp 7913 >/dev/null && sysc_exec hypernatctl add tcp 7915 >/dev/null; then
	ok "export udp/7913 and tcp/7915 in the container"
else
	bad export "hypernatctl add"
fi
KEY=$(sysc_exec hypernatctl -j key | $PY -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"${PEER[@]}" add udp 7913 peer "$KEY" listen 127.0.0.1:17913 >/dev/null &&
	"${PEER[@]}" add tcp 7915 peer "$KEY" listen 127.0.0.1:17915 >/dev/null ||
	bad import "hypernatctl add on the peer"

if wait_for 30 natlab_exec b1 "$PY" "$TRAFFIC" udp --port 17913 --count 1; then
	res=$(natlab_exec b1 "$PY" "$TRAFFIC" udp --port 17913 --count 20)
	case $res in
	*'"received": 20'*|*'"received": 19'*|*'"received": 18'*) ok "udp through the tunnel ($res)" ;;
	*) bad udp "$res" ;;
	esac
else
	bad udp "no echo within 30 s: $(sysc_exec journalctl --no-pager -u hypernatd -n 20 -o cat)"
fi
res=$(natlab_exec b1 "$PY" "$TRAFFIC" tcp --port 17915 --bytes $((4 << 20)))
case $res in
*'"sha256_ok": true'*) ok "tcp through the tunnel ($res)" ;;
*) bad tcp "$res" ;;
esac
# the journal shows the connection at the daemon's usual priorities
if sysc_exec journalctl --no-pager -u hypernatd -o cat | grep -q "connection"; then
	ok "journal shows the peer connection"
else
	bad journal "$(sysc_exec journalctl --no-pager -u hypernatd -n 20 -o cat)"
fi
finish

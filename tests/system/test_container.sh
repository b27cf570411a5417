#!/usr/bin/env bash
# test_container.sh - the system tier's container boots a real systemd that
# honours Type=notify and journald priorities, also inside a NAT-lab
# namespace.  The package tests (the shipping issue) stand on this.
set -u
cd "$(dirname "$0")" || exit 2
. ./container.sh
export NATLAB_PREFIX=hns$$ NATLAB_STATE=/tmp/natlab-hns$$
. ../natlab/natlab.sh
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
trap 'sysc_shutdown; natlab_down' EXIT INT TERM

if ! sysc_rootfs; then
	echo "container: 0 passed, 1 failed"
	exit 1
fi

t0=$(date +%s%N)
if sysc_boot "hnsys$$"; then
	ok "boot ($SYSC_STATE in $((($(date +%s%N) - t0) / 1000000)) ms)"
else
	bad boot "is-system-running: $SYSC_STATE"
	echo "container: $pass passed, $fail failed"
	exit 1
fi

# a Type=notify unit is started only after READY=1, and its priorities
# reach the journal (the daemon will log with <N> prefixes)
cat > "$SYSC_ROOT/usr/local/bin/hn-notify-probe" <<'EOF'
#!/bin/sh
echo "<6>probe: starting"
sleep 1
systemd-notify --ready --status="serving"
echo "<3>probe: an error line"
exec sleep infinity
EOF
chmod +x "$SYSC_ROOT/usr/local/bin/hn-notify-probe"
cat > "$SYSC_ROOT/etc/systemd/system/hn-notify-probe.service" <<'EOF'
[Unit]
Description=hypernat test: Type=notify probe
[Service]
Type=notify
NotifyAccess=all
ExecStart=/usr/local/bin/hn-notify-probe
TimeoutStartSec=10
EOF
sysc_exec systemctl daemon-reload
t0=$(date +%s%N)
if sysc_exec systemctl start hn-notify-probe.service; then
	dt=$((($(date +%s%N) - t0) / 1000000))
	if [ "$dt" -ge 900 ]; then ok "notify_waits_for_ready (${dt} ms)"; else bad notify_waits_for_ready "started after $dt ms"; fi
else
	bad notify_waits_for_ready "start failed"
fi
status=$(sysc_exec systemctl show -p StatusText --value hn-notify-probe.service)
[ "$status" = serving ] && ok notify_status || bad notify_status "StatusText=$status"
sleep 0.5
if sysc_exec journalctl --no-pager -u hn-notify-probe.service -p err -o cat | grep -q "an error line" &&
	! sysc_exec journalctl --no-pager -u hn-notify-probe.service -p err -o cat | grep -q "starting"; then
	ok journal_priorities
else
	bad journal_priorities "$(sysc_exec journalctl --no-pager -u hn-notify-probe.service -o verbose | grep -E 'PRIORITY|MESSAGE=' | head)"
fi
was_nspawn=$SYSC_NSPAWN_PID was_pid1=$SYSC_PID root=$SYSC_ROOT
sysc_shutdown
if kill -0 "$was_nspawn" 2>/dev/null || kill -0 "$was_pid1" 2>/dev/null || [ -e "$root" ]; then
	bad shutdown "nspawn $was_nspawn or PID 1 $was_pid1 alive, or $root left"
else
	ok shutdown
fi

# inside a lab namespace: the container's traffic goes through the NAT
if natlab_up a=pcone; then
	natlab_exec pub1 /usr/bin/python3 ../natlab/udptool.py server >/dev/null 2>&1 &
	if sysc_boot "hnsysl$$" "$NATLAB_PREFIX-a1"; then
		res=$(sysc_exec python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
for _ in range(5):
    s.sendto(b"PROBE c", ("198.51.100.11", 3478))
    try:
        print(s.recvfrom(100)[0].decode()); break
    except OSError:
        pass
')
		case $res in
		"MAPPED 203.0.113.10:"*) ok "in_lab_namespace ($res)" ;;
		*) bad in_lab_namespace "reply: $res" ;;
		esac
	else
		bad in_lab_namespace "boot in namespace failed"
	fi
	sysc_shutdown
else
	bad in_lab_namespace "lab did not come up"
fi
echo "container: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

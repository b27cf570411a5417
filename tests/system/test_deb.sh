#!/usr/bin/env bash
# test_deb.sh [HN_DEB=FILE] - the .deb in a booted Debian 12 container (issue 7): build it
# with `make deb` and check it lintian clean, install it with dpkg -i in a
# systemd-nspawn container (in a network namespace of its own, only lo), then
# check what a user of the package relies on: the unit enabled and active
# through READY=1, hardened as the unit says, hypernatctl for the group
# hypernat only, the journal, reload, the watchdog, restart keeping runtime
# tunnels, and purge.
#
# Traffic through a tunnel to a peer in another host: test_tunnel.sh.
set -u
cd "$(dirname "$0")" || exit 2
. ./container.sh
TOP=$(cd ../.. && pwd)
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() {
	echo "deb: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
NETNS=hnpkg$$
cleanup() {
	sysc_shutdown
	ip netns del "$NETNS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for t in dpkg-buildpackage dh lintian; do
	if ! command -v "$t" >/dev/null; then
		bad build "$t missing (make deps)"
		finish
	fi
done

# ------------------------------------------------------------- the package
# HN_DEB=FILE tests that package instead of building one
if [ -n "${HN_DEB:-}" ]; then
	DEB=$HN_DEB
elif ! make -s -C "$TOP" deb > /tmp/hn-deb.$$.log 2>&1; then
	bad build "$(tail -n 20 /tmp/hn-deb.$$.log)"
	rm -f /tmp/hn-deb.$$.log
	finish
else
	rm -f /tmp/hn-deb.$$.log
	DEB=$(ls "$TOP"/build/deb/hypernat_*_*.deb | head -n 1)
fi
ok "build ($(basename "$DEB"))"

# no errors, no warnings (info tags may stay; lintian refuses nothing here)
lint=$(lintian "$DEB" 2>&1 | grep -v 'running with root privileges')
if echo "$lint" | grep -Eq '^[EW]: '; then
	bad lintian "$(echo "$lint" | grep -E '^[EW]: ')"
else
	ok "lintian (no errors or warnings${lint:+; $(echo "$lint" | wc -l) other tag(s)})"
fi

# Depends are all in the container's rootfs: dpkg -i fetches nothing
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/^ *//; s/ *(.*//; s/ *|.*//')
missing=
for d in $deps; do
	case ",$SYSC_INCLUDE," in *",$d,"*) ;; *) [ "$d" = libc6 ] || [ "$d" = libsystemd0 ] || missing="$missing $d" ;; esac
done
[ -z "$missing" ] && ok depends_in_rootfs || bad depends_in_rootfs "not in SYSC_INCLUDE:$missing"

# ------------------------------------------------------------- the container
if ! sysc_rootfs; then
	bad boot "no rootfs"
	finish
fi
ip netns add "$NETNS" && ip -n "$NETNS" link set lo up
if ! sysc_boot "hnpkg$$" "$NETNS"; then
	bad boot "is-system-running: $SYSC_STATE"
	finish
fi
# the cached rootfs's top directory is mode 0700 (container.sh packs it
# from a mktemp -d): give the container's / the usual 0755, or no user but
# root can run anything in it
chmod 0755 "$SYSC_ROOT"
ok "boot ($SYSC_STATE)"

U=hypernatd.service
prop() { sysc_exec systemctl show -p "$1" --value "$U"; }
mainpid() { prop MainPID; }
ctl_as() { # ctl_as USER ARGS...
	local u=$1
	shift
	sysc_exec runuser -u "$u" -- hypernatctl "$@"
}

cp "$DEB" "$SYSC_ROOT/root/"
if out=$(sysc_exec dpkg -i "/root/$(basename "$DEB")" 2>&1); then
	ok install
else
	bad install "$out"
	finish
fi

# enabled and started on install; active means READY=1 came from the
# main pid (Type=notify, NotifyAccess=main), and STATUS= with it
en=$(sysc_exec systemctl is-enabled "$U")
ac=$(sysc_exec systemctl is-active "$U")
ty=$(prop Type)
st=$(prop StatusText)
if [ "$en" = enabled ] && [ "$ac" = active ] && [ "$ty" = notify ] && [ -n "$st" ]; then
	ok "enabled_active_notify (status: $st)"
else
	bad enabled_active_notify "is-enabled $en, is-active $ac, Type $ty, StatusText '$st'"
fi

# what the unit promises: user hypernat, no capabilities, the directories
pid=$(mainpid)
who=$(sysc_exec ps -o user=,group= -p "$pid" | tr -s ' ')
capeff=$(sysc_exec awk '/^CapEff/ {print $2}' "/proc/$pid/status")
sock=$(sysc_exec stat -c '%a %U:%G' /run/hypernat/control.sock 2>&1)
state=$(sysc_exec stat -c '%a %U:%G' /var/lib/hypernat 2>&1)
conf=$(sysc_exec stat -c '%a %U:%G' /etc/hypernat/hypernat.conf 2>&1)
if [ "$who" = "hypernat hypernat" ] && [ "$capeff" = 0000000000000000 ] &&
	[ "$sock" = "660 hypernat:hypernat" ] && [ "$state" = "750 hypernat:hypernat" ] &&
	[ "$conf" = "640 root:hypernat" ]; then
	ok "runs_as_hypernat (socket $sock, state $state, conf $conf)"
else
	bad runs_as_hypernat "user:group '$who', CapEff $capeff, socket '$sock', state '$state', conf '$conf'"
fi

# systemd understands every line of the unit (it would ignore a misspelt
# hardening option with only a warning); the container has no man(1)
v=$(sysc_exec systemd-analyze verify "$U" 2>&1 | grep -v "Command 'man ")
[ -z "$v" ] && ok unit_verifies || bad unit_verifies "$v"

# the rating, measured by the container's systemd on the running unit
sec=$(sysc_exec systemd-analyze security --no-pager "$U" 2>&1 | grep 'Overall exposure level')
score=$(echo "$sec" | sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
case $score in
*" OK" | *" SAFE") ok "security ($score)" ;;
*) bad security "${sec:-no rating}" ;;
esac

# ------------------------------------------------------------- the group
sysc_exec useradd -m -G hypernat alice
sysc_exec useradd -m bob
alice_uid=$(sysc_exec id -u alice)
if out=$(ctl_as alice add udp 7913 2>&1); then
	ok "member_add (alice: $(echo "$out" | head -n 1))"
else
	bad member_add "rc $?: $out"
fi
out=$(ctl_as bob add udp 7914 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && ! ctl_as alice list | grep -q 'udp/7914'; then
	ok "nonmember_refused (bob: rc $rc, $(echo "$out" | head -n 1))"
else
	bad nonmember_refused "rc $rc: $out"
fi

# journal: the add, with who asked, at info (6), not above
sleep 0.3
line=$(sysc_exec journalctl --no-pager -u "$U" -p info..info -o cat | grep "uid $alice_uid .*7913")
hi=$(sysc_exec journalctl --no-pager -u "$U" -p notice -o cat | grep "uid $alice_uid .*7913")
if [ -n "$line" ] && [ -z "$hi" ] && [ "${line#<}" = "$line" ]; then
	ok "journal_priority (info: $line)"
else
	bad journal_priority "at info: '$line'; at notice or above: '$hi'"
fi

# rtnetlink works in the sandbox (AF_NETLINK): an address added to the
# container's namespace reaches the daemon
ip -n "$NETNS" addr add 192.0.2.77/32 dev lo
seen=
for i in $(seq 30); do
	sysc_exec journalctl --no-pager -u "$U" -o cat | grep -q 'netmon: address 192.0.2.77/32 added' && { seen=1; break; }
	sleep 0.1
done
[ -n "$seen" ] && ok netlink_in_sandbox || bad netlink_in_sandbox "no netmon line: $(sysc_exec journalctl --no-pager -u "$U" -o cat | tail -n 3)"
ip -n "$NETNS" addr del 192.0.2.77/32 dev lo

has_tunnel() { ctl_as alice list | grep -E '^export +udp/7913 .* runtime'; }

# reload: same process, tunnel kept, back to active
pid=$(mainpid)
if sysc_exec systemctl reload "$U" && [ "$(mainpid)" = "$pid" ] &&
	[ "$(sysc_exec systemctl is-active "$U")" = active ] && has_tunnel >/dev/null; then
	ok reload_keeps_tunnel
else
	bad reload_keeps_tunnel "main pid $pid -> $(mainpid), $(sysc_exec systemctl is-active "$U"), list: $(ctl_as alice list 2>&1)"
fi

# a config that does not parse: the reload fails, the daemon keeps running
# with the old one
C=$SYSC_ROOT/etc/hypernat/hypernat.conf
cp -p "$C" "$C.good"
echo "no_such_key: 1" >> "$C"
if ! sysc_exec systemctl reload "$U" 2>/dev/null && [ "$(mainpid)" = "$pid" ] &&
	[ "$(sysc_exec systemctl is-active "$U")" = active ] && has_tunnel >/dev/null &&
	sysc_exec journalctl --no-pager -u "$U" -p warning -o cat | grep -q 'no_such_key'; then
	ok reload_bad_config_refused
else
	bad reload_bad_config_refused "main pid $pid -> $(mainpid), $(sysc_exec systemctl is-active "$U"), $(sysc_exec journalctl --no-pager -u "$U" -o cat | tail -n 3)"
fi
mv "$C.good" "$C"

# restart: a new process, the runtime tunnel restored from /var/lib/hypernat
pid=$(mainpid)
if sysc_exec systemctl restart "$U" && [ "$(mainpid)" != "$pid" ] && has_tunnel >/dev/null; then
	ok restart_restores_tunnel
else
	bad restart_restores_tunnel "main pid $pid -> $(mainpid), list: $(ctl_as alice list 2>&1)"
fi

# watchdog: a stopped daemon misses its pings; systemd kills and restarts it
mkdir -p "$SYSC_ROOT/etc/systemd/system/$U.d"
cat > "$SYSC_ROOT/etc/systemd/system/$U.d/test-watchdog.conf" <<'EOF'
[Service]
WatchdogSec=3s
TimeoutAbortSec=2s
EOF
sysc_exec systemctl daemon-reload
sysc_exec systemctl restart "$U"
pid=$(mainpid) n0=$(prop NRestarts)
t0=$(date +%s)
new=
# never "kill -STOP 0": that would stop this script's process group
[ "$pid" -gt 1 ] 2>/dev/null && sysc_exec kill -STOP "$pid" || pid=none
for i in $(seq 150); do # 15 s: 3 s watchdog, 2 s abort, 2 s RestartSec
	sleep 0.1
	cur=$(mainpid)
	[ "$pid" = none ] && break
	if [ "$cur" != "$pid" ] && [ "$cur" != 0 ] &&
		[ "$(sysc_exec systemctl is-active "$U")" = active ]; then
		new=$cur
		break
	fi
done
if [ -n "$new" ] && [ "$(prop NRestarts)" -gt "$n0" ] &&
	sysc_exec journalctl --no-pager -u "$U" -o cat | grep -q 'Watchdog timeout' &&
	has_tunnel >/dev/null; then
	ok "watchdog_restarts_hung ($(($(date +%s) - t0)) s, pid $pid -> $new)"
else
	bad watchdog_restarts_hung "pid $pid -> $(mainpid), NRestarts $n0 -> $(prop NRestarts), $(sysc_exec journalctl --no-pager -u "$U" -o cat | tail -n 5)"
fi
rm -rf "$SYSC_ROOT/etc/systemd/system/$U.d"
sysc_exec systemctl daemon-reload

# upgrade (the same version again): the daemon is restarted, keeps its
# key and runtime tunnels
key=$(ctl_as alice key 2>/dev/null | head -n 1)
pid=$(mainpid)
if out=$(sysc_exec dpkg -i "/root/$(basename "$DEB")" 2>&1) && [ "$(mainpid)" != "$pid" ] &&
	[ "$(sysc_exec systemctl is-active "$U")" = active ] && [ -n "$key" ] &&
	[ "$(ctl_as alice key 2>/dev/null | head -n 1)" = "$key" ] && has_tunnel >/dev/null; then
	ok reinstall_restarts_keeps_state
else
	bad reinstall_restarts_keeps_state "pid $pid -> $(mainpid), key '$key' -> '$(ctl_as alice key 2>&1 | head -n 1)', $out"
fi

# remove: the unit stops; the config and the state stay for a reinstall
if out=$(sysc_exec dpkg -r hypernat 2>&1) && [ "$(sysc_exec systemctl is-active "$U")" != active ] &&
	sysc_exec test -f /etc/hypernat/hypernat.conf && sysc_exec test -f /var/lib/hypernat/identity &&
	! sysc_exec test -e /usr/sbin/hypernatd; then
	ok remove_keeps_config_state
else
	bad remove_keeps_config_state "$out; $(sysc_exec ls -la /etc/hypernat /var/lib/hypernat 2>&1)"
fi

# purge: unit, config and state gone; the user and group stay (see
# packaging/debian/postrm)
if out=$(sysc_exec dpkg --purge hypernat 2>&1); then
	left=
	for f in /lib/systemd/system/$U /etc/hypernat /var/lib/hypernat /run/hypernat \
		/usr/sbin/hypernatd /etc/systemd/system/multi-user.target.wants/$U; do
		sysc_exec test -e "$f" && left="$left $f"
	done
	ac=$(sysc_exec systemctl is-active "$U")
	if [ -z "$left" ] && [ "$ac" != active ] && sysc_exec getent group hypernat >/dev/null; then
		ok "purge (is-active $ac; user and group hypernat kept)"
	else
		bad purge "left:$left; is-active $ac; group: $(sysc_exec getent group hypernat)"
	fi
else
	bad purge "$out"
fi

finish

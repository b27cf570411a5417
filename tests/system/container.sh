#!/usr/bin/env bash
# container.sh - boot a real systemd as PID 1 of a systemd-nspawn container
# (shared/spec/systemd-container.md), for tests of the unit and the package.
# Root only.  Source it; it defines:
#
#   sysc_rootfs            make sure the cached Debian rootfs tarball exists
#                          (debootstrap once, from the machine's own apt
#                          mirror; later runs reuse it)
#   sysc_boot NAME [NETNS] extract a fresh copy and boot it, optionally inside
#                          network namespace NETNS; sets SYSC_ROOT, SYSC_PID,
#                          SYSC_STATE (is-system-running); call it directly,
#                          not in $(...), or the variables are lost
#   sysc_exec CMD...       run CMD in all of the container's namespaces
#   sysc_shutdown          power off, kill by recorded pid, remove the copy
#
# The container's processes are stopped by pid only (nspawn's and the
# container's PID 1), never by name.

SYSC_CACHE=${SYSC_CACHE:-/var/cache/hypernat-tests}
# What the container needs besides systemd: the daemon's runtime libraries
# and the tools the tests run inside it.
SYSC_INCLUDE=${SYSC_INCLUDE:-systemd,systemd-sysv,dbus,iproute2,procps,python3,libsodium23,libev4,libyaml-0-2,libmnl0,adduser}
SYSC_NSPAWN_PID= SYSC_PID= SYSC_ROOT= SYSC_LOG= SYSC_NAME= SYSC_STATE=

_sysc_mirror() {
	{
		grep -hs '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
			sed 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n'
		grep -hs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}'
	} | grep -Ev 'security|^cdrom:|^$' | head -n 1
}

# The tarball's path, keyed by suite and include list.
sysc_tarball() {
	local suite key
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	key=$(echo "$suite $SYSC_INCLUDE" | sha256sum | cut -c1-12)
	echo "$SYSC_CACHE/rootfs-$suite-$key.tar"
}

sysc_rootfs() {
	local tarball suite mirror tmp
	tarball=$(sysc_tarball)
	[ -f "$tarball" ] && return 0
	for t in debootstrap systemd-nspawn nsenter; do
		command -v "$t" >/dev/null || { echo "container: $t missing (make deps)" >&2; return 1; }
	done
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	mirror=$(_sysc_mirror)
	[ -n "$mirror" ] || { echo "container: no Debian mirror in the apt configuration" >&2; return 1; }
	mkdir -p "$SYSC_CACHE"
	tmp=$(mktemp -d "$SYSC_CACHE/build.XXXXXX")
	echo "container: debootstrap $suite (once; cached in $tarball)" >&2
	if ! debootstrap --variant=minbase --include="$SYSC_INCLUDE" "$suite" "$tmp" "$mirror" \
		> "$SYSC_CACHE/debootstrap.log" 2>&1; then
		echo "container: debootstrap failed, see $SYSC_CACHE/debootstrap.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$tmp"/var/log/journal/* "$tmp"/var/cache/apt/archives/*.deb
	tar -C "$tmp" --numeric-owner -cf "$tarball.new" . && mv "$tarball.new" "$tarball"
	rm -rf "$tmp"
}

sysc_boot() {
	local name=$1 netns=${2:-} i c st
	SYSC_NAME=$name
	SYSC_ROOT=$(mktemp -d /var/tmp/hn-sysc.XXXXXX)
	SYSC_LOG=$SYSC_ROOT.log
	tar -C "$SYSC_ROOT" --numeric-owner -xpf "$(sysc_tarball)" || return 1
	# mktemp made it 0700 (and the tarball may carry that): a root
	# directory others cannot enter leaves only root able to run anything
	chmod 0755 "$SYSC_ROOT"
	: > "$SYSC_ROOT/etc/machine-id"
	# dbus and logind cannot start on every host kernel (seen: inotify
	# refused, then boot waits 90 s per attempt); systemctl and journalctl
	# work without them through PID 1's private socket
	for u in dbus.service dbus.socket systemd-logind.service; do
		ln -sf /dev/null "$SYSC_ROOT/etc/systemd/system/$u"
	done
	# nspawn needs a tmpfs here when /run is not one (spec §5 b)
	mkdir -p /run/systemd/nspawn
	mountpoint -q /run/systemd/nspawn || mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
	systemd-nspawn -D "$SYSC_ROOT" -b --register=no --keep-unit --console=pipe -M "$name" \
		${netns:+--network-namespace-path=/run/netns/$netns} \
		> "$SYSC_LOG" 2>&1 < /dev/null &
	SYSC_NSPAWN_PID=$!
	SYSC_PID=
	for i in $(seq 200); do
		for c in $(ps -o pid= --ppid "$SYSC_NSPAWN_PID" 2>/dev/null); do
			[ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && SYSC_PID=$c
		done
		[ -n "$SYSC_PID" ] && break
		sleep 0.05
	done
	[ -n "$SYSC_PID" ] || { cat "$SYSC_LOG" >&2; return 1; }
	for i in $(seq 300); do
		st=$(nsenter -t "$SYSC_PID" -a systemctl is-system-running --wait 2>/dev/null)
		case $st in running|degraded) break ;; esac
		sleep 0.1
	done
	SYSC_STATE=$st
	[ "$st" = running ] || [ "$st" = degraded ]
}

sysc_exec() {
	nsenter -t "$SYSC_PID" -a "$@"
}

sysc_shutdown() {
	local i
	if [ -n "$SYSC_NSPAWN_PID" ] && kill -0 "$SYSC_NSPAWN_PID" 2>/dev/null; then
		[ -n "$SYSC_PID" ] && nsenter -t "$SYSC_PID" -a systemctl poweroff 2>/dev/null
		for i in $(seq 100); do kill -0 "$SYSC_NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$SYSC_NSPAWN_PID" 2>/dev/null; then
			kill "$SYSC_NSPAWN_PID"
			for i in $(seq 50); do kill -0 "$SYSC_NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$SYSC_NSPAWN_PID" 2>/dev/null && kill -9 "$SYSC_NSPAWN_PID" $SYSC_PID 2>/dev/null
		fi
		wait "$SYSC_NSPAWN_PID" 2>/dev/null
	fi
	# the tmpfs is shared: leave it while another container runs
	if mountpoint -q /run/systemd/nspawn && ! pgrep -x -r R,S,D systemd-nspawn >/dev/null; then
		umount /run/systemd/nspawn 2>/dev/null || umount -l /run/systemd/nspawn
	fi
	[ -n "$SYSC_ROOT" ] && rm -rf "$SYSC_ROOT" "$SYSC_LOG"
	SYSC_NSPAWN_PID= SYSC_PID= SYSC_ROOT=
	return 0
}

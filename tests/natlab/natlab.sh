#!/usr/bin/env bash
# natlab.sh - NATs emulated with network namespaces, veth pairs and nftables
# (spec: shared/spec/natlab.md).  Root only.  Nothing is created in the root
# namespace: every link is a veth pair made directly between two lab
# namespaces, and public addresses come from TEST-NET-2/3.
#
#   natlab.sh up [R=TYPE[:NHOSTS]]...   routers a..h; TYPE pcone fullcone rcone
#                                       sym none fw; default a=pcone:2 b=pcone
#   natlab.sh down                      kill by namespace pid, delete namespaces
#   natlab.sh exec HOST CMD...          HOST: inet pub1..3 ra..rh a1 a2 b1 ...
#   natlab.sh set R TYPE                change router R's NAT type live
#   natlab.sh loss HOST IF PERCENT      drop PERCENT % each way on HOST's IF (0: off)
#   natlab.sh addr HOST                 the host's address
#   natlab.sh status
#
# Sourced (". natlab.sh") it only defines the functions, so tests can call
# natlab_up / natlab_down / natlab_exec and trap natlab_down on exit.
#
# Environment: NATLAB_PREFIX (default nl), NATLAB_STATE (default
# /tmp/natlab-$PREFIX), NATLAB_UDP_TIMEOUT / NATLAB_UDP_STREAM_TIMEOUT
# (30/120), NATLAB_WAN_INPUT=drop|accept (spec §5.3).

NATLAB_PREFIX=${NATLAB_PREFIX:-nl}
NATLAB_STATE=${NATLAB_STATE:-/tmp/natlab-$NATLAB_PREFIX}
NATLAB_ROUTERS=(a b c d e f g h)

natlab_ns() { echo "$NATLAB_PREFIX-$1"; }

natlab_exec() {
	local host=$1
	shift
	ip netns exec "$(natlab_ns "$host")" "$@"
}

# index of router letter: a=1 .. h=8
natlab_ridx() {
	local i
	for i in "${!NATLAB_ROUTERS[@]}"; do
		[ "${NATLAB_ROUTERS[$i]}" = "$1" ] && { echo $((i + 1)); return 0; }
	done
	return 1
}

natlab_is_public_type() { [ "$1" = none ] || [ "$1" = fw ]; }

# natlab_addr HOST: the address of a lab host
natlab_addr() {
	local h=$1 r k i type
	case $h in
	inet) echo 198.51.100.1 ;;
	pub[1-3]) echo "198.51.100.1${h#pub}" ;;
	r[a-h]) i=$(natlab_ridx "${h#r}") && echo "203.0.113.$((10 * i))" ;;
	[a-h][1-9])
		r=${h%?} k=${h#?}
		i=$(natlab_ridx "$r") || return 1
		type=$(natlab_router_type "$r")
		if natlab_is_public_type "$type"; then
			echo "203.0.113.$((128 + 16 * (i - 1) + 1 + k))"
		else
			echo "10.$i.0.$((10 + k))"
		fi ;;
	*) return 1 ;;
	esac
}

natlab_router_type() {
	awk -v r="$1" '$1 == r { print $2 }' "$NATLAB_STATE/routers" 2>/dev/null
}

natlab_router_hosts() {
	awk -v r="$1" '$1 == r { print $3 }' "$NATLAB_STATE/routers" 2>/dev/null
}

_natlab_newns() {
	local ns
	ns=$(natlab_ns "$1")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
}

# _natlab_p2p NS1 IF1 ADDR1 NS2 IF2 ADDR2: a point-to-point veth link
_natlab_p2p() {
	local n1 n2
	n1=$(natlab_ns "$1") n2=$(natlab_ns "$4")
	ip -n "$n1" link add "$2" type veth peer name "$5" netns "$n2" || return 1
	ip -n "$n1" addr add "$3" peer "$6" dev "$2"
	ip -n "$n2" addr add "$6" peer "$3" dev "$5"
	ip -n "$n1" link set "$2" up
	ip -n "$n2" link set "$5" up
}

# The ruleset of one NAT type (spec §2), on stdin of nft -f.
_natlab_ruleset() {
	local type=$1 input=${NATLAB_WAN_INPUT:-drop} stream=${NATLAB_UDP_STREAM_TIMEOUT:-120}
	cat <<EOF
table ip natlab {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" icmp type echo-request accept
    iifname "wan" $input
  }
EOF
	case $type in
	pcone)
		cat <<'EOF'
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
EOF
		;;
	sym)
		cat <<'EOF'
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade fully-random
  }
EOF
		;;
	fullcone|rcone)
		cat <<EOF
  map fcmap {
    type inet_service : ipv4_addr . inet_service
    flags dynamic,timeout
    timeout ${stream}s
  }
  set fcpeers {
    type inet_service . ipv4_addr
    flags dynamic,timeout
    timeout ${stream}s
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
  chain learn {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "wan" ct direction original ct status snat update @fcmap { udp sport : ct original ip saddr . ct original proto-src }
    oifname "wan" ct direction reply ct status dnat update @fcmap { udp sport : ct reply ip saddr . ct reply proto-src }
    oifname "wan" meta l4proto udp update @fcpeers { udp sport . ip daddr }
  }
EOF
		if [ "$type" = fullcone ]; then
			cat <<'EOF'
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" udp dport @fcmap dnat ip to udp dport map @fcmap
  }
EOF
		else
			cat <<'EOF'
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" udp dport . ip saddr @fcpeers dnat ip to udp dport map @fcmap
  }
EOF
		fi
		;;
	fw)
		cat <<'EOF'
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    iifname "wan" meta l4proto udp drop
  }
EOF
		;;
	none) ;;
	*) echo "natlab: unknown NAT type $type" >&2; return 1 ;;
	esac
	echo "}"
}

# _natlab_address_lan R TYPE: (re)address router R's LAN and its hosts
_natlab_address_lan() {
	local r=$1 type=$2 i n k ns rns gw net h
	i=$(natlab_ridx "$r")
	n=$(natlab_router_hosts "$r")
	rns=$(natlab_ns "r$r")
	ip -n "$rns" addr flush dev br-lan
	ip -n "$(natlab_ns inet)" route del "203.0.113.$((128 + 16 * (i - 1)))/28" 2>/dev/null
	if natlab_is_public_type "$type"; then
		net="203.0.113.$((128 + 16 * (i - 1)))/28"
		gw="203.0.113.$((128 + 16 * (i - 1) + 1))"
		ip -n "$rns" addr add "$gw/28" dev br-lan
		ip -n "$(natlab_ns inet)" route add "$net" via "203.0.113.$((10 * i))"
	else
		gw="10.$i.0.1"
		ip -n "$rns" addr add "$gw/24" dev br-lan
	fi
	for k in $(seq 1 "$n"); do
		h="$r$k"
		ns=$(natlab_ns "$h")
		ip -n "$ns" addr flush dev eth0
		if natlab_is_public_type "$type"; then
			ip -n "$ns" addr add "$(natlab_addr "$h")/28" dev eth0
		else
			ip -n "$ns" addr add "$(natlab_addr "$h")/24" dev eth0
		fi
		ip -n "$ns" route replace default via "$gw"
	done
}

# natlab_set R TYPE: load a NAT type on router R (spec §8 "set")
natlab_set() {
	local r=$1 type=$2 rns
	rns=$(natlab_ns "r$r")
	_natlab_ruleset "$type" >/dev/null || return 1
	ip netns exec "$rns" nft delete table ip natlab 2>/dev/null
	_natlab_ruleset "$type" | ip netns exec "$rns" nft -f - || return 1
	ip netns exec "$rns" conntrack -F >/dev/null 2>&1
	awk -v r="$r" -v t="$type" '$1 == r { $2 = t } { print }' \
		"$NATLAB_STATE/routers" > "$NATLAB_STATE/routers.new" &&
		mv "$NATLAB_STATE/routers.new" "$NATLAB_STATE/routers"
	_natlab_address_lan "$r" "$type"
}

_natlab_add_router() {
	local r=$1 type=$2 n=$3 i rns k h
	i=$(natlab_ridx "$r") || { echo "natlab: no router $r (a..h)" >&2; return 1; }
	_natlab_newns "r$r" || return 1
	rns=$(natlab_ns "r$r")
	_natlab_p2p inet "to-r$r" 203.0.113.1 "r$r" wan "203.0.113.$((10 * i))" || return 1
	ip -n "$rns" route add default via 203.0.113.1
	ip -n "$rns" link add br-lan type bridge
	ip -n "$rns" link set br-lan up
	ip netns exec "$rns" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$rns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-arptables=0 2>/dev/null
	ip netns exec "$rns" sysctl -qw \
		net.netfilter.nf_conntrack_udp_timeout="${NATLAB_UDP_TIMEOUT:-30}" \
		net.netfilter.nf_conntrack_udp_timeout_stream="${NATLAB_UDP_STREAM_TIMEOUT:-120}" 2>/dev/null
	for k in $(seq 1 "$n"); do
		h="$r$k"
		_natlab_newns "$h" || return 1
		ip -n "$rns" link add "lan-$h" type veth peer name eth0 netns "$(natlab_ns "$h")"
		ip -n "$rns" link set "lan-$h" master br-lan up
		ip -n "$(natlab_ns "$h")" link set eth0 up
	done
	echo "$r $type $n" >> "$NATLAB_STATE/routers"
	natlab_set "$r" "$type"
}

# natlab_up [R=TYPE[:N]]...
natlab_up() {
	local spec r rest type n p
	[ "$(id -u)" -eq 0 ] || { echo "natlab: needs root" >&2; return 1; }
	if ip netns list | grep -q "^$NATLAB_PREFIX-inet\b"; then
		echo "natlab: lab $NATLAB_PREFIX is already up" >&2
		return 1
	fi
	[ $# -gt 0 ] || set -- a=pcone:2 b=pcone
	mkdir -p "$NATLAB_STATE" && : > "$NATLAB_STATE/routers"
	_natlab_newns inet || return 1
	ip netns exec "$(natlab_ns inet)" sysctl -qw net.ipv4.ip_forward=1
	for p in 1 2 3; do
		_natlab_newns "pub$p" || return 1
		_natlab_p2p inet "to-pub$p" 198.51.100.1 "pub$p" eth0 "198.51.100.1$p" || return 1
		ip -n "$(natlab_ns "pub$p")" route add default via 198.51.100.1
	done
	for spec in "$@"; do
		r=${spec%%=*} rest=${spec#*=}
		type=${rest%%:*} n=1
		[ "$rest" != "$type" ] && n=${rest#*:}
		_natlab_add_router "$r" "$type" "$n" || return 1
	done
}

# natlab_down: stop everything in the lab's namespaces by pid, then delete
# them (spec §9)
natlab_down() {
	local ns pids i
	local all=()
	while read -r ns _; do
		case $ns in "$NATLAB_PREFIX"-*) all+=("$ns") ;; esac
	done < <(ip netns list)
	for ns in "${all[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
	done
	for i in $(seq 1 30); do
		pids=
		for ns in "${all[@]}"; do
			pids+=$(ip netns pids "$ns" 2>/dev/null)
		done
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for ns in "${all[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	for ns in "${all[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$NATLAB_STATE"
	return 0
}

# natlab_loss HOST IF PERCENT: drop PERCENT % of packets each way through
# HOST's interface IF (forwarded and local), nft numgen (spec §6).  0 = off.
natlab_loss() {
	local host=$1 ifc=$2 pct=$3 ns table
	ns=$(natlab_ns "$host")
	table=impair_${ifc//[^A-Za-z0-9]/_}
	ip netns exec "$ns" nft delete table ip "$table" 2>/dev/null
	[ "$pct" = 0 ] && return 0
	ip netns exec "$ns" nft -f - <<EOF
table ip $table {
  chain lossy_fwd {
    type filter hook forward priority 0; policy accept;
    iifname "$ifc" numgen random mod 100 < $pct drop
    oifname "$ifc" numgen random mod 100 < $pct drop
  }
  chain lossy_in {
    type filter hook input priority 0; policy accept;
    iifname "$ifc" numgen random mod 100 < $pct drop
  }
  chain lossy_out {
    type filter hook output priority 0; policy accept;
    oifname "$ifc" numgen random mod 100 < $pct drop
  }
}
EOF
}

natlab_status() {
	local r type n k
	echo "lab $NATLAB_PREFIX (state $NATLAB_STATE)"
	echo "  inet 198.51.100.1 / 203.0.113.1"
	for k in 1 2 3; do echo "  pub$k $(natlab_addr "pub$k")"; done
	while read -r r type n; do
		echo "  r$r $type wan $(natlab_addr "r$r")"
		for k in $(seq 1 "$n"); do echo "    $r$k $(natlab_addr "$r$k")"; done
	done < "$NATLAB_STATE/routers"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-status}
	shift || true
	case $cmd in
	up) natlab_up "$@" && natlab_status ;;
	down) natlab_down ;;
	exec) natlab_exec "$@" ;;
	set) natlab_set "$@" ;;
	loss) natlab_loss "$@" ;;
	addr) natlab_addr "$@" ;;
	status) natlab_status ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
fi

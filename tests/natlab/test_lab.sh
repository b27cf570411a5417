#!/usr/bin/env bash
# test_natlab.sh - the NAT lab itself behaves as shared/spec/natlab.md §3
# measured: each emulated NAT type shows its mapping and filtering, a type
# can be changed live, and the loss impairment drops about what it should.
# Everything later tiers build on this lab, so a lab that drifts must fail
# here first.  Root only; cleans up on every exit.
set -u
cd "$(dirname "$0")" || exit 2
export NATLAB_PREFIX=hnt$$ NATLAB_STATE=/tmp/natlab-hnt$$
. ./natlab.sh
PY=/usr/bin/python3
TOOL=$PWD/udptool.py
pass=0 fail=0
trap 'natlab_down' EXIT INT TERM

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if ! natlab_up a=pcone b=fullcone c=rcone d=sym e=none f=fw; then
	echo "natlab: 0 passed, 1 failed"
	exit 1
fi
for p in pub1 pub2 pub3; do
	natlab_exec "$p" "$PY" "$TOOL" server >/dev/null 2>&1 &
done
sleep 0.5

# expected mapping / filtering per type (spec §3 table)
declare -A want_map=([a]=EIM [b]=EIM [c]=EIM [d]=APDM [e]=none [f]=none)
declare -A want_filter=([a]=APDF [b]=EIF [c]=ADF [d]=APDF [e]=EIF [f]=APDF)
declare -A type_of=([a]=pcone [b]=fullcone [c]=rcone [d]=sym [e]=none [f]=fw)
tmp=$(mktemp -d)
for r in a b c d e f; do
	natlab_exec "${r}1" "$PY" "$TOOL" probe --servers 198.51.100.11,198.51.100.12 \
		--third 198.51.100.13 --local "$(natlab_addr "${r}1")" > "$tmp/$r.json" 2>&1 &
done
wait_probes() {
	local t
	for t in $(seq 1 150); do
		[ "$(cat "$tmp"/*.json 2>/dev/null | grep -c '"filtering"')" -ge "$1" ] && return 0
		sleep 0.1
	done
}
wait_probes 6
for r in a b c d e f; do
	res=$(cat "$tmp/$r.json")
	m=$(echo "$res" | $PY -c 'import json,sys; print(json.load(sys.stdin)["mapping"])' 2>/dev/null)
	f=$(echo "$res" | $PY -c 'import json,sys; print(json.load(sys.stdin)["filtering"])' 2>/dev/null)
	if [ "$m" = "${want_map[$r]}" ] && [ "$f" = "${want_filter[$r]}" ]; then
		ok "classify_${type_of[$r]}"
	else
		bad "classify_${type_of[$r]}" "want ${want_map[$r]}/${want_filter[$r]}, got: $res"
	fi
done

# pcone preserves the port (spec §5.4: masquerade is EIM only through that)
if grep -q '"port_preserved": true' "$tmp/a.json"; then
	ok pcone_port_preserved
else
	bad pcone_port_preserved "$(cat "$tmp/a.json")"
fi

# change a type live: ra pcone -> sym
natlab_set a sym
res=$(natlab_exec a1 "$PY" "$TOOL" probe --servers 198.51.100.11,198.51.100.12 \
	--third 198.51.100.13 --local "$(natlab_addr a1)")
case $res in
*'"mapping": "APDM"'*) ok set_type_live ;;
*) bad set_type_live "$res" ;;
esac

# 20 % loss each way on inet's link to rb: about 36 % of round trips lost
natlab_loss inet to-rb 20
res=$(natlab_exec b1 "$PY" "$TOOL" loss --server 198.51.100.11 --count 300)
pct=$(echo "$res" | $PY -c 'import json,sys; print(int(json.load(sys.stdin)["loss_pct"]))')
if [ "$pct" -ge 20 ] && [ "$pct" -le 52 ]; then
	ok "loss_impairment ($pct % round-trip loss)"
else
	bad loss_impairment "$res"
fi
natlab_loss inet to-rb 0
res=$(natlab_exec b1 "$PY" "$TOOL" loss --server 198.51.100.11 --count 100)
case $res in
*'"received": 100'*) ok loss_off ;;
*) bad loss_off "$res" ;;
esac

# same NAT: two hosts behind one router reach each other on the LAN
natlab_down
if natlab_up a=pcone:2; then
	natlab_exec a2 "$PY" "$TOOL" server >/dev/null 2>&1 &
	sleep 0.3
	res=$(natlab_exec a1 "$PY" "$TOOL" loss --server "$(natlab_addr a2)" --count 20)
	case $res in
	*'"received": 20'*) ok same_nat_lan ;;
	*) bad same_nat_lan "$res" ;;
	esac
else
	bad same_nat_lan "lab did not come up"
fi
natlab_down
rm -rf "$tmp"
if ip netns list | grep -q "^$NATLAB_PREFIX-"; then
	bad cleanup "namespaces left: $(ip netns list | grep "^$NATLAB_PREFIX-" | tr '\n' ' ')"
else
	ok cleanup
fi
echo "natlab: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

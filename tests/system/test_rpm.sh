#!/usr/bin/env bash
# test_rpm.sh - `make rpm` builds the binary rpm (Debian's rpmbuild) and the
# package holds what the spec promises: the binaries, the unit with the
# installed paths filled in, the sysusers file, the completion, the man
# pages, the config as a 0640 root:hypernat %config(noreplace), and the
# scriptlets that create the user and handle the unit.  Installing it needs
# an rpm distribution: not done here.
set -u
cd "$(dirname "$0")/../.." || exit 2
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() {
	echo "rpm: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if ! command -v rpmbuild >/dev/null; then
	bad build "rpmbuild missing (make deps installs rpm)"
	finish
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make -s rpm > "$log" 2>&1; then
	bad build "$(tail -n 20 "$log")"
	finish
fi
RPM=$(find build/rpm/RPMS -name 'hypernat-[0-9]*.rpm' | head -n 1)
[ -n "$RPM" ] && ok "build ($(basename "$RPM"))" || { bad build "no rpm in build/rpm/RPMS"; finish; }

files=$(rpm -qlpv "$RPM" 2>/dev/null)
missing=
for f in /usr/sbin/hypernatd /usr/bin/hypernatctl /usr/lib/systemd/system/hypernatd.service \
	/usr/lib/sysusers.d/hypernat.conf /usr/share/bash-completion/completions/hypernatctl \
	/usr/share/man/man8/hypernatd.8 /usr/share/man/man8/hypernatctl.8 \
	/usr/share/man/man5/hypernat.conf.5; do
	echo "$files" | grep -q " $f\(\.gz\)\?\$" || missing="$missing $f"
done
[ -z "$missing" ] && ok files || bad files "missing:$missing"

conf=$(echo "$files" | grep ' /etc/hypernat/hypernat.conf$' | awk '{print $1, $3, $4}')
cfg=$(rpm -qpc "$RPM" 2>/dev/null)
if [ "$conf" = "-rw-r----- root hypernat" ] && [ "$cfg" = /etc/hypernat/hypernat.conf ]; then
	ok "config ($conf, %config)"
else
	bad config "'$conf', config files: $cfg"
fi

tmp=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$tmp"' EXIT
rpm2archive - < "$RPM" | tar -C "$tmp" -xzf - ./usr/lib/systemd/system/hypernatd.service
unit=$tmp/usr/lib/systemd/system/hypernatd.service
if grep -q '^ExecStart=/usr/sbin/hypernatd ' "$unit" && grep -q '^ExecReload=/usr/bin/hypernatctl reload$' "$unit" &&
	! grep -q '@[A-Z]*@' "$unit"; then
	ok unit_paths
else
	bad unit_paths "$(grep -E '^Exec' "$unit" 2>&1)"
fi

scripts=$(rpm -qp --scripts "$RPM" 2>/dev/null)
if echo "$scripts" | grep -q 'systemd-sysusers' && echo "$scripts" | grep -q 'preset hypernatd.service' &&
	echo "$scripts" | grep -q 'disable --now hypernatd.service'; then
	ok scriptlets
else
	bad scriptlets "$scripts"
fi
finish

#!/usr/bin/env bash
# install-deps.sh - install what building and testing hypernat needs on
# Debian 12: the compiler and libraries from the Debian archive, Node.js and
# npm when no node is on the PATH, and the interop tests' npm packages from
# the committed lockfile.  Installs only what is missing; needs root then.
set -eu
cd "$(dirname "$0")/.."

pkgs=(gcc make pkg-config libc6-dev libsodium-dev libev-dev libyaml-dev
	libsystemd-dev libmnl-dev clang libclang-rt-14-dev
	iproute2 nftables conntrack iptables procps python3
	debootstrap systemd-container mandoc
	debhelper lintian rpm bash-completion)
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# a node not from Debian's package (e.g. a tarball) is fine: only the
# commands count
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: run as root, or: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages for the interop tier, exactly as locked; a stamp of the
# lockfile's hash saves the reinstall when nothing changed
lock=tests/interop/package-lock.json
stamp=tests/interop/node_modules/.hypernat-lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "deps: npm ci in tests/interop"
	(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	echo "$want" > "$stamp"
fi
echo "deps: ok"

#!/usr/bin/python3
"""udptool.py - the NAT lab's UDP tool (shared/spec/natlab.md §3, §8)

  server                       on a public host: ports 3478 (reflector),
                               3479 (second port), 3480 (send only)
  probe --servers A,B --third C
                               classify the NAT in front of this host; prints
                               one JSON line
  loss --server A [--count N]  send N probes 5 ms apart; prints one JSON line
                               with received, loss %, reordered, rtt ms

Standard library only.
"""
import argparse
import json
import select
import socket
import sys
import time


def server(_args):
    socks = {}
    for port in (3478, 3479, 3480):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        socks[s.fileno()] = (port, s)
    s3480 = socks[[k for k, v in socks.items() if v[0] == 3480][0]][1]
    while True:
        ready, _, _ = select.select([v[1] for v in socks.values()], [], [])
        for s in ready:
            port = socks[s.fileno()][0]
            try:
                data, src = s.recvfrom(2048)
            except OSError:
                continue
            words = data.decode(errors="replace").split()
            if not words or port == 3480:
                continue
            cmd, rest = words[0], words[1:]
            tag = rest[-1] if rest else "-"
            if cmd == "PROBE":
                s.sendto(f"MAPPED {src[0]}:{src[1]} {tag}".encode(), src)
            elif cmd == "CHANGE" and rest and rest[0] == "port":
                s3480.sendto(f"UNSOLICITED other-port {tag}".encode(), src)
            elif cmd == "CHANGE" and len(rest) >= 2 and rest[0] == "host":
                s.sendto(f"RELAY {src[0]}:{src[1]} {tag}".encode(),
                         (rest[1], 3478))
            elif cmd == "RELAY" and rest:
                host, p = rest[0].rsplit(":", 1)
                s.sendto(f"UNSOLICITED other-host {tag}".encode(),
                         (host, int(p)))


def ask(sock, dest, tag, tries=5, wait=0.3):
    """PROBE dest until MAPPED with our tag comes back; the mapping or None."""
    for _ in range(tries):
        sock.sendto(f"PROBE {tag}".encode(), dest)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            r, _, _ = select.select([sock], [], [], max(0, end - time.monotonic()))
            if not r:
                break
            data, _src = sock.recvfrom(2048)
            w = data.decode(errors="replace").split()
            if len(w) == 3 and w[0] == "MAPPED" and w[2] == tag:
                return w[1]
    return None


def probe(args):
    a, b = args.servers.split(",")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    local = sock.getsockname()[1]
    m1 = ask(sock, (a, 3478), "m1")
    m2 = ask(sock, (a, 3479), "m2")
    m3 = ask(sock, (b, 3478), "m3")
    if m1 is None:
        mapping = "unreachable"
    elif m1.split(":")[0] == args.local:
        mapping = "none"
    elif m1 == m3:
        mapping = "EIM"
    elif m1 == m2:
        mapping = "ADM"
    else:
        mapping = "APDM"
    port_preserved = m1 is not None and m1.endswith(f":{local}")
    sock.sendto(b"CHANGE port u1", (a, 3478))
    sock.sendto(f"CHANGE host {args.third} u2".encode(), (a, 3478))
    got = set()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        w = sock.recvfrom(2048)[0].decode(errors="replace").split()
        if len(w) >= 2 and w[0] == "UNSOLICITED":
            got.add(w[1])
    if "other-host" in got:
        filtering = "EIF"
    elif "other-port" in got:
        filtering = "ADF"
    else:
        filtering = "APDF"
    print(json.dumps({"local_port": local, "mapped": [m1, m2, m3],
                      "mapping": mapping, "port_preserved": port_preserved,
                      "unsolicited": sorted(got), "filtering": filtering}))


def loss(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    dest = (args.server, 3478)
    sent_at, rtts, seen, reordered, highest = {}, [], set(), 0, -1

    def drain(deadline):
        nonlocal reordered, highest
        while True:
            r, _, _ = select.select([sock], [], [], max(0, deadline - time.monotonic()))
            if not r:
                return
            w = sock.recvfrom(2048)[0].decode(errors="replace").split()
            if len(w) != 3 or w[0] != "MAPPED" or not w[2].isdigit():
                continue
            i = int(w[2])
            if i in seen or i not in sent_at:
                continue
            seen.add(i)
            rtts.append((time.monotonic() - sent_at[i]) * 1000)
            if i < highest:
                reordered += 1
            highest = max(highest, i)

    for i in range(args.count):
        sent_at[i] = time.monotonic()
        sock.sendto(f"PROBE {i}".encode(), dest)
        drain(time.monotonic() + 0.005)
    drain(time.monotonic() + 1.0)
    rtts.sort()
    print(json.dumps({
        "sent": args.count, "received": len(seen),
        "loss_pct": round(100.0 * (args.count - len(seen)) / args.count, 1),
        "reordered": reordered,
        "rtt_ms": [round(rtts[0], 2), round(rtts[len(rtts) // 2], 2),
                   round(rtts[-1], 2)] if rtts else None}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("server")
    pp = sub.add_parser("probe")
    pp.add_argument("--servers", required=True)
    pp.add_argument("--third", required=True)
    pp.add_argument("--local", default="")
    pl = sub.add_parser("loss")
    pl.add_argument("--server", required=True)
    pl.add_argument("--count", type=int, default=200)
    args = p.parse_args()
    {"server": server, "probe": probe, "loss": loss}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

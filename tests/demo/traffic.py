#!/usr/bin/python3
"""traffic.py - the demo's local services and the traffic it sends

  echo --udp PORT --tcp PORT       UDP echo and TCP echo on 127.0.0.1
  udp --port P [--count N] [--src S]
                                   N datagrams through the tunnel (from
                                   127.0.0.1:S, default any port: one source
                                   is one import session): prints
                                   JSON {sent, received, rtt_ms: [min, median, max]}
  tcp --port P [--bytes N]         N bytes through the tunnel and back:
                                   JSON {bytes, seconds, mbps, sha256_ok}
Standard library only.
"""
import argparse
import hashlib
import json
import os
import select
import socket
import sys
import threading
import time


def echo(args):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", args.udp))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", args.tcp))
    t.listen(16)

    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def udp_loop():
        while True:
            d, src = u.recvfrom(65536)
            u.sendto(d, src)

    threading.Thread(target=udp_loop, daemon=True).start()
    while True:
        c, _ = t.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def udp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", args.src))
    dest = ("127.0.0.1", args.port)
    rtts = []
    for i in range(args.count):
        msg = b"game-packet-%d " % i + os.urandom(32).hex().encode()
        t0 = time.monotonic()
        s.sendto(msg, dest)
        end = t0 + 2.0
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], end - time.monotonic())
            if not r:
                break
            d, _ = s.recvfrom(65536)
            if d == msg:
                rtts.append((time.monotonic() - t0) * 1000)
                break
        time.sleep(0.01)
    rtts.sort()
    print(json.dumps({"sent": args.count, "received": len(rtts),
                      "rtt_ms": [round(rtts[0], 2), round(rtts[len(rtts) // 2], 2),
                                 round(rtts[-1], 2)] if rtts else None}))
    return 0 if len(rtts) >= max(1, args.count * 9 // 10) else 1


def tcp(args):
    data = os.urandom(args.bytes)
    want = hashlib.sha256(data).hexdigest()
    c = socket.create_connection(("127.0.0.1", args.port), timeout=30)
    got = hashlib.sha256()
    n = 0
    t0 = time.monotonic()

    def writer():
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    while n < len(data):
        d = c.recv(1 << 16)
        if not d:
            break
        got.update(d)
        n += len(d)
    dt = time.monotonic() - t0
    ok = n == len(data) and got.hexdigest() == want
    print(json.dumps({"bytes": n, "seconds": round(dt, 3),
                      "mbps": round(2 * n * 8 / dt / 1e6, 1) if dt > 0 else 0,
                      "sha256_ok": ok}))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--udp", type=int, required=True)
    e.add_argument("--tcp", type=int, required=True)
    u = sub.add_parser("udp")
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--count", type=int, default=50)
    u.add_argument("--src", type=int, default=0)
    t = sub.add_parser("tcp")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--bytes", type=int, default=8 << 20)
    a = p.parse_args()
    return {"echo": echo, "udp": udp, "tcp": tcp}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env node
// peer.js - one udx-native endpoint on 127.0.0.1 with the same options and
// JSON report as bench/udx/udxperf.c, for interop tests and benchmarks.
//
//   node peer.js --bind PORT --peer PORT --id N --remote-id N [options]
//     --send BYTES, --no-end, --message TEXT, --empty-message,
//     --expect-messages N, --destroy-after B,
//     --change-remote LOCALBIND:PEERPORT:ID:AFTER, --timeout MS, --no-hash
const crypto = require('crypto')
const UDX = require('udx-native')

const args = process.argv.slice(2)
const o = { send: 0, end: true, messages: [], empty: 0, expect: 0, destroyAfter: 0, timeout: 120000, hash: true }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  const v = () => args[++i]
  if (a === '--bind') o.bind = +v()
  else if (a === '--peer') o.peer = +v()
  else if (a === '--id') o.id = +v()
  else if (a === '--remote-id') o.rid = +v()
  else if (a === '--send') o.send = +v()
  else if (a === '--no-end') o.end = false
  else if (a === '--message') o.messages.push(v())
  else if (a === '--empty-message') o.empty++
  else if (a === '--expect-messages') o.expect = +v()
  else if (a === '--destroy-after') o.destroyAfter = +v()
  else if (a === '--change-remote') o.change = v().split(':').map(Number)
  else if (a === '--timeout') o.timeout = +v()
  else if (a === '--no-hash') o.hash = false
  else if (a === '--no-gso' || a === '--no-gro') {} // nothing to turn off
  else { console.error('peer.js: unknown option ' + a); process.exit(2) }
}

function pattern (off, n) {
  // the same bytes as udxperf.c: ((i * 0x9e3779b1 mod 2^32) >> 24) ^ (i >> 11)
  const b = Buffer.alloc(n)
  for (let k = 0; k < n; k++) {
    const i = off + k
    b[k] = ((Math.imul(i, 0x9e3779b1) >>> 24) ^ Math.floor(i / 2048)) & 255
  }
  return b
}

const udx = new UDX()
const sock = udx.createSocket()
sock.bind(o.bind, '127.0.0.1')
let sock2 = null
const t0 = process.hrtime.bigint()
const cpu0 = process.cpuUsage()
const hs = crypto.createHash('sha256')
const hr = crypto.createHash('sha256')
const st = { sent: 0, recv: 0, eof: false, close: null, remoteChanged: 0, msgs: [] }
let changed = false
let finished = false

const stream = udx.createStream(o.id, { firewall: () => false })
stream.connect(sock, o.rid, o.peer, '127.0.0.1')

stream.on('data', (d) => {
  if (o.hash) hr.update(d)
  st.recv += d.length
  check()
})
stream.on('end', () => {
  st.eof = true
  if (o.end && o.send === 0) stream.end()
})
stream.on('message', (m) => { st.msgs.push(m.length); maybeFinish() })
stream.on('remote-changed', () => { st.remoteChanged++ })
stream.on('error', (err) => { st.close = err.code || String(err) })
stream.on('close', () => {
  if (st.close === null) st.close = 0
  maybeFinish()
})

function check () {
  if (o.change && !changed && (st.recv >= o.change[3] || st.sent >= o.change[3])) {
    changed = true
    let s = sock
    if (o.change[0]) {
      sock2 = udx.createSocket()
      sock2.bind(o.change[0], '127.0.0.1')
      s = sock2
    }
    const r = stream.changeRemote(s, o.change[2], o.change[1], '127.0.0.1')
    if (r && r.catch) r.catch(() => {})
  }
  if (o.destroyAfter && (st.recv >= o.destroyAfter || st.sent >= o.destroyAfter) && !stream.destroyed) {
    stream.destroy()
  }
}

const CHUNK = 65536
const fixed = Buffer.alloc(CHUNK)
function feed () {
  while (st.sent < o.send && !stream.destroyed) {
    const n = Math.min(CHUNK, o.send - st.sent)
    let b = fixed.subarray(0, n)
    if (o.hash) { b = pattern(st.sent, n); hs.update(b) }
    st.sent += n
    const ok = stream.write(b)
    check()
    if (!ok) { stream.once('drain', feed); return }
  }
  if (st.sent >= o.send && o.send > 0 && o.end && !stream.destroyed) stream.end()
}

// messages are unreliable: send them once the peer surely runs
setTimeout(() => {
  if (stream.destroyed) return
  for (const m of o.messages) stream.send(Buffer.from(m))
  for (let i = 0; i < o.empty; i++) stream.send(Buffer.alloc(0))
}, 800)
if (o.send > 0) setTimeout(feed, o.messages.length + o.empty ? 1000 : 0)

const timer = setTimeout(() => { console.error('peer.js: timeout'); report(); process.exit(3) }, o.timeout)

function maybeFinish () {
  if (finished || st.close === null || st.msgs.length < o.expect) return
  finished = true
  clearTimeout(timer)
  report()
  sock.close()
  if (sock2) sock2.close()
}

function report () {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const c = process.cpuUsage(cpu0)
  console.log(JSON.stringify({
    sent: st.sent,
    sentSha: hs.digest('hex'),
    recv: st.recv,
    recvSha: hr.digest('hex'),
    eof: st.eof,
    close: st.close,
    remoteChanged: st.remoteChanged,
    seconds: secs,
    cpu: (c.user + c.system) / 1e6,
    mtu: stream.mtu,
    retransmits: stream.retransmits,
    rto: stream.rtoCount,
    messages: st.msgs
  }))
}

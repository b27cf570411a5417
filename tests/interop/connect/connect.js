// connect.js - C peer connections (build/tests/unit/test_conn_tool, the
// conn.h implementation on real loopback sockets) against the JS stack:
// hyperdht 6.34.0 and @hyperswarm/dht 6.5.1 (hyper-nat's), both as server
// and as client, on a private DHT on 127.0.0.1.
//
// Every JS node gets an explicit 127.0.0.1 bootstrap list; the network is
// a hyperdht DHT.bootstrapper plus persistent nodes (spec/dht.md testnet
// trap: the first node must know its own address).
//
// Per flavour: C server <- JS client and JS server <- C client, each with
// 64 MiB each way checked by sha256, raw (rawStream.send) and secure
// (secret-stream send()) datagrams both ways, a clean end; a rejected client
// both ways.
//
// Usage: node connect.js TOOL [case...]  (CONNECT_MB=N for a smaller run)
'use strict'

const path = require('path')
const { spawn } = require('child_process')
const readline = require('readline')
const crypto = require('crypto')

const ROOT = path.resolve(__dirname, '..', '..', '..')
const TOOL = process.argv[2] || path.join(ROOT, 'build/tests/unit/test_conn_tool')
const ONLY = process.argv.slice(3)
const HOST = '127.0.0.1'
const BYTES = Number(process.env.CONNECT_MB || 64) * 1024 * 1024

const HyperDHT = require('hyperdht')
const LegacyDHT = require('@hyperswarm/dht')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function withTimeout (p, ms, what) {
  let t
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((resolve, reject) => {
      t = setTimeout(() => reject(new Error('timeout: ' + what)), ms)
    })
  ])
}

function check (cond, why) {
  if (!cond) throw new Error(why)
}

const randomPort = () => 20000 + crypto.randomInt(30000)
const hex = (b) => Buffer.from(b).toString('hex')

class CTool {
  constructor (args, env) {
    this.proc = spawn(TOOL, ['tool', ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
    this.lines = []
    this.waiters = []
    this.exited = false
    this.proc.on('exit', () => { this.exited = true; this._wake() })
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => {
      if (process.env.CONNECT_DEBUG) console.error('C< ' + l.slice(0, 200))
      this.lines.push(l)
      this._wake()
    })
  }

  _wake () { for (const w of this.waiters.splice(0)) w() }

  send (cmd) {
    if (process.env.CONNECT_DEBUG) console.error('C> ' + cmd.slice(0, 200))
    this.proc.stdin.write(cmd + '\n')
  }

  async expect (re, ms = 20000) {
    const end = Date.now() + ms
    for (;;) {
      const i = this.lines.findIndex((l) => re.test(l))
      if (i >= 0) return this.lines.splice(i, 1)[0]
      if (this.exited) throw new Error('C tool exited waiting for ' + re)
      const left = end - Date.now()
      if (left <= 0) throw new Error('C tool: no line ' + re + ' (last: ' + this.lines.slice(-4).join(' | ') + ')')
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  async close () {
    if (this.exited) return
    this.send('quit')
    await Promise.race([
      new Promise((resolve) => this.proc.on('exit', resolve)),
      sleep(3000).then(() => this.proc.kill())
    ])
  }
}

async function network (n) {
  const port = randomPort()
  const boot = HyperDHT.bootstrapper(port, HOST, { host: HOST })
  await boot.ready()
  const bootstrap = [HOST + ':' + port]
  const nodes = [boot]
  for (let i = 0; i < n; i++) {
    const d = new HyperDHT({ bootstrap, ephemeral: false, host: HOST })
    await d.ready()
    nodes.push(d)
  }
  return { nodes, bootstrap }
}

async function destroyAll (nodes) {
  for (const d of nodes.reverse()) await d.destroy().catch(() => {})
}

// Write `total` random bytes with backpressure, then end; resolves to sha256.
function jsWrite (sock, total) {
  const h = crypto.createHash('sha256')
  let sent = 0
  return new Promise((resolve, reject) => {
    sock.once('error', reject)
    const pump = () => {
      while (sent < total) {
        const n = Math.min(65536, total - sent)
        const b = crypto.randomBytes(n)
        h.update(b)
        sent += n
        if (!sock.write(b)) { sock.once('drain', pump); return }
      }
      sock.end()
      resolve(h.digest('hex'))
    }
    pump()
  })
}

function jsRead (sock) {
  const h = crypto.createHash('sha256')
  let n = 0
  return new Promise((resolve, reject) => {
    sock.on('data', (b) => { h.update(b); n += b.length })
    sock.once('end', () => resolve({ n, hash: h.digest('hex') }))
    sock.once('error', reject)
  })
}

// Datagrams both ways, then 64 MiB each way; `sock` is the JS side.
async function exercise (c, sock) {
  const raw = []
  const sec = []
  sock.rawStream.on('message', (b) => raw.push(hex(b)))
  sock.on('message', (b) => sec.push(hex(b)))
  const reading = jsRead(sock)

  const rj = crypto.randomBytes(700)
  const sj = crypto.randomBytes(600)
  sock.rawStream.send(rj)
  check(new RegExp('^dgram raw ' + hex(rj) + '$').test(await c.expect(/^dgram raw /, 5000)), 'C got a wrong raw datagram')
  sock.send(sj)
  check(new RegExp('^dgram secure ' + hex(sj) + '$').test(await c.expect(/^dgram secure /, 5000)), 'C got a wrong secure datagram')

  const rc = crypto.randomBytes(800)
  const sc = crypto.randomBytes(500)
  c.send('raw ' + hex(rc))
  c.send('secure ' + hex(sc))
  await withTimeout((async () => {
    while (!raw.includes(hex(rc)) || !sec.includes(hex(sc))) await sleep(20)
  })(), 5000, 'datagrams from C')

  const t0 = Date.now()
  c.send('write ' + BYTES)
  const jsSent = await withTimeout(jsWrite(sock, BYTES), 180000, 'JS write')
  const cSent = (await c.expect(/^sent \d+ /, 180000)).split(' ')
  const got = await withTimeout(reading, 180000, 'JS read')
  const cRecv = (await c.expect(/^recv \d+ /, 180000)).split(' ')
  const secs = (Date.now() - t0) / 1000
  check(Number(cSent[1]) === BYTES && got.n === BYTES, 'C->JS: JS got ' + got.n + ' bytes')
  check(got.hash === cSent[2], 'C->JS sha256 differs')
  check(Number(cRecv[1]) === BYTES, 'JS->C: C got ' + cRecv[1] + ' bytes')
  check(cRecv[2] === jsSent, 'JS->C sha256 differs')
  const close = await c.expect(/^close /, 20000)
  check(close === 'close 0', 'C ' + close + ', want close 0')
  return (2 * BYTES / 1048576 / secs).toFixed(1) + ' MiB/s total'
}

async function cServerJsClient (DHT, reject, copts) {
  const net = await network(4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  const js = new DHT({ bootstrap: net.bootstrap, host: HOST })
  try {
    await c.expect(/^up 1$/)
    c.send('listen ' + hex(crypto.randomBytes(32)) + (reject ? ' reject' : ''))
    const pk = Buffer.from((await c.expect(/^listening /)).split(' ')[1], 'hex')
    await js.ready()
    // a client behind a NAT: no stable public address (connect.js: firewall
    // UNKNOWN in payload1), so the C server must not connect to it first
    if (copts && copts.behindNat) js.remoteAddress = () => null
    await sleep(1000) // the announce
    const sock = js.connect(pk, copts)
    if (reject) {
      const err = await withTimeout(new Promise((resolve) => {
        sock.on('error', resolve)
        sock.on('open', () => resolve(null))
      }), 30000, 'rejected connect')
      check(err !== null, 'a rejected JS client connected')
      check(!c.lines.some((l) => l.startsWith('accept')), 'C accepted it')
      return 'JS error: ' + (err.code || err.message)
    }
    const errp = new Promise((resolve, reject) => sock.once('error', reject))
    await withTimeout(Promise.race([new Promise((resolve) => sock.once('open', resolve)), errp]), 20000, 'JS open')
    const acc = await c.expect(/^accept /)
    check(acc.split(' ')[1] === hex(js.defaultKeyPair.publicKey), 'C sees the wrong client key')
    const open = await c.expect(/^open /)
    check(/ 0 /.test(open), 'a JS peer must have no capabilities: ' + open)
    const rate = await exercise(c, sock)
    return open.split(' ')[1] + ', ' + rate
  } finally {
    await c.close()
    await js.destroy().catch(() => {})
    await destroyAll(net.nodes)
  }
}

async function jsServerCClient (DHT, reject, punch) {
  const net = await network(4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  const js = new DHT({ bootstrap: net.bootstrap, host: HOST })
  let conn = null
  let clientKey = null
  try {
    const kp = DHT.keyPair(crypto.randomBytes(32))
    const server = js.createServer({ firewall: () => reject }, (s) => {
      conn = s
      clientKey = s.remotePublicKey
      s.on('error', () => {})
    })
    // a server behind a NAT: firewall UNKNOWN in payload2, it punches
    if (punch) js.remoteAddress = () => null
    await server.listen(kp)
    await c.expect(/^up 1$/)
    const cseed = crypto.randomBytes(32)
    c.send('connect ' + hex(kp.publicKey) + ' ' + hex(cseed) + (punch ? ' nolan' : ''))
    if (reject) {
      const close = await c.expect(/^close /, 30000)
      check(close === 'close -111', 'C ' + close + ', want close -111 (ECONNREFUSED)')
      check(conn === null, 'JS accepted it')
      return close
    }
    const open = await c.expect(/^open /, 20000)
    check(open.split(' ')[2] === hex(kp.publicKey), 'C sees the wrong server key')
    check(/ 0 /.test(open), 'a JS peer must have no capabilities: ' + open)
    await withTimeout((async () => { while (!conn) await sleep(10) })(), 5000, 'JS connection')
    check(hex(clientKey) === hex(DHT.keyPair(cseed).publicKey), 'JS sees the wrong client key')
    const rate = await exercise(c, conn)
    return open.split(' ')[1] + ', ' + rate
  } finally {
    await c.close()
    await js.destroy().catch(() => {})
    await destroyAll(net.nodes)
  }
}

// hyperdht 6.34 relayThrough, C side: the C client names a JS blind relay;
// the JS server (behind a "NAT", vetoing hole punching) pairs with it there.
async function relayedJsServerCClient () {
  const { Server: RelayServer } = require('blind-relay')
  const net = await network(4)
  // no puncher on the C side either: on loopback its first probe would
  // reach the JS puncher at once, and the point here is the relay
  const c = new CTool(['--bootstrap', net.bootstrap[0]], { CONN_TOOL_NO_PUNCH: '1' })
  const js = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  const rdht = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  let conn = null
  try {
    const relay = new RelayServer({ createStream: (opts) => rdht.createRawStream({ ...opts, framed: true }) })
    const rkp = HyperDHT.keyPair(crypto.randomBytes(32))
    const rserver = rdht.createServer((sock) => {
      const session = relay.accept(sock, { id: sock.remotePublicKey })
      session.on('error', () => {})
      sock.on('error', () => {})
    })
    await rserver.listen(rkp)
    const kp = HyperDHT.keyPair(crypto.randomBytes(32))
    js.remoteAddress = () => null
    const server = js.createServer({ holepunch: () => false }, (s) => {
      conn = s
      s.on('error', () => {})
    })
    await server.listen(kp)
    await c.expect(/^up 1$/)
    c.send('connect ' + hex(kp.publicKey) + ' ' + hex(crypto.randomBytes(32)) + ' nolan ' + hex(rkp.publicKey))
    const open = await c.expect(/^open /, 30000)
    check(open.split(' ')[1] === 'relayed', 'path ' + open.split(' ')[1] + ', want relayed')
    await withTimeout((async () => { while (!conn) await sleep(10) })(), 5000, 'JS connection')
    const pairs = relay.stats ? JSON.stringify(relay.stats.pairings || '') : ''
    const rate = await exercise(c, conn)
    return 'relayed, ' + rate + (pairs ? ' ' + pairs : '')
  } finally {
    await c.close()
    await js.destroy().catch(() => {})
    await rdht.destroy().catch(() => {})
    await destroyAll(net.nodes)
  }
}

// The other way: a hyperdht 6.34 client names the relay, the C server (no
// puncher) pairs with it as the non-initiator.
async function relayedCServerJsClient () {
  const { Server: RelayServer } = require('blind-relay')
  const net = await network(4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]], { CONN_TOOL_NO_PUNCH: '1' })
  const js = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  const rdht = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  try {
    const relay = new RelayServer({ createStream: (opts) => rdht.createRawStream({ ...opts, framed: true }) })
    const rkp = HyperDHT.keyPair(crypto.randomBytes(32))
    const rserver = rdht.createServer((sock) => {
      const session = relay.accept(sock, { id: sock.remotePublicKey })
      session.on('error', () => {})
      sock.on('error', () => {})
    })
    await rserver.listen(rkp)
    await c.expect(/^up 1$/)
    c.send('listen ' + hex(crypto.randomBytes(32)))
    const pk = Buffer.from((await c.expect(/^listening /)).split(' ')[1], 'hex')
    await js.ready()
    js.remoteAddress = () => null
    await sleep(1000)
    const sock = js.connect(pk, { relayThrough: rkp.publicKey, localConnection: false, holepunch: () => false })
    const errp = new Promise((resolve, reject) => sock.once('error', reject))
    await withTimeout(Promise.race([new Promise((resolve) => sock.once('open', resolve)), errp]), 30000, 'JS open')
    const open = await c.expect(/^open /)
    check(open.split(' ')[1] === 'relayed', 'C path ' + open.split(' ')[1] + ', want relayed')
    const rate = await exercise(c, sock)
    return 'relayed, ' + rate + ' ' + JSON.stringify(relay.stats.pairings || '')
  } finally {
    await c.close()
    await js.destroy().catch(() => {})
    await rdht.destroy().catch(() => {})
    await destroyAll(net.nodes)
  }
}

// A C node serving as the blind relay between two hyperdht 6.34 peers.
async function jsThroughCRelay () {
  const net = await network(4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  const a = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  const b = new HyperDHT({ bootstrap: net.bootstrap, host: HOST })
  try {
    const cport = Number(/:(\d+)$/.exec(await c.expect(/^node /))[1])
    await c.expect(/^up 1$/)
    c.send('relay ' + hex(crypto.randomBytes(32)))
    const rpk = Buffer.from((await c.expect(/^relaying /)).split(' ')[1], 'hex')
    await a.ready()
    await b.ready()
    a.remoteAddress = () => null
    b.remoteAddress = () => null
    let got = null
    const kp = HyperDHT.keyPair(crypto.randomBytes(32))
    const server = b.createServer({ holepunch: () => false }, (s) => {
      s.on('error', () => {})
      s.on('data', (d) => s.write(d))
      got = s
    })
    await server.listen(kp)
    await sleep(1000)
    const sock = a.connect(kp.publicKey, { relayThrough: rpk, localConnection: false, fastOpen: false, holepunch: () => false })
    const errp = new Promise((resolve, reject) => sock.once('error', reject))
    await withTimeout(Promise.race([new Promise((resolve) => sock.once('open', resolve)), errp]), 30000, 'JS open')
    const msg = crypto.randomBytes(100000)
    const echoed = []
    let n = 0
    sock.on('data', (d) => { echoed.push(d); n += d.length })
    sock.write(msg)
    await withTimeout((async () => { while (n < msg.length) await sleep(10) })(), 20000, 'echo')
    check(Buffer.concat(echoed).equals(msg), 'echo through the C relay differs')
    check(got !== null, 'no server connection')
    const { remotePort } = sock.rawStream
    check(remotePort === cport, 'the JS stream goes to port ' + remotePort + ', not the C relay at ' + cport)
    sock.destroy()
    return 'echo 100000 bytes through the C relay'
  } finally {
    await c.close()
    await a.destroy().catch(() => {})
    await b.destroy().catch(() => {})
    await destroyAll(net.nodes)
  }
}

const CASES = []
CASES.push(['js-through-c-relay-6.34', jsThroughCRelay])
CASES.push(['js-server-c-client-relayed-6.34', relayedJsServerCClient])
CASES.push(['c-server-js-client-relayed-6.34', relayedCServerJsClient])
for (const [tag, DHT] of [['6.34', HyperDHT], ['6.5.1', LegacyDHT]]) {
  CASES.push(['c-server-js-client-' + tag, () => cServerJsClient(DHT, false)])
  CASES.push(['js-server-c-client-' + tag, () => jsServerCClient(DHT, false)])
  CASES.push(['c-server-rejects-js-' + tag, () => cServerJsClient(DHT, true)])
  // no LAN shortcut, peers "behind NAT": they must hole-punch
  CASES.push(['c-server-js-client-punch-' + tag, () => cServerJsClient(DHT, false, { localConnection: false, behindNat: true })])
  CASES.push(['js-server-c-client-punch-' + tag, () => jsServerCClient(DHT, false, true)])
  CASES.push(['js-server-rejects-c-' + tag, () => jsServerCClient(DHT, true)])
}

async function main () {
  let passed = 0
  let failed = 0
  for (const [name, fn] of CASES) {
    if (ONLY.length && !ONLY.some((o) => name.includes(o))) continue
    try {
      const info = await withTimeout(fn(), 300000, name)
      console.log('ok   ' + name + (info ? ' (' + info + ')' : ''))
      passed++
    } catch (err) {
      console.log('FAIL ' + name + ': ' + (err && err.message))
      failed++
    }
  }
  console.log('connect-interop: ' + passed + ' passed, ' + failed + ' failed')
  process.exit(failed ? 1 : 0)
}

main()

// node_interop.js - real hypernatd daemons as the whole DHT network for JS
// nodes (hyperdht 6.34.0, @hyperswarm/dht 6.5.1), on 127.0.0.1 only.
//
// Three hypernatd processes are the bootstrap and storage nodes: the first
// a bootstrap node (mode persistent, fixed port, empty bootstrap list,
// dht.host 127.0.0.1), the other two persistent nodes that bootstrap from
// it.  JS nodes get exactly these three as their bootstrap list - never a
// public node - and announce, look up, find a server and connect through
// them.  The daemons are driven and inspected only through hypernatctl.
//
// Usage: node node_interop.js HYPERNATD HYPERNATCTL
// Prints "ok NAME" / "FAIL NAME: why" per case and a summary line
// "node-interop: N passed, N failed".  Daemons are stopped by pid on every
// exit, the temporary directory removed.
'use strict'

const fs = require('fs')
const os = require('os')
const path = require('path')
const crypto = require('crypto')
const { spawn, execFileSync } = require('child_process')

const HYPERNATD = process.argv[2] || 'build/hypernatd'
const HYPERNATCTL = process.argv[3] || 'build/hypernatctl'
const HOST = '127.0.0.1'

const HyperDHT = require('hyperdht')
const LegacyDHT = require('@hyperswarm/dht')
const sodium = require('sodium-universal')

function hash (buf) {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, buf)
  return out
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

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

async function collect (iter, ms) {
  const out = []
  await withTimeout((async () => { for await (const x of iter) out.push(x) })(), ms, 'query')
  return out
}

function hasKey (results, pk, field) {
  return results.some((r) => field === 'peer'
    ? r.peer && r.peer.publicKey.equals(pk)
    : r.peers && r.peers.some((p) => p.publicKey.equals(pk)))
}

// ------------------------------------------------------------ daemons

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-node-interop-'))
const daemons = []

function cleanup () {
  for (const d of daemons) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      try { process.kill(d.proc.pid, 'SIGKILL') } catch (e) {}
    }
  }
  fs.rmSync(TMP, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => process.exit(130))
}

function startDaemon (name, port, bootstrap) {
  const dir = path.join(TMP, name)
  fs.mkdirSync(dir)
  const conf = path.join(dir, 'hypernat.conf')
  fs.writeFileSync(conf, [
    'dht:',
    '  bootstrap: [' + bootstrap.join(', ') + ']',
    '  port: ' + port,
    '  host: ' + HOST,
    '  mode: persistent',
    'daemon:',
    '  control_group: ""',
    ''
  ].join('\n'))
  const sock = path.join(dir, 'control.sock')
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'w')
  const proc = spawn(HYPERNATD, ['-c', conf, '-s', sock, '-S',
    path.join(dir, 'state'), '-l', 'debug'], { stdio: ['ignore', log, log] })
  const d = { name, port, sock, proc, dir }
  daemons.push(d)
  return d
}

function daemonLog (d) {
  try {
    return fs.readFileSync(path.join(d.dir, 'daemon.log'), 'utf8')
  } catch (e) {
    return ''
  }
}

function status (d) {
  const out = execFileSync(HYPERNATCTL, ['-s', d.sock, '-j', 'status'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return JSON.parse(out).status
}

// Poll `hypernatctl -j status` until pred(status) or ms passed.
async function waitStatus (d, pred, ms, what) {
  const end = Date.now() + ms
  let last = null
  for (;;) {
    try {
      last = status(d)
      if (pred(last)) return last
    } catch (e) {}
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) {
      throw new Error(d.name + ' exited: ' + daemonLog(d).slice(-400))
    }
    if (Date.now() > end) {
      throw new Error(d.name + ': ' + what + '; last status ' +
        JSON.stringify(last && last.dht_node))
    }
    await sleep(200)
  }
}

function stopDaemon (d) {
  return new Promise((resolve) => {
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) {
      resolve(d.proc.exitCode)
      return
    }
    const t = setTimeout(() => { d.proc.kill('SIGKILL') }, 5000)
    d.proc.once('exit', (code) => { clearTimeout(t); resolve(code) })
    d.proc.kill('SIGTERM')
  })
}

// ------------------------------------------------------------ cases

let bootstrap = []

// The three daemons form a network: bootstrapped, persistent, reachable,
// each knows the others, and each learned (or was told) its address.
async function caseDaemonsFormNetwork () {
  const base = 20000 + crypto.randomInt(30000)
  const a = startDaemon('a', base, [])
  await waitStatus(a, (s) => s.dht_node && s.dht_node.bootstrapped, 10000,
    'bootstrap node not bootstrapped')
  const b = startDaemon('b', base + 1, [HOST + ':' + base])
  const c = startDaemon('c', base + 2, [HOST + ':' + base])
  bootstrap = daemons.map((d) => HOST + ':' + d.port)
  for (const d of daemons) {
    const s = await waitStatus(d, (s) => s.dht_node && s.dht_node.bootstrapped &&
      s.dht_node.persistent && !s.dht_node.firewalled &&
      s.dht_node.table_size >= 2, 30000, 'not persistent with 2 peers')
    check(s.dht_node.address === HOST + ':' + d.port,
      d.name + ' bound to ' + s.dht_node.address)
    check(s.dht_node.public_address === HOST + ':' + d.port,
      d.name + ' public address ' + s.dht_node.public_address)
  }
  check(status(a).dht_node.mode === 'bootstrap', 'a is not in bootstrap mode')
  check(status(b).dht_node.mode === 'persistent', 'b is not in persistent mode')
}

// JS nodes whose only bootstrap nodes are the daemons: announce + lookup
// (the records live on the daemons), findPeer of a JS server and a
// connection to it through the daemons' handshake forwarding.
async function caseJsUsesDaemons (DHT) {
  check(bootstrap.length === 3, 'no daemon network')
  const js = []
  try {
    for (let i = 0; i < 2; i++) {
      const d = new DHT({ bootstrap, ephemeral: true, host: HOST })
      await withTimeout(d.ready(), 15000, 'js ready')
      js.push(d)
    }
    check(js[0].toArray().length >= 3, 'JS node knows ' +
      js[0].toArray().length + ' nodes, want the 3 daemons')
    const topic = hash(Buffer.from('node interop ' + Date.now() + Math.random()))
    const kp = DHT.keyPair(hash(Buffer.from('node interop announcer')))
    await withTimeout(js[0].announce(topic, kp).finished(), 15000, 'announce')
    const res = await collect(js[1].lookup(topic), 15000)
    check(hasKey(res, kp.publicKey), 'JS lookup through the daemons did not find the JS announce')
    const holders = res.filter((r) => r.peers.some((p) => p.publicKey.equals(kp.publicKey)))
    const ports = new Set(holders.map((r) => r.from.port))
    check(daemons.every((d) => ports.has(d.port)),
      'not every daemon returned the record: ' + [...ports].join(','))
    const skp = DHT.keyPair(hash(Buffer.from('node interop server ' + Date.now())))
    const server = js[0].createServer((sock) => {
      sock.on('data', (d) => sock.write(d))
      sock.on('error', () => {})
    })
    await server.listen(skp)
    const fp = await collect(js[1].findPeer(skp.publicKey), 15000)
    check(hasKey(fp, skp.publicKey, 'peer'), 'findPeer through the daemons failed')
    const sock = js[1].connect(skp.publicKey)
    sock.on('error', () => {})
    const echo = await withTimeout(new Promise((resolve, reject) => {
      sock.once('open', () => sock.write(Buffer.from('ping')))
      sock.once('data', (d) => resolve(d.toString()))
      sock.once('error', reject)
    }), 15000, 'connect through the daemons')
    check(echo === 'ping', 'echo mismatch')
    sock.destroy()
    await server.close()
  } finally {
    for (const d of js.reverse()) await d.destroy().catch(() => {})
  }
}

// A persistent JS node joins: the daemons take it into their tables.
async function caseDaemonsLearnJs () {
  check(bootstrap.length === 3, 'no daemon network')
  const before = daemons.map((d) => status(d).dht_node.table_size)
  const d = new HyperDHT({ bootstrap, ephemeral: false, host: HOST })
  try {
    await withTimeout(d.ready(), 15000, 'js ready')
    const port = d.address().port
    await sleep(1000)
    const after = daemons.map((x) => status(x).dht_node.table_size)
    check(after.some((n, i) => n > before[i]),
      'no daemon table grew: ' + before + ' -> ' + after + ' (js port ' + port + ')')
  } finally {
    await d.destroy().catch(() => {})
  }
}

// SIGTERM stops every daemon cleanly (exit 0).
async function caseDaemonsStop () {
  check(daemons.length === 3, 'no daemons')
  for (const d of daemons) {
    const code = await stopDaemon(d)
    check(code === 0, d.name + ' exited with ' + code + ': ' + daemonLog(d).slice(-400))
  }
}

const CASES = [
  ['node-daemons-form-network', caseDaemonsFormNetwork],
  ['node-js-uses-daemons', () => caseJsUsesDaemons(HyperDHT)],
  ['node-legacy-js-uses-daemons', () => caseJsUsesDaemons(LegacyDHT)],
  ['node-daemons-learn-js', caseDaemonsLearnJs],
  ['node-daemons-stop', caseDaemonsStop]
]

async function main () {
  let passed = 0
  let failed = 0
  for (const [name, fn] of CASES) {
    try {
      await withTimeout(fn(), 90000, name)
      console.log('ok   ' + name)
      passed++
    } catch (err) {
      console.log('FAIL ' + name + ': ' + (err && err.message))
      failed++
    }
  }
  console.log('node-interop: ' + passed + ' passed, ' + failed + ' failed')
  process.exit(failed ? 1 : 0)
}

main()

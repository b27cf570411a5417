// interop.js - C DHT nodes (build/tests/unit/test_dht_udp tool) against the
// real JS stack (hyperdht 6.34.0, @hyperswarm/dht 6.5.1) on 127.0.0.1 only.
//
// Every JS node gets an explicit private bootstrap list; no public node is
// ever contacted.  Test-network trap (spec/dht.md §11, pitfall 19): the
// first node of a JS network is DHT.bootstrapper(port, '127.0.0.1'), which
// knows its own address and is persistent from the start.
//
// Usage: node interop.js [TOOL] [case...]
// Prints "ok NAME" / "FAIL NAME: why" per case and a summary line
// "dht-interop: N passed, N failed".
'use strict'

const path = require('path')
const { spawn } = require('child_process')
const readline = require('readline')
const crypto = require('crypto')

const ROOT = path.resolve(__dirname, '..', '..', '..')
const TOOL = process.argv[2] && !process.argv[2].startsWith('case')
  ? process.argv[2]
  : path.join(ROOT, 'build/tests/unit/test_dht_udp')
const ONLY = process.argv.slice(2).filter((a) => a.startsWith('case'))
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

function randomPort () {
  return 20000 + crypto.randomInt(30000)
}

// ------------------------------------------------------------ C tool

class CTool {
  constructor (args) {
    this.proc = spawn(TOOL, ['tool', ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.lines = []
    this.waiters = []
    this.exited = false
    this.proc.on('exit', () => { this.exited = true; this._wake() })
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => {
      if (process.env.DHT_INTEROP_DEBUG) console.error('C< ' + l)
      this.lines.push(l)
      this._wake()
    })
  }

  _wake () {
    for (const w of this.waiters.splice(0)) w()
  }

  send (cmd) {
    if (process.env.DHT_INTEROP_DEBUG) console.error('C> ' + cmd)
    this.proc.stdin.write(cmd + '\n')
  }

  // Wait for a line matching re (consumed), or fail after ms.
  async expect (re, ms = 15000) {
    const end = Date.now() + ms
    for (;;) {
      const i = this.lines.findIndex((l) => re.test(l))
      if (i >= 0) return this.lines.splice(i, 1)[0]
      if (this.exited) throw new Error('C tool exited waiting for ' + re)
      const left = end - Date.now()
      if (left <= 0) throw new Error('C tool: no line ' + re + ' (have: ' + this.lines.slice(-5).join(' | ') + ')')
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  // Run a command and collect lines until `done`/`value` for it.
  async run (cmd, name, ms = 20000) {
    this.lines = this.lines.filter((l) => !l.includes(' ' + name + ' '))
    this.send(cmd)
    const end = await this.expect(new RegExp('^(done|value) ' + name + ' '), ms)
    const peers = []
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith('peer ' + name + ' '))
      if (i < 0) break
      peers.push(this.lines.splice(i, 1)[0].split(' ')[2])
    }
    return { end, peers }
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

// ------------------------------------------------------------ JS networks

async function jsNetwork (DHT, n) {
  const port = randomPort()
  const boot = DHT.bootstrapper(port, HOST, { host: HOST })
  await boot.ready()
  const bootstrap = [HOST + ':' + port]
  const nodes = [boot]
  for (let i = 0; i < n; i++) {
    const d = new DHT({ bootstrap, ephemeral: false, host: HOST })
    await d.ready()
    nodes.push(d)
  }
  return { nodes, bootstrap, port }
}

async function destroyAll (nodes) {
  for (const d of nodes.reverse()) await d.destroy().catch(() => {})
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

function check (cond, why) {
  if (!cond) throw new Error(why)
}

// ------------------------------------------------------------ cases

// 1. A C node bootstraps from a JS network of persistent nodes and fills
//    its table; the JS nodes take it into theirs.
async function caseCJoinsJs (DHT = HyperDHT) {
  const net = await jsNetwork(DHT, 3)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  try {
    await c.expect(/^up 1$/)
    c.send('info')
    const info = await c.expect(/^info 0 /)
    check(/persistent=1/.test(info), 'C node not persistent: ' + info)
    const table = Number(/table=(\d+)/.exec(info)[1])
    check(table >= 4, 'C table has ' + table + ' nodes, want >= 4')
    const cport = Number(/127\.0\.0\.1:(\d+)/.exec(info)[1])
    await sleep(500)
    const seenBy = net.nodes.filter((d) => d.toArray().some((n) => n.port === cport)).length
    check(seenBy >= 1, 'no JS node has the C node in its table')
  } finally {
    await c.close()
    await destroyAll(net.nodes)
  }
}

// 2. JS nodes use a network whose bootstrap and storage nodes are all C.
async function caseJsUsesC (DHT = HyperDHT) {
  const c = new CTool(['--bootstrapper', '--port', String(randomPort()), '--nodes', '5'])
  const js = []
  try {
    await c.expect(/^up 1$/)
    const boot = /node 0 (\S+)/.exec(await c.expect(/^node 0 /))[1]
    for (let i = 0; i < 2; i++) {
      const d = new DHT({ bootstrap: [boot], ephemeral: true, host: HOST })
      await d.ready()
      js.push(d)
    }
    const topic = hash(Buffer.from('interop topic ' + Date.now()))
    const kp = DHT.keyPair(hash(Buffer.from('js announcer')))
    await withTimeout(js[0].announce(topic, kp).finished(), 15000, 'announce')
    const res = await collect(js[1].lookup(topic), 15000)
    check(hasKey(res, kp.publicKey), 'JS lookup through C nodes did not find the JS announce')
    check(res.filter((r) => r.peers.length).length >= 3, 'fewer than 3 C nodes returned the record')
    // a JS server listens via C relays; a JS client finds and connects
    const skp = DHT.keyPair(hash(Buffer.from('js server ' + Date.now())))
    const server = js[0].createServer((sock) => { sock.on('data', (d) => sock.write(d)); sock.on('error', () => {}) })
    await server.listen(skp)
    const fp = await collect(js[1].findPeer(skp.publicKey), 15000)
    check(hasKey(fp, skp.publicKey, 'peer'), 'findPeer through C relays failed')
    const sock = js[1].connect(skp.publicKey)
    sock.on('error', () => {})
    const echo = await withTimeout(new Promise((resolve, reject) => {
      sock.once('open', () => sock.write(Buffer.from('ping')))
      sock.once('data', (d) => resolve(d.toString()))
      sock.once('error', reject)
    }), 15000, 'connect through C relays')
    check(echo === 'ping', 'echo mismatch')
    sock.destroy()
    await server.close()
  } finally {
    await destroyAll(js)
    await c.close()
  }
}

// 3. C announces (a plain and a keypear key); JS lookup and findPeer see
//    it; after C unannounces it is gone.
async function caseCAnnounces (DHT = HyperDHT) {
  const net = await jsNetwork(DHT, 4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  const client = new DHT({ bootstrap: net.bootstrap, ephemeral: true, host: HOST })
  try {
    await c.expect(/^up 1$/)
    await client.ready()
    const seed = crypto.randomBytes(32).toString('hex')
    c.send('listen ' + seed)
    const pk1 = Buffer.from(/^listening 0 (\S+)/.exec(await c.expect(/^listening 0 /))[1], 'hex')
    c.send('listen ' + seed + ' tcp8080')
    const pk2 = Buffer.from(/^listening 1 (\S+)/.exec(await c.expect(/^listening 1 /))[1], 'hex')
    await sleep(2000)
    for (const [i, pk] of [[0, pk1], [1, pk2]]) {
      c.send('relays ' + i)
      const r = await c.expect(new RegExp('^relays ' + i + ' '))
      check(/ 3$/.test(r), 'C announcer has too few relays: ' + r)
      const fp = await collect(client.findPeer(pk), 15000)
      check(hasKey(fp, pk, 'peer'), 'JS findPeer does not see C key ' + i)
      const lk = await collect(client.lookup(hash(pk)), 15000)
      check(hasKey(lk, pk), 'JS lookup does not see C key ' + i)
    }
    c.send('unlisten 0')
    c.send('unlisten 1')
    await c.expect(/^unlistened 1/)
    await sleep(1500)
    for (const pk of [pk1, pk2]) {
      const fp = await collect(client.findPeer(pk), 15000)
      check(!hasKey(fp, pk, 'peer'), 'record still there after C unannounce')
    }
  } finally {
    await client.destroy()
    await c.close()
    await destroyAll(net.nodes)
  }
}

// 4. JS announces (topic and server); C lookup / findPeer see it.
async function caseJsAnnounces (DHT = HyperDHT) {
  const net = await jsNetwork(DHT, 4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  try {
    await c.expect(/^up 1$/)
    const topic = hash(Buffer.from('js topic ' + Date.now()))
    const kp = DHT.keyPair(hash(Buffer.from('js topic key')))
    await withTimeout(net.nodes[2].announce(topic, kp).finished(), 15000, 'announce')
    const r = await c.run('lookup ' + topic.toString('hex'), 'lookup')
    check(/ 0$/.test(r.end), 'C lookup failed: ' + r.end)
    check(r.peers.includes(kp.publicKey.toString('hex')), 'C lookup did not see the JS announce')
    const skp = DHT.keyPair(hash(Buffer.from('js server key ' + Date.now())))
    const server = net.nodes[3].createServer(() => {})
    await server.listen(skp)
    const f = await c.run('findpeer ' + skp.publicKey.toString('hex'), 'findpeer')
    check(f.peers.includes(skp.publicKey.toString('hex')), 'C findPeer did not see the JS server')
    await server.close()
  } finally {
    await c.close()
    await destroyAll(net.nodes)
  }
}

// 5. Mutable and immutable put by one side, get by the other.
async function caseStorage (DHT = HyperDHT) {
  const net = await jsNetwork(DHT, 4)
  const c = new CTool(['--bootstrap', net.bootstrap[0]])
  try {
    await c.expect(/^up 1$/)
    const js = net.nodes[1]
    // JS immutable put -> C get
    const v1 = Buffer.from('immutable from js ' + Date.now())
    const { hash: h1 } = await withTimeout(js.immutablePut(v1), 15000, 'immutablePut')
    let r = await c.run('iget ' + h1.toString('hex'), 'iget')
    check(r.end.split(' ')[3] === v1.toString('hex'), 'C immutableGet: ' + r.end)
    // C immutable put -> JS get
    const v2 = Buffer.from('immutable from c ' + Date.now())
    c.send('iput ' + v2.toString('hex'))
    const h2 = Buffer.from(/^ihash (\S+)/.exec(await c.expect(/^ihash /))[1], 'hex')
    await c.expect(/^done iput 0$/)
    const g2 = await withTimeout(js.immutableGet(h2), 15000, 'immutableGet')
    check(g2 && g2.value.equals(v2), 'JS immutableGet of the C put failed')
    // JS mutable put -> C get
    const seed = crypto.randomBytes(32)
    const kp = DHT.keyPair(seed)
    const m1 = Buffer.from('mutable from js')
    await withTimeout(js.mutablePut(kp, m1, { seq: 1 }), 15000, 'mutablePut')
    r = await c.run('mget ' + kp.publicKey.toString('hex') + ' 0', 'mget')
    const parts = r.end.split(' ')
    check(parts[2] === '0' && parts[3] === m1.toString('hex') && parts[4] === '1', 'C mutableGet: ' + r.end)
    // C mutable put (seq 2) -> JS get
    const m2 = Buffer.from('mutable from c')
    c.send('mput ' + seed.toString('hex') + ' 2 ' + m2.toString('hex'))
    await c.expect(/^done mput 0$/)
    const g = await withTimeout(js.mutableGet(kp.publicKey, { latest: true }), 15000, 'mutableGet')
    check(g && g.seq === 2 && g.value.equals(m2), 'JS mutableGet of the C put: ' + JSON.stringify(g && { seq: g.seq }))
  } finally {
    await c.close()
    await destroyAll(net.nodes)
  }
}

const CASES = [
  ['case1-c-joins-js', () => caseCJoinsJs()],
  ['case2-js-uses-c', () => caseJsUsesC()],
  ['case3-c-announces', () => caseCAnnounces()],
  ['case4-js-announces', () => caseJsAnnounces()],
  ['case5-storage', () => caseStorage()],
  ['case6-legacy-js-uses-c', () => caseJsUsesC(LegacyDHT)],
  ['case6-legacy-c-announces', () => caseCAnnounces(LegacyDHT)],
  ['case6-legacy-js-announces', () => caseJsAnnounces(LegacyDHT)]
]

async function main () {
  let passed = 0
  let failed = 0
  for (const [name, fn] of CASES) {
    if (ONLY.length && !ONLY.some((o) => name.startsWith(o))) continue
    try {
      await withTimeout(fn(), 90000, name)
      console.log('ok   ' + name)
      passed++
    } catch (err) {
      console.log('FAIL ' + name + ': ' + (err && err.message))
      failed++
    }
  }
  console.log('dht-interop: ' + passed + ' passed, ' + failed + ' failed')
  process.exit(failed ? 1 : 0)
}

main()

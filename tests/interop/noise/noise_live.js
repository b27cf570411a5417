#!/usr/bin/env node
// noise_live.js PEER - live cross-check of daemon/noise against the real JS
//
// PEER is the C program built from noise_peer.c.  For each JS stack
// (hyperdht 6.34.0 with noise-handshake 4.2.0, @hyperswarm/dht 6.5.1 with
// noise-handshake 3.1.0) and each direction (JS client -> C server, C client
// -> JS server) this runs the real NoiseWrap handshake against the C one,
// then a real @hyperswarm/secret-stream NoiseSecretStream against the C
// SecretStream (frames split at random points, echoed back), unordered
// messages both ways, a raw plaintext message, and the secure holepunch
// payload both ways.  Every byte travels over the C program's stdin/stdout;
// there is no network.  Prints "ok NAME" / "FAIL NAME: why" per check and a
// last line "noise-live: N passed, N failed".
'use strict'
const { spawn } = require('child_process')
const readline = require('readline')
const path = require('path')
const sodium = require('sodium-native')
const { Duplex } = require('streamx')
const SecretStream = require('@hyperswarm/secret-stream')

const peerBin = process.argv[2]
let passed = 0
let failed = 0

function check (name, cond, why) {
  if (cond) {
    passed++
    console.log('ok   ' + name)
  } else {
    failed++
    console.log('FAIL ' + name + (why ? ': ' + why : ''))
  }
}

const hex = (b) => (b.length ? Buffer.from(b).toString('hex') : '-')
const unhex = (s) => (s === '-' ? Buffer.alloc(0) : Buffer.from(s, 'hex'))
const rand = (n) => { const b = Buffer.alloc(n); sodium.randombytes_buf(b); return b }
const tick = () => new Promise((resolve) => setImmediate(resolve))

// One stack: its own NoiseWrap, messages and secure payload, as hyperdht
// (or @hyperswarm/dht) itself loads them.
function loadStack (pkg) {
  const dir = path.dirname(require.resolve(pkg + '/package.json'))
  const req = (m) => require(path.join(dir, m))
  const c = require(require.resolve('compact-encoding', { paths: [dir] }))
  const nh = require(require.resolve('noise-handshake/package.json', { paths: [dir] }))
  return {
    name: pkg + '@' + require(path.join(dir, 'package.json')).version +
      ' (noise-handshake ' + nh.version + ')',
    NoiseWrap: req('lib/noise-wrap.js'),
    m: req('lib/messages.js'),
    HolepunchPayload: req('lib/secure-payload.js'),
    c,
    modern: pkg === 'hyperdht'
  }
}

// The C program, one request at a time: send a line, get the lines up to
// "done" back as [tag, value] pairs.
class Peer {
  constructor (bin) {
    this.proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.lines = []
    this.waiting = null
    this.exited = false
    this.failWaiting = null
    this.proc.on('exit', (code, sig) => {
      this.exited = true
      if (this.waiting) this.failWaiting(new Error('noise_peer exited ' + (sig || code)))
      this.waiting = null
    })
    this.proc.stdin.on('error', () => {})
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => {
      if (l === 'done') {
        const w = this.waiting
        const got = this.lines
        this.waiting = null
        this.lines = []
        w(got)
      } else {
        const i = l.indexOf(' ')
        this.lines.push(i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)])
      }
    })
  }

  // A peer that crashes or hangs fails the running direction, not the run.
  cmd (line) {
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error('noise_peer exited'))
      const timer = setTimeout(() => reject(new Error('noise_peer timed out on ' + line.slice(0, 40))), 20000)
      this.waiting = (got) => { clearTimeout(timer); resolve(got) }
      this.failWaiting = (e) => { clearTimeout(timer); reject(e) }
      this.proc.stdin.write(line + '\n')
    })
  }

  close () {
    this.proc.stdin.end('quit\n')
  }
}

const get = (lines, tag) => lines.filter(([t]) => t === tag).map(([, v]) => v)
const errors = (lines) => get(lines, 'error')

class FakeRaw extends Duplex {
  constructor () {
    super()
    this.written = []
    this.sent = []
  }

  _write (data, cb) { this.written.push(Buffer.from(data)); cb(null) }
  _read (cb) { cb(null) }
  send (buf) { this.sent.push(Buffer.from(buf)); return Promise.resolve(true) }
  trySend (buf) { this.sent.push(Buffer.from(buf)) }
}

// Handshake with the JS side as client (initiator) or server.
async function handshake (st, peer, jsIsClient, tag) {
  const seedC = rand(32)
  const kpC = { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(64) }
  const seedS = rand(32)
  const kpS = { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(64) }
  sodium.crypto_sign_seed_keypair(kpC.publicKey, kpC.secretKey, seedC)
  sodium.crypto_sign_seed_keypair(kpS.publicKey, kpS.secretKey, seedS)
  const enc = (p) => Buffer.from(st.c.encode(st.m.noisePayload, p))

  if (jsIsClient) {
    const r0 = await peer.cmd('init responder ' + hex(seedS))
    check(tag + ' server key from seed', get(r0, 'pk')[0] === hex(kpS.publicKey))
    const nw = new st.NoiseWrap(kpC, kpS.publicKey)
    const p1 = {
      error: 0,
      firewall: 0,
      holepunch: null,
      addresses4: [{ host: '10.1.2.3', port: 4567 }],
      addresses6: [],
      udx: { reusableSocket: false, id: 0x7ffffff1, seq: 0 },
      secretStream: {},
      relayThrough: st.modern ? { publicKey: rand(32), token: rand(32) } : null
    }
    const msg1 = nw.send(p1)
    const r = await peer.cmd('msg1 ' + hex(msg1))
    check(tag + ' C server read msg1', errors(r).length === 0, errors(r).join(','))
    check(tag + ' payload1 decoded and re-encoded by C', get(r, 'payload1')[0] === hex(enc(p1)))
    check(tag + ' C server learned client key', get(r, 'remote')[0] === hex(kpC.publicKey))
    const p2 = nw.recv(unhex(get(r, 'msg2')[0] || '-'))
    const sent = get(r, 'sent')[0]
    if (st.modern) {
      check(tag + ' JS decoded C payload2', hex(enc(p2)) === sent)
    } else {
      // 6.5.1 does not know relayAddresses (flag 64): it ignores it
      check(tag + ' JS 6.5.1 decoded C payload2',
        p2.udx && p2.udx.id === 0x0badf00d && p2.holepunch && p2.holepunch.id === 3 &&
        p2.firewall === 2 && p2.addresses4[0].host === '192.168.7.9' &&
        p2.holepunch.relays[0].peerAddress.port === 40001)
    }
    const fin = nw.final()
    check(tag + ' handshake hash equal', get(r, 'hash')[0] === hex(fin.hash))
    return fin
  }

  const r0 = await peer.cmd('init initiator ' + hex(seedC) + ' ' + hex(kpS.publicKey))
  check(tag + ' client key from seed', get(r0, 'pk')[0] === hex(kpC.publicKey))
  const r1 = await peer.cmd('start')
  const nw = new st.NoiseWrap(kpS, null)
  const p1 = nw.recv(unhex(get(r1, 'msg1')[0] || '-'))
  check(tag + ' JS server decoded C payload1', hex(enc(p1)) === get(r1, 'sent')[0])
  check(tag + ' JS server learned C client key', hex(nw.remotePublicKey) === hex(kpC.publicKey))
  const p2 = {
    error: 0,
    firewall: 1,
    holepunch: { id: 5, relays: [{ relayAddress: { host: '1.2.3.4', port: 5 }, peerAddress: { host: '6.7.8.9', port: 10 } }] },
    addresses4: [{ host: '198.51.100.1', port: 40000 }, { host: '10.0.0.2', port: 40000 }],
    addresses6: [],
    udx: { reusableSocket: true, id: 1234567, seq: 0 },
    secretStream: {},
    relayThrough: null,
    relayAddresses: st.modern ? [{ host: '203.0.113.9', port: 49737 }] : null
  }
  const msg2 = nw.send(p2)
  const r = await peer.cmd('msg2 ' + hex(msg2))
  check(tag + ' C client read msg2', errors(r).length === 0, errors(r).join(','))
  check(tag + ' payload2 decoded and re-encoded by C', get(r, 'payload2')[0] === hex(enc(p2)))
  const fin = nw.final()
  check(tag + ' handshake hash equal', get(r, 'hash')[0] === hex(fin.hash))
  return fin
}

// Random split points, so the C parser sees frames cut and glued.
function chunks (buf) {
  const out = []
  for (let off = 0; off < buf.length;) {
    const n = Math.min(buf.length - off, 1 + Math.floor(Math.random() * 700))
    out.push(buf.subarray(off, off + n))
    off += n
  }
  return out
}

async function stream (st, peer, fin, tag) {
  const raw = new FakeRaw()
  // hyperdht 6.34 turns the 5 s keep-alive on (and so filters empty
  // frames); @hyperswarm/dht 6.5.1 does not
  const ss = new SecretStream(fin.isInitiator, raw, {
    handshake: { tx: fin.tx, rx: fin.rx, hash: fin.hash, publicKey: fin.publicKey, remotePublicKey: fin.remotePublicKey },
    keepAlive: st.modern ? 5000 : 0
  })
  const data = []
  const msgs = []
  let err = null
  ss.on('data', (d) => data.push(Buffer.from(d)))
  ss.on('message', (d) => msgs.push(Buffer.from(d)))
  ss.on('error', (e) => { err = e })

  const feedJs = (lines) => { for (const v of get(lines, 'raw')) raw.push(unhex(v)) }
  const flushToC = async () => {
    const all = Buffer.concat(raw.written)
    raw.written = []
    const cData = []
    for (const piece of chunks(all)) {
      const r = await peer.cmd('raw ' + hex(piece))
      if (errors(r).length) return { error: errors(r).join(','), cData }
      cData.push(...get(r, 'data').map(unhex))
      feedJs(r)
    }
    return { error: null, cData }
  }

  feedJs(await peer.cmd('ss'))
  await tick()
  // (no trailing empty write: streamx 2.28 leaves a zero-length write
  // that is queued behind others in the queue until the next write)
  const sizes = [0, 1, 5, 100, 1200, 5000, 65536, 100000]
  const sentMsgs = sizes.map((n) => rand(n))
  for (const b of sentMsgs) ss.write(b)
  for (let i = 0; i < 5; i++) await tick()
  const { error, cData } = await flushToC()
  check(tag + ' C accepted the JS header and frames', error === null, error)
  check(tag + ' C decrypted every JS frame', cData.length === sentMsgs.length &&
    cData.every((b, i) => b.equals(sentMsgs[i])), cData.length + ' of ' + sentMsgs.length + ' ' + cData.map((b) => b.length))
  for (let i = 0; i < 5; i++) await tick()
  const got = Buffer.concat(data)
  check(tag + ' JS decrypted the C header and echoed frames', err === null &&
    got.equals(Buffer.concat(sentMsgs)), err ? err.message : got.length + ' bytes')

  // a message written by C on its own, after an empty one (a keep-alive)
  data.length = 0
  const extra = Buffer.from('from the C side')
  feedJs(await peer.cmd('write -'))
  feedJs(await peer.cmd('write ' + hex(extra)))
  for (let i = 0; i < 5; i++) await tick()
  check(tag + ' C write reaches JS', err === null && Buffer.concat(data).equals(extra))
  check(tag + ' empty frame ' + (st.modern ? 'dropped by' : 'delivered to') + ' JS',
    data.length === (st.modern ? 1 : 2) && data[data.length - 1].equals(extra), data.length + ' chunks')

  // unordered messages both ways
  const um = rand(300)
  ss.send(um)
  const box = raw.sent.shift()
  const r = await peer.cmd('umsg ' + hex(box || Buffer.alloc(0)))
  check(tag + ' C opened JS send()', get(r, 'umsg-ok')[0] === hex(um))
  raw.emit('message', unhex(get(r, 'usend')[0] || '-'))
  check(tag + ' JS opened C box', msgs.length === 1 && msgs[0].equals(Buffer.from(um).reverse()))
  const rr = await peer.cmd('umsg ' + hex(Buffer.from('plain raw udx message')))
  check(tag + ' raw plaintext message is not a secret message', get(rr, 'umsg-bad').length === 1)

  // secure holepunch payload both ways
  const hp = new st.HolepunchPayload(fin.holepunchSecret)
  const payload = {
    error: 0,
    firewall: 2,
    round: 1,
    connected: false,
    punching: true,
    addresses: [{ host: '198.51.100.20', port: 51000 }],
    remoteAddress: { host: '198.51.100.7', port: 40001 },
    token: rand(32),
    remoteToken: rand(32)
  }
  const rh = await peer.cmd('hp ' + hex(hp.encrypt(payload)))
  check(tag + ' C opened JS holepunch payload',
    get(rh, 'hp-ok')[0] === hex(st.c.encode(st.m.holepunchPayload, payload)))
  const back = hp.decrypt(unhex(get(rh, 'hpsend')[0] || '-'))
  check(tag + ' JS opened C holepunch payload', back !== null &&
    back.round === 1 && back.punching && back.token.equals(payload.token) &&
    back.remoteToken.equals(payload.remoteToken) &&
    back.remoteAddress.port === 40001 && back.addresses[0].host === '198.51.100.20')
  ss.destroy()
}

async function main () {
  for (const pkg of ['hyperdht', '@hyperswarm/dht']) {
    const st = loadStack(pkg)
    console.log('# ' + st.name)
    for (const jsIsClient of [true, false]) {
      const tag = (st.modern ? '6.34' : '6.5.1') + (jsIsClient ? ' js->c' : ' c->js')
      const peer = new Peer(peerBin)
      try {
        const fin = await handshake(st, peer, jsIsClient, tag)
        await stream(st, peer, fin, tag)
      } catch (e) {
        check(tag + ' ran to the end', false, e.stack)
      }
      peer.close()
    }
  }
  console.log('noise-live: ' + passed + ' passed, ' + failed + ' failed')
  process.exit(failed ? 1 : 0)
}

main()

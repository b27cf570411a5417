#!/usr/bin/env node
'use strict'
/*
 * gen-vectors.js - known-answer vectors for the C unit tests (tests/unit/vectors.kv).
 *
 * Every value printed here is computed by the real JavaScript packages that
 * hyper-nat / HyperDHT run (installed from package-lock.json in this directory
 * with `npm ci`): compact-encoding, dht-rpc's lib/peer.js, hyperdht's
 * lib/messages.js and lib/constants.js, hypercore-crypto, bs58, keypear and
 * sodium-native. Nothing is re-implemented; where two package versions are in
 * the tree (compact-encoding 3.x used by hyperdht 6.34 / dht-rpc 6.27 and
 * compact-encoding 2.x used by @hyperswarm/dht 6.5.1, which hyper-nat runs),
 * both are run and must agree for a row to be emitted.
 *
 * Usage:
 *   cd tests/interop && npm ci && node gen-vectors.js > ../unit/vectors.kv
 *
 * Deterministic: "random-looking" inputs are BLAKE2b-256 of a label and a
 * counter. The script never creates a DHT node and opens no socket.
 *
 * Output: one record per line, fields separated by single spaces, '#' lines
 * are comments, '-' stands for an empty byte string / absent value / empty
 * list. Hex is lowercase. See the record list in the header of the output.
 *
 * Exits non-zero (message on stderr) if a package is missing or any
 * self-check fails.
 */

const path = require('path')

function die (msg) {
  process.stderr.write('gen-vectors: ' + msg + '\n')
  process.exit(1)
}

function check (cond, msg) {
  if (!cond) die('self-check failed: ' + msg)
}

// ---------------------------------------------------------------------------
// package loading (each resolved the way the consuming package resolves it)
// ---------------------------------------------------------------------------
function resolveFrom (request, fromDir) {
  try {
    return require.resolve(request, { paths: [fromDir] })
  } catch (err) {
    die(`required package '${request}' not found from ${fromDir} (run 'npm ci' in ${__dirname}): ${err.message}`)
  }
}
function pkgDir (name, fromDir = __dirname) {
  try {
    return path.dirname(require.resolve(name + '/package.json', { paths: [fromDir] }))
  } catch (err) {
    if (err.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') resolveFrom(name + '/package.json', fromDir) // dies with a message
  }
  // package.json not exported (e.g. bs58): walk up from the resolved entry point
  let dir = path.dirname(resolveFrom(name, fromDir))
  for (;;) {
    const pj = path.join(dir, 'package.json')
    try {
      if (require(pj).name === name) return dir
    } catch {}
    const up = path.dirname(dir)
    if (up === dir) die(`cannot find the package.json of ${name}`)
    dir = up
  }
}
function load (request, fromDir = __dirname) {
  return require(resolveFrom(request, fromDir))
}
function version (dir) {
  return require(path.join(dir, 'package.json')).version
}

const HYPERDHT_DIR = pkgDir('hyperdht')
const DHTRPC_DIR = pkgDir('dht-rpc', HYPERDHT_DIR)
const CE_DIR = pkgDir('compact-encoding', HYPERDHT_DIR) // what hyperdht itself uses
const CE_RPC_DIR = pkgDir('compact-encoding', DHTRPC_DIR)
const HYPERNAT_DIR = pkgDir('hyper-nat')
const LEGACY_DIR = pkgDir('@hyperswarm/dht', HYPERNAT_DIR) // what hyper-nat uses
const CE2_DIR = pkgDir('compact-encoding', LEGACY_DIR)
const KEYPEAR_DIR = pkgDir('keypear', HYPERNAT_DIR)
const BS58_DIR = pkgDir('bs58', HYPERNAT_DIR)
const HCRYPTO_DIR = pkgDir('hypercore-crypto', HYPERDHT_DIR)
const SSTREAM_DIR = pkgDir('@hyperswarm/secret-stream', HYPERDHT_DIR)
const SS_HCRYPTO_DIR = pkgDir('hypercore-crypto', SSTREAM_DIR)
const SODIUM_DIR = pkgDir('sodium-native', KEYPEAR_DIR) // the binding keypear calls

const c = load('compact-encoding', HYPERDHT_DIR)
const c2 = load('compact-encoding', LEGACY_DIR)
check(CE_DIR === CE_RPC_DIR, 'hyperdht and dht-rpc resolve the same compact-encoding')
const DHT = load('hyperdht')
const hm = load('hyperdht/lib/messages', HYPERDHT_DIR)
const hconst = load('hyperdht/lib/constants', HYPERDHT_DIR)
const rpcPeer = load('dht-rpc/lib/peer', HYPERDHT_DIR)
const LegacyDHT = load('@hyperswarm/dht', HYPERNAT_DIR)
const legacyMessages = load('@hyperswarm/dht/lib/messages', HYPERNAT_DIR)
const legacyConst = load('@hyperswarm/dht/lib/constants', HYPERNAT_DIR)
const Keychain = load('keypear', HYPERNAT_DIR)
const bs58 = load('bs58', HYPERNAT_DIR).default
const hcrypto = load('hypercore-crypto', HYPERDHT_DIR)
const ssHcrypto = load('hypercore-crypto', SSTREAM_DIR)
const sodium = load('sodium-native', KEYPEAR_DIR)

check(bs58 && typeof bs58.encode === 'function' && typeof bs58.decode === 'function', 'bs58 exports default.encode/decode (as hyper-nat uses it)')

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------
const out = []
const emit = (...fields) => {
  for (const f of fields) check(typeof f === 'string' && f.length > 0 && !/\s/.test(f), `field ${JSON.stringify(f)} is non-empty and has no whitespace`)
  out.push(fields.join(' '))
}
const comment = (s) => out.push('# ' + s)

const hex = (b) => (b === null || b === undefined || b.length === 0 ? '-' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'))
const unhex = (h) => (h === '-' ? Buffer.alloc(0) : Buffer.from(h, 'hex'))
const eq = (a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
const addr = (a) => `${a.host}:${a.port}`
const addrs = (l) => (l.length === 0 ? '-' : l.map(addr).join(','))

// BLAKE2b-256 via sodium-native (also used for the deterministic filler)
function blake2b (input, key) {
  const o = Buffer.alloc(32)
  if (key) sodium.crypto_generichash(o, input, key)
  else sodium.crypto_generichash(o, input)
  return o
}
// n deterministic bytes: BLAKE2b-256(label || uint32le(counter)) blocks
function det (label, n) {
  const blocks = []
  let have = 0
  for (let i = 0; have < n; i++) {
    const ctr = Buffer.alloc(4)
    ctr.writeUInt32LE(i)
    const b = blake2b(Buffer.concat([Buffer.from(label), ctr]))
    blocks.push(b)
    have += b.length
  }
  return Buffer.concat(blocks).subarray(0, n)
}

// encode with a codec object of either compact-encoding version
function enc (codec, value) {
  const state = { start: 0, end: 0, buffer: null }
  codec.preencode(state, value)
  state.buffer = Buffer.alloc(state.end)
  codec.encode(state, value)
  check(state.start === state.end, 'encoder filled exactly the preencoded size')
  return state.buffer
}
// decode; returns { value, consumed }
function dec (codec, buf) {
  const state = { start: 0, end: buf.length, buffer: buf }
  const value = codec.decode(state)
  return { value, consumed: state.start }
}
function throws (codec, buf) {
  try {
    dec(codec, buf)
    return false
  } catch {
    return true
  }
}

// ---------------------------------------------------------------------------
// header
// ---------------------------------------------------------------------------
out.push(`# generated by tests/interop/gen-vectors.js with hyperdht ${version(HYPERDHT_DIR)} keypear ${version(KEYPEAR_DIR)} bs58 ${version(BS58_DIR)} compact-encoding ${version(CE_DIR)}`)
comment(`also: dht-rpc ${version(DHTRPC_DIR)}, @hyperswarm/dht ${version(LEGACY_DIR)} (used by hyper-nat ${version(HYPERNAT_DIR)}) with compact-encoding ${version(CE2_DIR)}, hypercore-crypto ${version(HCRYPTO_DIR)}, @hyperswarm/secret-stream ${version(SSTREAM_DIR)}, sodium-native ${version(SODIUM_DIR)}`)
comment('do not edit: regenerate with  cd tests/interop && npm ci && node gen-vectors.js > ../unit/vectors.kv')
comment('format: one record per line, single-space separated, "-" = empty bytes / absent / empty list, lowercase hex')
comment('<addr> = a.b.c.d:port, <addrs> = comma-separated <addr> list or "-"')
comment('encoding rows are produced by compact-encoding ' + version(CE_DIR) + ' (hyperdht/dht-rpc) and checked byte-equal with ' + version(CE2_DIR) + ' (@hyperswarm/dht 6.5.1)')

// ---------------------------------------------------------------------------
// uint
// ---------------------------------------------------------------------------
comment('uint <decimal> <hex>: compact-encoding uint (shortest form)')
const uintValues = [0, 1, 2, 100, 127, 128, 251, 252, 253, 254, 255, 256, 1000, 0x7fff, 0x8000, 65534, 65535, 65536, 65537,
  0x100000, 0x1000000, 0x7fffffff, 0x80000000, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 0x123456789a, 2 ** 40,
  2 ** 48 - 1, 2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1]
for (const n of uintValues) {
  const e = enc(c.uint, n)
  check(eq(e, enc(c2.uint, n)), `uint ${n} same in both compact-encoding versions`)
  const d = dec(c.uint, e)
  check(d.value === n && d.consumed === e.length, `uint ${n} round-trips`)
  emit('uint', String(n), hex(e))
}

comment('uint_decode <hex> <decimal>: inputs compact-encoding decodes (whole input consumed), incl. non-minimal forms')
const uintDecodeInputs = [
  '00', '01', 'fc', 'fdfd00', 'fdffff', 'fe00000100', 'feffffffff', 'ff0000000001000000', 'ffffffffffffff1f00',
  // non-minimal encodings the JS decoder accepts
  'fd0000', 'fd0500', 'fdfc00', 'fe05000000', 'fe00000000', 'feffff0000', 'ff0500000000000000', 'ff0000000000000000',
  'ffffffffff00000000', 'ff0000010000000000'
]
for (const h of uintDecodeInputs) {
  const b = unhex(h)
  const d = dec(c.uint, b)
  const d2 = dec(c2.uint, b)
  check(d.consumed === b.length && d2.consumed === b.length, `uint_decode ${h} consumes the whole input`)
  check(d.value === d2.value && Number.isSafeInteger(d.value), `uint_decode ${h} same value in both versions`)
  emit('uint_decode', h, String(d.value))
}

// ---------------------------------------------------------------------------
// fixed-width integers
// ---------------------------------------------------------------------------
const fixedInts = [
  ['uint16', [0, 1, 0x1234, 49737, 65535]],
  ['uint32', [0, 1, 0x12345678, 0x80000000, 2 ** 32 - 1]],
  ['uint64', [0, 1, 2 ** 32 - 1, 2 ** 32, 0x123456789abc, 2 ** 53 - 1]]
]
for (const [name, values] of fixedInts) {
  comment(`${name} <decimal> <hex>: compact-encoding ${name} (fixed little-endian)`)
  for (const n of values) {
    const e = enc(c[name], n)
    check(eq(e, enc(c2[name], n)), `${name} ${n} same in both versions`)
    check(dec(c[name], e).value === n, `${name} ${n} round-trips`)
    emit(name, String(n), hex(e))
  }
}

// ---------------------------------------------------------------------------
// buffer / string / fixed
// ---------------------------------------------------------------------------
comment('buffer <content hex or -> <encoding hex>: compact-encoding buffer (uint length + bytes)')
const bufferLens = [0, 1, 2, 32, 252, 253, 254, 255, 256, 300, 65535, 65536, 70000]
for (const n of bufferLens) {
  const content = n === 0 ? Buffer.alloc(0) : det('buffer' + n, n)
  const e = enc(c.buffer, content)
  check(eq(e, enc(c2.buffer, content)), `buffer len ${n} same in both versions`)
  const d = dec(c.buffer, e)
  check(d.consumed === e.length && eq(d.value, content), `buffer len ${n} round-trips`)
  emit('buffer', hex(content), hex(e))
}
{
  // hyperdht 6.5.1's compact-encoding (2.x) also accepts null, which is the same single 00 byte
  check(hex(enc(c2.buffer, null)) === '00', 'compact-encoding 2.x encodes a null buffer as 00')
}

comment('buffer_decode <encoding hex> <content hex or ->: what compact-encoding buffer decode returns (00 = empty/absent;')
comment('  compact-encoding ' + version(CE_DIR) + ' returns an empty buffer for 00, ' + version(CE2_DIR) + ' returns null)')
const bufferDecodeInputs = ['00', '0141', '03aabbcc', 'fd0300aabbcc', 'fe03000000aabbcc', 'ff0300000000000000aabbcc', 'fd0000', 'fe00000000',
  'fc' + det('bd252', 252).toString('hex'), 'fdfd00' + det('bd253', 253).toString('hex')]
for (const h of bufferDecodeInputs) {
  const b = unhex(h)
  const d = dec(c.buffer, b)
  const d2 = dec(c2.buffer, b)
  check(d.consumed === b.length && d2.consumed === b.length, `buffer_decode ${h.slice(0, 20)} consumes the whole input`)
  const v2 = d2.value === null ? Buffer.alloc(0) : d2.value
  check(eq(d.value, v2), `buffer_decode ${h.slice(0, 20)} same in both versions`)
  if (d.value.length === 0) check(d2.value === null, '2.x decodes a zero length buffer as null')
  emit('buffer_decode', h, hex(d.value))
}

comment('string <utf8 content hex or -> <encoding hex>: compact-encoding string (utf8 as buffer)')
const strings = ['', 'a', 'hello', 'hyperswarm/dht', 'h\u00e9llo w\u00f6rld \u2713', '\u{1f600}', 'x'.repeat(64), 'y'.repeat(65),
  'z'.repeat(253), '\u00e9'.repeat(200)]
for (const s of strings) {
  const e = enc(c.string, s)
  check(eq(e, enc(c2.string, s)), `string ${JSON.stringify(s.slice(0, 10))} same in both versions`)
  check(dec(c.string, e).value === s, 'string round-trips')
  emit('string', hex(Buffer.from(s, 'utf8')), hex(e))
}

for (const [name, n] of [['fixed32', 32], ['fixed64', 64]]) {
  comment(`${name} <hex> <hex>: compact-encoding ${name} (raw bytes)`)
  for (const content of [Buffer.alloc(n), Buffer.alloc(n, 0xff), det(name + 'a', n), det(name + 'b', n)]) {
    const e = enc(c[name], content)
    check(eq(e, enc(c2[name], content)), `${name} same in both versions`)
    check(eq(dec(c[name], e).value, content), `${name} round-trips`)
    emit(name, hex(content), hex(e))
  }
}

// ---------------------------------------------------------------------------
// ipv4 / ipv4 arrays / peer
// ---------------------------------------------------------------------------
const ADDRS = [
  { host: '0.0.0.0', port: 0 },
  { host: '127.0.0.1', port: 49737 },
  { host: '88.99.3.86', port: 49737 },
  { host: '10.0.0.1', port: 1 },
  { host: '192.168.1.20', port: 256 },
  { host: '255.255.255.255', port: 65535 },
  { host: '1.2.3.4', port: 5678 }
]
comment('ipv4 <addr> <hex>: dht-rpc lib/peer.js ipv4 (4 octets in dotted order, port uint16 LE)')
for (const a of ADDRS) {
  const e = enc(rpcPeer.ipv4, a)
  check(eq(e, enc(c2.ipv4Address, a)), `ipv4 ${addr(a)} same as compact-encoding 2.x ipv4Address`)
  const d = dec(rpcPeer.ipv4, e)
  check(d.value.host === a.host && d.value.port === a.port && d.consumed === 6, `ipv4 ${addr(a)} round-trips`)
  emit('ipv4', addr(a), hex(e))
}

comment('ipv4_array <addrs> <hex>: dht-rpc lib/peer.js ipv4Array (uint count + entries)')
const addrLists = [[], [ADDRS[1]], [ADDRS[2], ADDRS[4]], ADDRS.slice(0, 3), ADDRS]
for (const l of addrLists) {
  const e = enc(rpcPeer.ipv4Array, l)
  const d = dec(rpcPeer.ipv4Array, e)
  check(d.consumed === e.length && addrs(d.value) === addrs(l), `ipv4_array ${addrs(l)} round-trips`)
  emit('ipv4_array', addrs(l), hex(e))
}

comment('peer <publicKey hex> <relay addrs> <hex>: hyperdht lib/messages.js peer (fixed32 publicKey + ipv4 array)')
const peers = [
  { publicKey: det('peer-pk-0', 32), relayAddresses: [] },
  { publicKey: det('peer-pk-1', 32), relayAddresses: [ADDRS[2]] },
  { publicKey: det('peer-pk-2', 32), relayAddresses: [ADDRS[1], ADDRS[4], ADDRS[5]] },
  { publicKey: Buffer.alloc(32, 0xff), relayAddresses: [ADDRS[6], ADDRS[3]] }
]
for (const p of peers) {
  const e = enc(hm.peer, p)
  check(eq(e, enc(legacyMessages.peer, p)), 'peer encoding same in @hyperswarm/dht 6.5.1')
  const d = dec(hm.peer, e)
  check(d.consumed === e.length && eq(d.value.publicKey, p.publicKey) && addrs(d.value.relayAddresses) === addrs(p.relayAddresses), 'peer round-trips')
  emit('peer', hex(p.publicKey), addrs(p.relayAddresses), hex(e))
}

// ---------------------------------------------------------------------------
// decode errors (only rows where the decoders really throw, in both versions)
// ---------------------------------------------------------------------------
comment('decode_error <type> <hex or ->: inputs the JS decoders reject (checked with compact-encoding ' + version(CE_DIR) + ' / dht-rpc / hyperdht')
comment('  and with compact-encoding ' + version(CE2_DIR) + ' / @hyperswarm/dht 6.5.1; a row is emitted only if both throw)')
const errorCases = {
  uint: {
    codecs: [c.uint, c2.uint],
    inputs: ['-', 'fd', 'fd00', 'fe', 'fe000000', 'ff', 'ff00000000000000']
  },
  buffer: {
    codecs: [c.buffer, c2.buffer],
    inputs: ['-', '01', '05aabbccdd', 'fd', 'fd0001' + '00'.repeat(255), 'fe000001', 'ff0100000000000000']
  },
  fixed32: {
    codecs: [c.fixed32, c2.fixed32],
    inputs: ['-', '00', '00'.repeat(31), det('f31', 31).toString('hex')]
  },
  ipv4: {
    codecs: [rpcPeer.ipv4, c.ipv4Address, c2.ipv4Address],
    inputs: ['-', '7f', '7f000001', '7f00000149']
  },
  ipv4_array: {
    codecs: [rpcPeer.ipv4Array, c2.array(c2.ipv4Address)],
    inputs: ['-', 'fd', '01', '017f00000149', '027f00000149c2', '037f00000149c27f00000149c2', 'fe01001000', 'fe01001000' + '7f00000149c2',
      'feffffffff', 'ff0000000001000000']
  },
  peer: {
    codecs: [hm.peer, legacyMessages.peer],
    inputs: ['-', '00'.repeat(31), '00'.repeat(32), det('pe', 32).toString('hex') + '01' + '7f000001',
      det('pe', 32).toString('hex') + '02' + '7f00000149c2', det('pe', 32).toString('hex') + 'fe01001000']
  }
}
for (const [type, { codecs, inputs }] of Object.entries(errorCases)) {
  for (const h of inputs) {
    const b = unhex(h)
    const all = codecs.every((cd) => throws(cd, b))
    if (all) emit('decode_error', type, h)
    else comment(`not an error (some decoder accepts it): ${type} ${h}`)
  }
}
{
  // boundary: count exactly 0x100000 is allowed by the count check (fails only for missing entries)
  let msg = ''
  try { dec(rpcPeer.ipv4Array, unhex('fe00001000')) } catch (e) { msg = e.message }
  check(msg === 'Out of bounds', 'array count 0x100000 passes the size check and fails on missing data')
  msg = ''
  try { dec(rpcPeer.ipv4Array, unhex('fe01001000')) } catch (e) { msg = e.message }
  check(msg === 'Array is too big', 'array count 0x100001 is rejected as too big')
  comment('note: array decoders reject a count > 0x100000 ("Array is too big") before reading entries; 0x100000 itself passes that check')
  // 2^53 and above: compact-encoding 3.x throws, 2.x returns an inexact number
  const big = unhex('ff0000000000002000')
  const t3 = throws(c.uint, big)
  const t2 = throws(c2.uint, big)
  check(t3 && !t2, 'uint >= 2^53: compact-encoding 3.x throws, 2.x does not')
  comment('note: uint ff0000000000002000 (2^53) and above: compact-encoding ' + version(CE_DIR) + ' throws, ' + version(CE2_DIR) + ' returns an inexact number; no row emitted')
}

// ---------------------------------------------------------------------------
// base58 (bs58 as hyper-nat loads it)
// ---------------------------------------------------------------------------
comment('base58 <bytes hex or -> <base58 or ->: bs58 encode (Bitcoin alphabet, leading 0x00 -> "1")')
const SECRET = 'thisisaseretsecret'
const b58inputs = [
  Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0]), Buffer.from([0, 0, 0, 1]), Buffer.from([1]), Buffer.from([57]),
  Buffer.from([58]), Buffer.from([0xff]), Buffer.from([0, 0xff]), Buffer.from('hello world'), Buffer.alloc(32),
  Buffer.alloc(32, 0xff), Buffer.concat([Buffer.alloc(1), Buffer.alloc(31, 0xff)]), Buffer.concat([Buffer.alloc(3), det('b58lz', 29)]),
  det('b58-32a', 32), det('b58-32b', 32), det('b58-32c', 32), det('b58-64', 64),
  Buffer.from('0000000000000000000000000000000000000000000000000000000000000001', 'hex'),
  Buffer.from('8000000000000000000000000000000000000000000000000000000000000000', 'hex'),
  LegacyDHT.keyPair(LegacyDHT.hash(Buffer.from(SECRET))).publicKey
]
for (const b of b58inputs) {
  const s = bs58.encode(b)
  check(eq(bs58.decode(s), b), `base58 ${hex(b)} round-trips`)
  emit('base58', hex(b), s === '' ? '-' : s)
}
comment('base58_bad <string>: strings bs58.decode rejects (characters outside the alphabet)')
for (const s of ['0', 'O', 'I', 'l', '3mJr0', 'DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6O', 'abcIdef', '1111l', '+', '/', 'abc-def', 'ab_c', 'hello!']) {
  let bad = false
  try { bs58.decode(s) } catch { bad = true }
  if (bad) emit('base58_bad', s)
  else comment(`bs58.decode accepts ${s}`)
}

// ---------------------------------------------------------------------------
// BLAKE2b
// ---------------------------------------------------------------------------
comment('blake2b <input hex or -> <hash hex>: hyperdht DHT.hash (BLAKE2b-256, no key), checked against sodium crypto_generichash')
const b2inputs = [Buffer.alloc(0), Buffer.from('abc'), Buffer.from(SECRET), Buffer.from('7f00000149c2', 'hex'),
  Buffer.from('5863035649c2', 'hex'), det('b2-32', 32), det('b2-127', 127), det('b2-128', 128), det('b2-129', 129),
  det('b2-1000', 1000)]
for (const b of b2inputs) {
  const h = DHT.hash(b)
  check(eq(h, blake2b(b)) && eq(h, LegacyDHT.hash(b)), 'DHT.hash == sodium generichash == @hyperswarm/dht hash')
  emit('blake2b', hex(b), hex(h))
}
{
  // node id = BLAKE2b(ipv4 encoding) via dht-rpc's own id()
  const id = rpcPeer.id('127.0.0.1', 49737)
  check(eq(id, blake2b(Buffer.from('7f00000149c2', 'hex'))), 'dht-rpc peer.id == blake2b(ipv4 encoding)')
  comment('note: the blake2b row for 7f00000149c2 is dht-rpc peer.id("127.0.0.1", 49737)')
}

comment('blake2b_keyed <key hex> <input hex> <hash hex>: sodium crypto_generichash(32, input, key) - the dht-rpc token of an ASCII host')
const IO = load('dht-rpc/lib/io', HYPERDHT_DIR)
for (const [i, host] of ['192.168.1.20', '127.0.0.1', '88.99.3.86', '10.0.0.1', '255.255.255.255'].entries()) {
  const key = det('token-secret', 32 * (i + 1)).subarray(32 * i)
  const input = Buffer.from(host, 'ascii')
  const h = blake2b(input, key)
  // the same value from dht-rpc's IO.prototype.token (called on a plain object; no socket is involved)
  const t = IO.prototype.token.call({ _secrets: [key, key] }, { host, port: 1 }, 0)
  check(eq(h, t), 'keyed blake2b == dht-rpc IO token')
  emit('blake2b_keyed', hex(key), hex(input), hex(h))
}

// ---------------------------------------------------------------------------
// namespaces
// ---------------------------------------------------------------------------
comment('namespace <name> <index> <hex>: hypercore-crypto namespace(name, ids)[i] = BLAKE2b(BLAKE2b(name) || byte(id))')
{
  const cmds = hconst.COMMANDS
  const nsOrder = ['ANNOUNCE', 'UNANNOUNCE', 'MUTABLE_PUT', 'PEER_HANDSHAKE', 'PEER_HOLEPUNCH', 'PLUGIN']
  check(Object.keys(hconst.NS).sort().join() === nsOrder.slice().sort().join(), 'hyperdht exports exactly the expected NS constants')
  const all = hcrypto.namespace('hyperswarm/dht', 11)
  for (const name of nsOrder) {
    const idx = cmds[name]
    check(eq(hconst.NS[name], all[idx]), `NS.${name} == namespace('hyperswarm/dht')[${idx}]`)
    if (legacyConst.NS && legacyConst.NS[name]) check(eq(hconst.NS[name], legacyConst.NS[name]), `NS.${name} same in @hyperswarm/dht 6.5.1`)
    comment(`hyperdht constants NS.${name} (command ${name} = ${idx})`)
    emit('namespace', 'hyperswarm/dht', String(idx), hex(hconst.NS[name]))
  }
  comment('hyperswarm/dht indices not used as a namespace by hyperdht (extra vectors)')
  for (let i = 0; i < 11; i++) {
    if (nsOrder.some((n) => cmds[n] === i)) continue
    emit('namespace', 'hyperswarm/dht', String(i), hex(all[i]))
  }
  comment(`hyperswarm/secret-stream: NS_INITIATOR, NS_RESPONDER, NS_SEND (module-private in @hyperswarm/secret-stream ${version(SSTREAM_DIR)};`)
  comment(`  computed with the hypercore-crypto ${version(SS_HCRYPTO_DIR)} that secret-stream resolves, exactly as its index.js does)`)
  const ss = ssHcrypto.namespace('hyperswarm/secret-stream', 3)
  for (let i = 0; i < 3; i++) emit('namespace', 'hyperswarm/secret-stream', String(i), hex(ss[i]))
}

// ---------------------------------------------------------------------------
// key pairs, hyper-nat secrets, keypear
// ---------------------------------------------------------------------------
comment('keypair <seed hex> <publicKey hex>: hyperdht DHT.keyPair(seed) (crypto_sign_seed_keypair)')
const seeds = [Buffer.alloc(32), Buffer.alloc(32, 0xff), det('seed-a', 32), det('seed-b', 32), DHT.hash(Buffer.from(SECRET))]
for (const s of seeds) {
  const kp = DHT.keyPair(s)
  check(eq(kp.publicKey, LegacyDHT.keyPair(s).publicKey), 'keyPair same in @hyperswarm/dht 6.5.1')
  check(eq(kp.secretKey.subarray(32), kp.publicKey) && eq(kp.secretKey.subarray(0, 32), s), 'secretKey = seed || publicKey')
  emit('keypair', hex(s), hex(kp.publicKey))
}

comment('secret <utf8 secret> <seed hex> <publicKey hex> <base58>: hyper-nat lib/modes.js server(): seed = DHT.hash(Buffer.from(secret)),')
comment('  kp = DHT.keyPair(seed), printed key = bs58.encode(kp.publicKey) (DHT = @hyperswarm/dht as hyper-nat requires it)')
const secrets = [SECRET, 'hunter2', 'correct-horse-battery-staple', 'a', 'gr\u00fc\u00dfe-\u2713',
  det('random-secret', 32).toString('hex')]
const secretKps = {}
for (const s of secrets) {
  const seed = LegacyDHT.hash(Buffer.from(s))
  const kp = LegacyDHT.keyPair(seed)
  check(eq(seed, DHT.hash(Buffer.from(s))) && eq(kp.publicKey, DHT.keyPair(seed).publicKey), 'same with hyperdht 6.34')
  const b58 = bs58.encode(kp.publicKey)
  secretKps[s] = kp
  emit('secret', s, hex(seed), hex(kp.publicKey), b58)
}
check(bs58.encode(secretKps[SECRET].publicKey) === 'DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w', 'thisisaseretsecret base58 key matches the expected value')

comment('keypear <base seed hex> <name> <derived publicKey hex> <derived scalar hex>: new Keychain(DHT.keyPair(seed)).get(name)')
comment('  (keypear signer objects carry .publicKey and .scalar; there is no secretKey)')
const keypearCases = [
  [SECRET, ['udp7913', 'tcp7915', 'tcpudp3000', 'udp3000', 'tcp3000', 'tcp07913', 'udp65535']],
  ['hunter2', ['udp7913', 'tcp22']],
  [null, ['a', 'udp1', 'tcpudp8080']]
]
const derived = []
for (const [secret, names] of keypearCases) {
  const seed = secret ? DHT.hash(Buffer.from(secret)) : det('keypear-seed', 32)
  const kp = DHT.keyPair(seed)
  const keys = new Keychain(kp)
  for (const name of names) {
    const d = keys.get(name)
    check(d.scalar && d.scalar.length === 32 && d.writable === true, 'keypear get() returns a scalar key pair')
    // scalar * B == publicKey
    const pk = Buffer.alloc(32)
    sodium.crypto_scalarmult_ed25519_base_noclamp(pk, d.scalar)
    check(eq(pk, d.publicKey), `keypear scalar*B == publicKey for ${name}`)
    derived.push({ seed, kp, name, d })
    emit('keypear', hex(seed), name, hex(d.publicKey), hex(d.scalar))
  }
}

comment('keypear_public <base publicKey hex> <name> <derived publicKey hex>: new Keychain(publicKey).get(name).publicKey (hyper-nat client side)')
for (const { kp, name, d } of derived) {
  const pub = new Keychain(Buffer.from(kp.publicKey)).get(name)
  check(pub.scalar === null && pub.writable === false, 'public-only keychain gives a read-only key')
  check(eq(pub.publicKey, d.publicKey), `public-only derivation matches for ${name}`)
  emit('keypear_public', hex(kp.publicKey), name, hex(pub.publicKey))
}
{
  const pub = new Keychain(bs58.decode('DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w')).get('udp7913').publicKey
  check(hex(pub) === '4161fefaa9deba1efb1278b3abeeed18d9eb604c50442e673a2e8e95da2930fd', 'thisisaseretsecret/udp7913 public key matches the expected value')
}

comment('keypear_sign <base seed hex> <name> <message hex or -> <signature hex>: Keychain(DHT.keyPair(seed)).get(name).sign(message)')
comment('  (verifies with crypto_sign_verify_detached under the derived publicKey)')
const signMessages = [Buffer.from('hypernat announce signable udp7913'), Buffer.alloc(0), Buffer.from('abc'), det('keypear-msg', 200)]
let expectedSeen = false
for (const { seed, name, d } of derived.slice(0, 3).concat(derived.slice(-2))) {
  for (const m of signMessages) {
    const sig = d.sign(m)
    check(sig.length === 64, 'signature is 64 bytes')
    check(sodium.crypto_sign_verify_detached(sig, m, d.publicKey), `keypear signature verifies (${name}, ${hex(m).slice(0, 16)})`)
    check(eq(sig, d.sign(m)), 'keypear signatures are deterministic')
    if (name === 'udp7913' && eq(seed, DHT.hash(Buffer.from(SECRET))) && m.toString() === 'hypernat announce signable udp7913') {
      check(hex(sig) === '1893ea4948737cc0e458d7f2f9fccd43210cdf919d01a4d6e8851836b5bf1c77ad34dde568d17e77a395833e02ae37ad651f4d85dbc1628387f042535d2e6c0f',
        'thisisaseretsecret/udp7913 signature matches the expected value')
      expectedSeen = true
    }
    emit('keypear_sign', hex(seed), name, hex(m), hex(sig))
  }
}
check(expectedSeen, 'the thisisaseretsecret/udp7913 signature row was produced')

comment('sign <seed hex> <message hex or -> <signature hex>: crypto_sign_detached(message, DHT.keyPair(seed).secretKey)')
for (const s of [seeds[0], seeds[2], seeds[4]]) {
  const kp = DHT.keyPair(s)
  for (const m of [Buffer.alloc(0), Buffer.from('abc'), det('sign-msg', 100)]) {
    const sig = Buffer.alloc(64)
    sodium.crypto_sign_detached(sig, m, kp.secretKey)
    check(sodium.crypto_sign_verify_detached(sig, m, kp.publicKey), 'plain signature verifies')
    emit('sign', hex(s), hex(m), hex(sig))
  }
}

// ---------------------------------------------------------------------------
// summary + output
// ---------------------------------------------------------------------------
const counts = {}
for (const l of out) if (l[0] !== '#') counts[l.split(' ')[0]] = (counts[l.split(' ')[0]] || 0) + 1
const REQUIRED = ['uint', 'uint_decode', 'uint16', 'uint32', 'uint64', 'buffer', 'buffer_decode', 'string', 'fixed32', 'fixed64',
  'ipv4', 'ipv4_array', 'peer', 'decode_error', 'base58', 'base58_bad', 'blake2b', 'blake2b_keyed', 'namespace', 'keypair',
  'secret', 'keypear', 'keypear_public', 'keypear_sign', 'sign']
for (const t of REQUIRED) check((counts[t] || 0) >= (t === 'base58' ? 12 : 3), `at least 3 rows of ${t} (have ${counts[t] || 0})`)
for (const t of ['uint', 'buffer', 'fixed32', 'ipv4', 'ipv4_array', 'peer']) {
  check(out.some((l) => l.startsWith(`decode_error ${t} `)), `a decode_error row for ${t}`)
}
check(Object.keys(counts).every((t) => REQUIRED.includes(t)), 'no unexpected record type')
{
  const rows = out.filter((l) => l[0] !== '#')
  check(new Set(rows).size === rows.length, 'no duplicate rows')
  // nothing here may have opened a socket (no DHT node is ever created)
  const res = process.getActiveResourcesInfo().filter((r) => /UDP|TCP|Pipe|DNS|GetAddrInfo/i.test(r))
  check(res.length === 0, 'no network resources were opened: ' + res.join(','))
}
comment('row counts: ' + REQUIRED.map((t) => `${t}=${counts[t]}`).join(' '))

process.stdout.write(out.join('\n') + '\n')

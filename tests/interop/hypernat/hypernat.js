// hypernat.js - hyper-nat 1.1.3 (the real CLI, `node --require preload.js
// node_modules/hyper-nat/index.js ...`) against hypernatd's front end
// (TOOL hncli ...), on a private DHT on 127.0.0.1 (a hyperdht
// bootstrapper and persistent nodes; every process gets the loopback
// bootstrap list, nobody reaches the public network).
//
// For tcp, udp and tcpudp, both ways:
//   js-server-c-client-P: hyper-nat server -p S -s SECRET, TOOL client -l L -r S -k KEY
//   c-server-js-client-P: TOOL server -p S -s SECRET, hyper-nat client -l L -r S -k KEY
//   c-server-c-client-P (udp, tcpudp): hypernatd both ends, encrypted datagrams
// with local echo services on S; bytes (tcp, tcpudp) and datagrams (udp)
// sent to L must come back intact (sha256).  keys: both print the same
// base58 key for the same secret, and it is DHT.keyPair(DHT.hash(secret)).
// cli-text: both print the same start-up text, errors and exit status.
//
// Usage: node hypernat.js TOOL [case...]   (HN_DEBUG=1 shows the processes)
'use strict'

const path = require('path')
const net = require('net')
const dgram = require('dgram')
const crypto = require('crypto')
const os = require('os')
const { spawn } = require('child_process')
const readline = require('readline')

const ROOT = path.resolve(__dirname, '..', '..', '..')
const TOOL = path.resolve(process.argv[2] || path.join(ROOT, 'build/tests/unit/test_tunnel_net'))
const ONLY = process.argv.slice(3)
const HOST = '127.0.0.1'
const HN = require.resolve('hyper-nat/index.js', { paths: [path.join(__dirname, '..')] })
const PRELOAD = path.join(__dirname, 'preload.js')

const HyperDHT = require('hyperdht')
const LegacyDHT = require('@hyperswarm/dht')
const bs58 = require('bs58').default

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const randomPort = () => 20000 + crypto.randomInt(30000)
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')

function check (cond, why) {
  if (!cond) throw new Error(why)
}

class Proc {
  constructor (name, cmd, args, env, optionsJson) {
    this.name = name
    this.lines = []
    this.waiters = []
    this.exited = false
    this.cwd = require('fs').mkdtempSync(path.join(os.tmpdir(), 'hn-')) // no options.json
    if (optionsJson) require('fs').writeFileSync(path.join(this.cwd, 'options.json'), JSON.stringify(optionsJson))
    this.proc = spawn(cmd, args, { cwd: this.cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc.on('exit', (code) => { this.exited = true; this.code = code; this._wake() })
    const take = (l) => {
      if (process.env.HN_DEBUG) console.error(this.name + '< ' + l.slice(0, 200))
      this.lines.push(l)
      this._wake()
    }
    readline.createInterface({ input: this.proc.stdout }).on('line', take)
    readline.createInterface({ input: this.proc.stderr }).on('line', take)
  }

  _wake () { for (const w of this.waiters.splice(0)) w() }

  async expect (re, ms = 30000) {
    const end = Date.now() + ms
    for (;;) {
      const l = this.lines.find((x) => re.test(x))
      if (l) return l
      if (this.exited) throw new Error(this.name + ' exited (' + this.code + ') waiting for ' + re + ': ' + this.lines.slice(-5).join(' | '))
      const left = end - Date.now()
      if (left <= 0) throw new Error(this.name + ': no line ' + re + ' (last: ' + this.lines.slice(-5).join(' | ') + ')')
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  async kill () {
    if (this.exited) return
    this.proc.kill('SIGTERM')
    await Promise.race([new Promise((resolve) => this.proc.on('exit', resolve)), sleep(3000)])
    if (!this.exited) this.proc.kill('SIGKILL')
    require('fs').rmSync(this.cwd, { recursive: true, force: true })
  }
}

function hypernat (name, args, bootstrap, optionsJson) {
  return new Proc(name, process.execPath, ['--require', PRELOAD, HN, ...args], { HN_BOOTSTRAP: bootstrap.join(',') }, optionsJson)
}

function hypernatd (name, args, bootstrap, optionsJson) {
  return new Proc(name, TOOL, ['hncli', ...args], { HYPERNAT_BOOTSTRAP: bootstrap.join(',') }, optionsJson)
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

// Local echo services on one port number, tcp and udp.
async function echo (port) {
  const tcp = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s) })
  await new Promise((resolve, reject) => { tcp.once('error', reject); tcp.listen(port, HOST, resolve) })
  const udp = dgram.createSocket('udp4')
  udp.on('message', (m, r) => udp.send(m, r.port, r.address))
  await new Promise((resolve) => udp.bind(port, HOST, resolve))
  return { close: () => { tcp.close(); udp.close() } }
}

// Write `total` random bytes in writes of `chunk`, read the same number back.
function tcpEcho (port, total, chunk, delay) {
  const data = crypto.randomBytes(total)
  return new Promise((resolve, reject) => {
    const got = []
    let n = 0
    const s = net.connect(port, HOST)
    const t = setTimeout(() => { s.destroy(); reject(new Error('tcp echo: ' + n + ' of ' + total + ' bytes back')) }, 30000)
    s.on('error', (e) => { clearTimeout(t); reject(e) })
    s.on('connect', async () => {
      await sleep(delay)
      for (let i = 0; i < total; i += chunk) {
        s.write(data.subarray(i, i + chunk))
        await sleep(5)
      }
    })
    s.on('data', (b) => {
      got.push(b)
      n += b.length
      if (n >= total) {
        clearTimeout(t)
        s.destroy()
        resolve(sha(Buffer.concat(got)) === sha(data) ? null : 'bytes differ')
      }
    })
  })
}

// Send `count` datagrams (1..maxlen bytes) to port; every echo must come back.
async function udpEcho (port, count, maxlen) {
  const sock = dgram.createSocket('udp4')
  await new Promise((resolve) => sock.bind(0, HOST, resolve))
  const want = new Map()
  const sent = []
  for (let i = 0; i < count; i++) {
    const d = crypto.randomBytes(1 + (i * 97) % maxlen)
    sent.push(d)
    want.set(sha(d), (want.get(sha(d)) || 0) + 1)
  }
  let got = 0
  const done = new Promise((resolve) => {
    sock.on('message', (m) => {
      const h = sha(m)
      if (want.get(h)) { want.set(h, want.get(h) - 1); got++ }
      if (got === count) resolve()
    })
  })
  for (const d of sent) { sock.send(d, port, HOST); await sleep(10) }
  await Promise.race([done, sleep(10000)])
  sock.close()
  return got === count ? null : got + ' of ' + count + ' datagrams back intact'
}

const keyOf = (line) => (/-k (\S+)/.exec(line) || [])[1]

async function traffic (proto, port) {
  if (proto === 'udp') return udpEcho(port, 40, 1000)
  // hyper-nat's tcpudp frames a TCP chunk as one raw message: keep the
  // chunks small; its server drops what arrives before its local connect
  // (spec §6 #4), so the client waits a moment first
  if (proto === 'tcpudp') return tcpEcho(port, 20000, 1000, 1500)
  return tcpEcho(port, 1 << 20, 65536, 0)
}

const READY = { tcp: /TCP stream ready/, udp: /UDP stream ready/, tcpudp: /TCP-over-UDP stream ready/ }

async function jsServerCClient (net0, proto) {
  const S = randomPort(); const L = randomPort()
  const secret = crypto.randomBytes(8).toString('hex')
  const e = await echo(S)
  const js = hypernat('hyper-nat', ['server', '-p', String(S), '--protocol', proto, '-s', secret], net0.bootstrap)
  let c
  try {
    const key = keyOf(await js.expect(/npx hyper-nat client .* -k /))
    await js.expect(/listening for remote connections/)
    await sleep(2000) // the announce
    c = hypernatd('hypernatd', ['client', '-l', String(L), '-r', String(S), '--protocol', proto, '-k', key], net0.bootstrap)
    await c.expect(READY[proto])
    const err = await traffic(proto, L)
    check(err === null, err)
  } finally {
    if (c) await c.kill()
    await js.kill()
    e.close()
  }
}

async function cServerJsClient (net0, proto) {
  const S = randomPort(); const L = randomPort()
  const secret = crypto.randomBytes(8).toString('hex')
  const e = await echo(S)
  const c = hypernatd('hypernatd', ['server', '-p', String(S), '--protocol', proto, '-s', secret], net0.bootstrap)
  let js
  try {
    const key = keyOf(await c.expect(/npx hyper-nat client .* -k /))
    const kp = LegacyDHT.keyPair(LegacyDHT.hash(Buffer.from(secret)))
    check(key === bs58.encode(kp.publicKey), 'hypernatd printed ' + key)
    await c.expect(/listening for remote connections/)
    await sleep(2000)
    js = hypernat('hyper-nat', ['client', '-l', String(L), '-r', String(S), '--protocol', proto, '-k', key], net0.bootstrap)
    await js.expect(READY[proto], 60000)
    await sleep(500) // it prints "ready" before its listen() completes
    const err = await traffic(proto, L)
    check(err === null, err)
    // hyper-nat offers no capabilities: raw datagrams, as it speaks
    if (proto !== 'tcp') await c.expect(/connection open \(.*, plaintext datagrams\)/, 5000)
  } finally {
    if (js) await js.kill()
    await c.kill()
    e.close()
  }
}

// hypernatd on both ends through the same front end: datagrams are
// encrypted between them (the server logs it per connection).
async function cServerCClient (net0, proto) {
  const S = randomPort(); const L = randomPort()
  const secret = crypto.randomBytes(8).toString('hex')
  const e = await echo(S)
  const srv = hypernatd('hypernatd-server', ['server', '-p', String(S), '--protocol', proto, '-s', secret], net0.bootstrap)
  let cli
  try {
    const key = keyOf(await srv.expect(/npx hyper-nat client .* -k /))
    await srv.expect(/listening for remote connections/)
    await sleep(2000)
    cli = hypernatd('hypernatd-client', ['client', '-l', String(L), '-r', String(S), '--protocol', proto, '-k', key], net0.bootstrap)
    await cli.expect(READY[proto])
    const err = await traffic(proto, L)
    check(err === null, err)
    await srv.expect(/connection open \(.*, encrypted datagrams\)/, 5000)
  } finally {
    if (cli) await cli.kill()
    await srv.kill()
    e.close()
  }
}

async function sameKeys (net0) {
  const secret = 'thisisaseretsecret'
  const a = hypernat('hyper-nat', ['server', '-p', '7913,7915', '--protocol', 'udp,tcp', '-s', secret], net0.bootstrap)
  const b = hypernatd('hypernatd', ['server', '-p', '7913,7915', '--protocol', 'udp,tcp', '-s', secret], net0.bootstrap)
  try {
    const la = await a.expect(/npx hyper-nat client .* -k /)
    const lb = await b.expect(/npx hyper-nat client .* -k /)
    check(la === lb, 'hyper-nat: ' + la + ' / hypernatd: ' + lb)
  } finally {
    await a.kill()
    await b.kill()
  }
}

// options.json on both sides with the port written "0S": the key name is
// "udp0S" verbatim (spec §1.1, §6 #17), not "udpS"; both ways.
async function configVerbatim (net0, cServer) {
  const S = randomPort(); const L = randomPort()
  const secret = crypto.randomBytes(8).toString('hex')
  const key = bs58.encode(LegacyDHT.keyPair(LegacyDHT.hash(Buffer.from(secret))).publicKey)
  const server = { schema: [{ mode: 'server', proto: 'udp', port: '0' + S, host: HOST, secret }] }
  const client = { schema: [{ mode: 'client', proto: 'udp', port: '0' + S, localPort: L, publicKey: key }] }
  const e = await echo(S)
  const srv = cServer ? hypernatd('hypernatd', [], net0.bootstrap, server) : hypernat('hyper-nat', [], net0.bootstrap, server)
  let cli
  try {
    await srv.expect(/listening for remote connections for udp 0/)
    await sleep(2000)
    cli = cServer ? hypernat('hyper-nat', [], net0.bootstrap, client) : hypernatd('hypernatd', [], net0.bootstrap, client)
    await cli.expect(READY.udp, 60000)
    await sleep(500)
    const err = await udpEcho(L, 20, 1000)
    check(err === null, err)
  } finally {
    if (cli) await cli.kill()
    await srv.kill()
    e.close()
  }
}

// Run a command line to its end (or for `ms`, then stop it): stdout and
// stderr lines and the exit code.
function runText (cmd, args, env, ms, upTo) {
  return new Promise((resolve) => {
    const cwd = require('fs').mkdtempSync(path.join(os.tmpdir(), 'hn-'))
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env } })
    let out = ''; let err = ''
    p.stdout.on('data', (b) => {
      out += b
      // enough seen: stop it (a moment later, for a warning on stderr)
      if (upTo && out.split('\n').slice(0, -1).some((l) => upTo.test(l))) setTimeout(() => p.kill('SIGKILL'), 200)
    })
    p.stderr.on('data', (b) => { err += b })
    const t = setTimeout(() => p.kill('SIGKILL'), ms)
    p.on('exit', (code) => {
      clearTimeout(t)
      require('fs').rmSync(cwd, { recursive: true, force: true })
      resolve({ out: out.split('\n'), err: err.split('\n'), code })
    })
  })
}

// The start-up text of both front ends, line for line, against the real
// hyper-nat: errors (whole output and exit status), warnings, and what is
// printed before the mappings start (up to the command block).
async function cliText (net0) {
  const KEY = 'DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w'
  const cases = [
    [['server', '-p', '1,2', '--protocol', 'tcp,udp,tcpudp', '-s', 'x']],
    [['server', '-p', 'x,y', '-s', 'x']],
    [['client', '-l', '1,2', '-r', '3', '-k', KEY]],
    [['client', '-l', '1,2', '-r', '3,4', '--protocol', 'tcp,udp,udp', '-k', KEY]],
    [['server', '-p', '7913,7915', '--protocol', 'udp,tcp', '-s', 'thisisaseretsecret'], /=== END COMMAND ===/],
    [['server', '-p', '3000abc, 12 ,x,,1e3', '--protocol', 'tcp tcpudp', '-s', 'x']],
    [['server', '-p', '3000abc, 12 ,x,,1e3', '--protocol', ' tcpudp', '-s', 'x'], /=== END COMMAND ===/],
    [['server', '-p', '7917', '--protocol', 'tcpx', '-s', 'x'], /=== END COMMAND ===/],
    [['client', '-l', '8080,8081', '-r', '80,443', '--protocol', 'udp,tcpudp', '-k', KEY], /starting up from config/]
  ]
  for (const [args, upTo] of cases) {
    const ms = upTo ? 3000 : 20000
    const a = await runText(process.execPath, ['--require', PRELOAD, HN, ...args], { HN_BOOTSTRAP: net0.bootstrap.join(',') }, ms, upTo)
    const b = await runText(TOOL, ['hncli', ...args], { HYPERNAT_BOOTSTRAP: net0.bootstrap.join(',') }, ms, upTo)
    const cut = (lines) => {
      if (!upTo) return lines
      const i = lines.findIndex((l) => upTo.test(l))
      return i < 0 ? lines : lines.slice(0, i + 1)
    }
    const what = args.join(' ')
    check(JSON.stringify(cut(a.out)) === JSON.stringify(cut(b.out)),
      what + ': stdout differs:\n  hyper-nat ' + JSON.stringify(cut(a.out)) + '\n  hypernatd ' + JSON.stringify(cut(b.out)))
    // after start-up hyper-nat reports its own connection errors: only
    // the option warnings count there
    const warn = (lines) => lines.filter((l) => (upTo ? /^Invalid/ : /^(Error|Invalid)/).test(l))
    check(JSON.stringify(warn(a.err)) === JSON.stringify(warn(b.err)),
      what + ': stderr differs: ' + JSON.stringify(warn(a.err)) + ' / ' + JSON.stringify(warn(b.err)))
    if (!upTo) check(a.code === b.code, what + ': exit ' + a.code + ' / ' + b.code)
  }
}

async function main () {
  const net0 = await network(4)
  const cases = [['keys', () => sameKeys(net0)], ['cli-text', () => cliText(net0)]]
  for (const p of ['tcp', 'udp', 'tcpudp']) {
    cases.push(['js-server-c-client-' + p, () => jsServerCClient(net0, p)])
    cases.push(['c-server-js-client-' + p, () => cServerJsClient(net0, p)])
  }
  cases.push(['c-server-c-client-udp', () => cServerCClient(net0, 'udp')])
  cases.push(['c-server-c-client-tcpudp', () => cServerCClient(net0, 'tcpudp')])
  cases.push(['config-verbatim-c-server', () => configVerbatim(net0, true)])
  cases.push(['config-verbatim-js-server', () => configVerbatim(net0, false)])
  let pass = 0; let fail = 0
  for (const [name, fn] of cases) {
    if (ONLY.length && !ONLY.includes(name)) continue
    const t0 = Date.now()
    try {
      await fn()
      pass++
      console.log('ok   ' + name + ' (' + (Date.now() - t0) + ' ms)')
    } catch (err) {
      fail++
      console.log('FAIL ' + name + ': ' + err.message)
    }
  }
  for (const d of net0.nodes.reverse()) await d.destroy().catch(() => {})
  console.log('hypernat: ' + pass + ' passed, ' + fail + ' failed')
  process.exit(fail ? 1 : 0)
}

main().catch((err) => {
  console.log('FAIL setup: ' + err.stack)
  console.log('hypernat: 0 passed, 1 failed')
  process.exit(1)
})

// connect.js - runs the NAT-lab connect matrix on a lab that is already up
// (tests/natlab/test_connect.sh and bench/connect/bench.sh set it up):
// for every cell and pairing of implementations, a fresh server peer and a
// fresh client peer per attempt (fresh keys, fresh DHT nodes, so neither
// stale records nor the 6.34 random-punch throttle carry over), connect
// time from the connect command to "open"; an attempt counts only if 4096
// bytes then reach the server intact (sha256 on both ends).
//
//   node connect.js --prefix NS_PREFIX --bootstrap IP:PORT --cells CELLS
//                   --pairs js-js,c-c,c-js,js-c --repeat N [--relay PK@IP]
//                   [--c-tool "CMD ARGS"] [--addrs HOST=IP,...] [--out FILE.json]
//                   [--log-dir DIR]
//   The C tool gets "--bootstrap IP:PORT --host IP" (the host's address).
//   CELLS: name:server_host:client_host:server_type[:relay],...
//
// One line per attempt:  attempt CELL PAIR ok|fail PATH MS
// A pair whose tool is missing or never comes up is reported once as
//   unavailable PAIR REASON
// and its attempts are not run.  --out gets every attempt as JSON.
'use strict'

const { spawn } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

function args (argv) {
  const o = {}
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i]
  }
  return o
}

const o = args(process.argv.slice(2))
const PEER_JS = path.join(__dirname, 'peer.js')

class Proc {
  constructor (ns, argv) {
    this.lines = []
    this.waiters = []
    this.exited = false
    // --log-dir: each tool's stderr goes to a file there
    const err = o['log-dir']
      ? fs.openSync(path.join(o['log-dir'], `${ns}-${process.hrtime.bigint()}.log`), 'w')
      : 'ignore'
    this.proc = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', err] })
    if (typeof err === 'number') fs.closeSync(err)
    let buf = ''
    this.proc.stdout.on('data', (d) => {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        this.lines.push(line)
        this._wake()
      }
    })
    this.proc.on('exit', () => { this.exited = true; this._wake() })
    this.proc.stdin.on('error', () => {})
  }

  _wake () {
    for (const w of this.waiters.slice()) w()
  }

  send (line) {
    if (!this.exited) this.proc.stdin.write(line + '\n')
  }

  // the first line matching re (consumed), or null after ms / on exit
  expect (re, ms) {
    return new Promise((resolve) => {
      const check = () => {
        const i = this.lines.findIndex((l) => re.test(l))
        if (i >= 0) return finish(this.lines.splice(i, 1)[0])
        if (this.exited) return finish(null)
      }
      const finish = (v) => {
        clearTimeout(t)
        this.waiters = this.waiters.filter((w) => w !== check)
        resolve(v)
      }
      const t = setTimeout(() => finish(null), ms)
      this.waiters.push(check)
      check()
    })
  }

  async close () {
    this.send('quit')
    const gone = new Promise((resolve) => this.exited ? resolve() : this.proc.on('exit', resolve))
    const t = setTimeout(() => { try { this.proc.kill('SIGKILL') } catch {} }, 2000)
    await gone
    clearTimeout(t)
  }
}

const addrs = Object.fromEntries((o.addrs || '').split(',').filter(Boolean).map((kv) => kv.split('=')))

function toolArgv (impl, host) {
  if (impl === 'c') {
    const cmd = (o['c-tool'] || '').split(/\s+/).filter(Boolean)
    if (!cmd.length) return null
    // the C tool binds the host's own address (its LAN candidate)
    return [...cmd, '--bootstrap', o.bootstrap, ...(addrs[host] ? ['--host', addrs[host]] : [])]
  }
  const a = ['node', PEER_JS, 'tool', '--bootstrap', o.bootstrap]
  if (o.relay) a.push('--relay-host', o.relay.split('@')[1])
  return a
}

async function attempt (cell, pair) {
  const [simpl, cimpl] = pair.split('-')
  const ns = (h) => o.prefix + '-' + h
  const res = { cell: cell.name, pair, ok: false, path: '-', ms: -1, why: '' }
  const sargv = toolArgv(simpl, cell.server)
  const cargv = toolArgv(cimpl, cell.client)
  // relay cells: the client goes through the blind relay (relayThrough)
  const how = cell.relay && o.relay
    ? ' ' + crypto.randomBytes(32).toString('hex') + ' lan ' + o.relay.split('@')[0]
    : ''
  if (!sargv || !cargv) {
    res.why = 'no C peer tool'
    return res
  }
  const srv = new Proc(ns(cell.server), sargv)
  let cli = null
  try {
    if (!(await srv.expect(/^up /, 20000))) { res.why = 'server never up'; return res }
    srv.send('listen ' + crypto.randomBytes(32).toString('hex'))
    const l = await srv.expect(/^listening /, 30000)
    if (!l) { res.why = 'server never listening'; return res }
    const pk = l.split(' ')[1]
    cli = new Proc(ns(cell.client), cargv)
    if (!(await cli.expect(/^up /, 20000))) { res.why = 'client never up'; return res }
    const t0 = process.hrtime.bigint()
    cli.send('connect ' + pk + how)
    const r = await cli.expect(/^(open|close) /, 45000)
    const wall = Number((process.hrtime.bigint() - t0) / 1000000n)
    if (!r || r.startsWith('close')) { res.why = r || 'timeout'; return res }
    const f = r.split(' ')
    const m = /ms=(\d+)/.exec(r)
    // the path must carry data: 4096 bytes to the server, checked by hash
    cli.send('write 4096')
    const sent = await cli.expect(/^sent /, 10000)
    const got = await srv.expect(/^recv /, 15000)
    if (!sent || !got || sent.split(' ')[2] !== got.split(' ')[2]) {
      res.why = 'opened (' + r.split(' ').slice(0, 2).join(' ') + ') but no data: ' + (got || 'nothing')
      return res
    }
    res.ok = true
    res.ms = m ? Number(m[1]) : wall
    res.path = f[1]
    // the JS peer says p2p for a public peer address: punched unless the
    // server is reachable as is
    if (res.path === 'p2p') res.path = cell.stype === 'none' ? 'direct' : 'punched'
    return res
  } finally {
    if (cli) await cli.close()
    await srv.close()
  }
}

async function main () {
  const cells = o.cells.split(',').map((s) => {
    const [name, server, client, stype, relay] = s.split(':')
    return { name, server, client, stype, relay: relay === 'relay' }
  })
  const pairs = o.pairs.split(',')
  const repeat = Number(o.repeat || 1)
  const all = []
  const unavailable = new Set()
  for (const cell of cells) {
    for (const pair of pairs) {
      if (unavailable.has(pair)) continue
      for (let i = 0; i < repeat; i++) {
        const r = await attempt(cell, pair)
        if (r.why === 'no C peer tool') {
          console.log(`unavailable ${pair} no C peer tool (--c-tool)`)
          unavailable.add(pair)
          break
        }
        all.push(r)
        console.log(`attempt ${cell.name} ${pair} ${r.ok ? 'ok' : 'fail'} ${r.path} ${r.ms}${r.why ? ' # ' + r.why : ''}`)
      }
    }
  }
  if (o.out) fs.writeFileSync(o.out, JSON.stringify(all, null, 1))
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })

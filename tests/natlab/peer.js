// peer.js - the JavaScript peer of the NAT-lab connect matrix
// (tests/natlab/test_connect.sh, bench/connect/bench.sh), run inside a lab
// namespace.  It speaks the same line protocol as the C peer tool, so the
// orchestrator (connect.js) drives both alike:
//
//   node peer.js tool --bootstrap IP:PORT[,IP:PORT...] [--dht hyperdht|@hyperswarm/dht]
//                     [--relay-host IP]
//     prints "up 1" once the DHT node is ready, then reads commands:
//       listen SEEDHEX   -> listening PKHEX        (then "accept PK" per client)
//       connect PKHEX [SEEDHEX [lan|nolan [RELAYPKHEX]]]
//                        -> open PATH REMOTEPK CAPS ms=N remote=IP:PORT | close ERR
//                        (RELAYPKHEX: relayThrough that blind relay)
//       write N          N random bytes, then end -> sent N SHA256
//       quit
//     PATH: lan (a private address), relayed (the relay host), or p2p
//     (a public address; the orchestrator tells direct from punched by the
//     server's NAT type).  A peer that reads a stream to its end prints
//     "recv N SHA256".
//
//   node peer.js net --host IP --port P --nodes N [--bootstrap IP:PORT] [--relay SEEDHEX]
//     N persistent DHT nodes on IP:P, P+1, ...  (without --bootstrap the
//     first one is the network's bootstrapper); with --relay also a
//     blind-relay server listening on the key of SEEDHEX ("relay PKHEX").
//     Prints "up N" and runs until killed.
'use strict'

const crypto = require('crypto')
const path = require('path')
const readline = require('readline')

const modules = process.env.HN_NODE_MODULES ||
  path.join(__dirname, '..', 'interop', 'node_modules')
const req = (name) => require(path.join(modules, name))

function args (argv) {
  const o = { _: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) o[a.slice(2)] = argv[++i]
    else o._.push(a)
  }
  return o
}

function isPrivate (host) {
  return /^10\./.test(host) || /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) || /^127\./.test(host)
}

function say (line) {
  process.stdout.write(line + '\n')
}

async function net (o) {
  const DHT = req('hyperdht')
  const port = Number(o.port)
  const n = Number(o.nodes || 1)
  const nodes = []
  let bootstrap = o.bootstrap ? o.bootstrap.split(',') : null
  if (!bootstrap) {
    const boot = DHT.bootstrapper(port, o.host, { host: o.host })
    await boot.ready()
    nodes.push(boot)
    bootstrap = [o.host + ':' + port]
  }
  for (let i = nodes.length; i < n; i++) {
    const d = new DHT({ bootstrap, port: port + i, host: o.host, ephemeral: false, firewalled: false, anyPort: false })
    await d.ready()
    nodes.push(d)
  }
  if (o.relay) {
    const BlindRelay = req('blind-relay')
    const d = nodes[nodes.length - 1]
    const relay = new BlindRelay.Server({ createStream: (opts) => d.createRawStream({ ...opts, framed: true }) })
    const server = d.createServer({ holepunch: false }, (socket) => {
      const session = relay.accept(socket, { id: socket.remotePublicKey })
      session.on('error', () => {})
      socket.on('error', () => {})
    })
    const kp = DHT.keyPair(Buffer.from(o.relay, 'hex'))
    await server.listen(kp)
    say('relay ' + kp.publicKey.toString('hex'))
  }
  say('up ' + nodes.length)
  process.on('SIGTERM', async () => {
    for (const d of nodes.reverse()) await d.destroy().catch(() => {})
    process.exit(0)
  })
}

async function tool (o) {
  const DHT = req(o.dht || 'hyperdht')
  const bootstrap = o.bootstrap.split(',')
  const dht = new DHT({ bootstrap })
  await dht.ready()
  say('up 1')
  const rl = readline.createInterface({ input: process.stdin })
  let conn = null
  for await (const line of rl) {
    const [cmd, arg, ...rest] = line.trim().split(/\s+/)
    if (cmd === 'listen') {
      const kp = DHT.keyPair(Buffer.from(arg, 'hex'))
      const server = dht.createServer((socket) => {
        say('accept ' + socket.remotePublicKey.toString('hex'))
        reader(socket)
        conn = socket
      })
      await server.listen(kp)
      say('listening ' + kp.publicKey.toString('hex'))
    } else if (cmd === 'connect') {
      conn = connect(dht, Buffer.from(arg, 'hex'), o, rest)
    } else if (cmd === 'write' && conn) {
      const data = crypto.randomBytes(Number(arg))
      conn.end(data)
      say(`sent ${data.length} ${sha(data)}`)
    } else if (cmd === 'quit') {
      break
    }
  }
  await dht.destroy().catch(() => {})
  process.exit(0)
}

function connect (dht, pk, o, rest) {
  const t0 = process.hrtime.bigint()
  const opts = {}
  if (rest[0]) opts.keyPair = dht.constructor.keyPair(Buffer.from(rest[0], 'hex'))
  if (rest[1] === 'nolan') opts.localConnection = false
  if (rest[2]) opts.relayThrough = Buffer.from(rest[2], 'hex')
  const socket = dht.connect(pk, opts)
  let done = false
  reader(socket)
  socket.on('open', () => {
    done = true
    const ms = Number((process.hrtime.bigint() - t0) / 1000000n)
    const raw = socket.rawStream
    const host = raw ? raw.remoteHost : '?'
    let p = 'p2p'
    if (o['relay-host'] && host === o['relay-host']) p = 'relayed'
    else if (isPrivate(host)) p = 'lan'
    say(`open ${p} ${socket.remotePublicKey.toString('hex')} 0 ms=${ms} remote=${host}:${raw ? raw.remotePort : 0}`)
  })
  socket.on('error', (err) => {
    if (!done) say('close ' + (err.code || err.message))
    done = true
  })
  return socket
}

function sha (buf) {
  return crypto.createHash('sha256').update(buf).digest('hex')
}

// print "recv N SHA256" when the peer ends its half
function reader (socket) {
  const parts = []
  socket.on('data', (d) => parts.push(d))
  socket.on('end', () => {
    const all = Buffer.concat(parts)
    say(`recv ${all.length} ${sha(all)}`)
    socket.end()
  })
  socket.on('error', () => {})
}

const o = args(process.argv.slice(2))
const main = o._[0] === 'net' ? net : tool
main(o).catch((err) => {
  say('close ' + (err.code || err.message))
  process.exit(1)
})

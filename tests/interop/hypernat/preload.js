// preload.js - loaded with `node --require` into the real hyper-nat 1.1.3
// CLI: replaces @hyperswarm/dht's default bootstrap list (the public
// nodeN.hyperdht.org, which hyper-nat uses through `new DHT()`) by the
// private loopback list in HN_BOOTSTRAP ("127.0.0.1:PORT,...").  Without
// HN_BOOTSTRAP it refuses to run: tests never reach the public network.
'use strict'
const path = require('path')

const list = (process.env.HN_BOOTSTRAP || '').split(',').filter(Boolean)
if (list.length === 0) {
  console.error('preload.js: HN_BOOTSTRAP is not set; refusing to use the public DHT')
  process.exit(3)
}
// the copy hyper-nat resolves: its own node_modules first, then ours
const from = path.dirname(require.resolve('hyper-nat/package.json', { paths: [path.join(__dirname, '..')] }))
const constants = require(require.resolve('@hyperswarm/dht/lib/constants', { paths: [from] }))
const nodes = constants.BOOTSTRAP_NODES
nodes.splice(0, nodes.length, ...list.map((s) => {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}))
// hyper-nat's DHT object must see the same array
const DHT = require(require.resolve('@hyperswarm/dht', { paths: [from] }))
if (DHT.BOOTSTRAP !== nodes) {
  console.error('preload.js: @hyperswarm/dht does not share its bootstrap list')
  process.exit(3)
}

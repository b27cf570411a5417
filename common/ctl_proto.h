/*
 * ctl_proto.h - the control protocol between hypernatctl and hypernatd
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (default
 * /run/hypernat/control.sock, mode 0660, group hypernat).  Each record
 * (one send, one recv) holds one or more netlink-format messages and is at
 * most HNCTL_RECORD_MAX bytes; readers use a buffer that large.
 *
 * A message is a struct nlmsghdr, a struct hnctl_hdr, then attributes
 * (struct nlattr, 4-byte aligned, as libmnl builds them).  Integers in
 * attributes are in host byte order: both ends are on the same machine.
 *
 * Requests carry NLM_F_REQUEST and a sequence number the reply repeats.
 * Every request is answered, in order, by
 *   - a plain request: zero or more messages of its own type, then one
 *     NLMSG_ERROR message whose error is 0 (done) or -errno (refused or
 *     failed);
 *   - a dump (NLM_F_DUMP: TUNNEL_LIST, PEER_LIST): messages of its type
 *     flagged NLM_F_MULTI, then NLMSG_DONE (payload: int32 0), or an
 *     NLMSG_ERROR instead if it failed before the first entry.
 * NLMSG_ERROR's payload is struct nlmsgerr (error, then the request's
 * struct nlmsghdr only, as the kernel does with NLM_F_CAPPED), then
 * attributes: HNCTL_A_MESSAGE, a human sentence, is always there when the
 * error is not 0 and may be there when it is (what a change did).  A
 * request the daemon cannot read at all (garbage, a short header, a wrong
 * version) gets an NLMSG_ERROR with seq 0 when the sequence is unknown.
 *
 * Rules for changing this file:
 *   - numbers (message types, attributes, enum values) are never reused or
 *     renumbered; new ones are appended before the _MAX entries;
 *   - a new attribute must be optional for the receiver: readers skip
 *     attribute types they do not know, so older tools keep working;
 *   - changing the meaning or layout of anything that exists needs a new
 *     HNCTL_VERSION; the daemon refuses other versions with
 *     -EPROTONOSUPPORT and a message naming the version it speaks;
 *   - each change gets a dated line in the history below.
 *
 * History:
 *   2026-11-25  version 1: STATUS, KEY, TUNNEL_LIST, PEER_LIST,
 *               TUNNEL_ADD, TUNNEL_DEL, RELOAD, LOG_LEVEL; attributes 1-30.
 *   2026-11-25  STATUS: the DHT node's state, attributes 31-39 (optional:
 *               a daemon without a node sends none of them).
 *   2026-11-25  traffic: TUNNEL and PEER messages carry the tunnel's
 *               counters (40-46); STATUS their sum; a PEER_LIST dump
 *               follows each PEER message with one CONN message per open
 *               connection (type 24, attributes 47-52 and the counters),
 *               in the same record.  Readers that do not know CONN skip it.
 */
#ifndef HN_CTL_PROTO_H
#define HN_CTL_PROTO_H

#include <stdint.h>

#define HNCTL_VERSION		1
#define HNCTL_RECORD_MAX	16384
#define HNCTL_SOCKET_PATH	"/run/hypernat/control.sock"

/* Follows struct nlmsghdr in every message but NLMSG_ERROR and NLMSG_DONE. */
struct hnctl_hdr {
	uint8_t		version;	/* HNCTL_VERSION */
	uint8_t		reserved[3];	/* 0 */
};

/* nlmsg_type; below 16 are netlink's own (NLMSG_ERROR, NLMSG_DONE). */
enum hnctl_msg {
	HNCTL_MSG_STATUS = 16,		/* -> one STATUS message */
	HNCTL_MSG_KEY = 17,		/* -> one KEY message */
	HNCTL_MSG_TUNNEL_LIST = 18,	/* dump -> one TUNNEL message each */
	HNCTL_MSG_PEER_LIST = 19,	/* dump -> one PEER message each */
	HNCTL_MSG_TUNNEL_ADD = 20,	/* -> the TUNNEL as added, ack */
	HNCTL_MSG_TUNNEL_DEL = 21,	/* -> ack */
	HNCTL_MSG_RELOAD = 22,		/* -> ack with counts and message */
	HNCTL_MSG_LOG_LEVEL = 23,	/* -> ack */
	HNCTL_MSG_CONN = 24,		/* in a PEER_LIST dump: an open connection
					 * of the PEER message before it */
	HNCTL_MSG_MAX
};

/*
 * Attributes, one space for all messages.  Types: u8/u16/u32/u64 in host
 * order; str = NUL-terminated; bin N = exactly N bytes.
 */
enum hnctl_attr {
	HNCTL_A_UNSPEC = 0,
	HNCTL_A_MESSAGE = 1,		/* str: a human sentence */
	HNCTL_A_VERSION = 2,		/* str: hypernatd's version */
	HNCTL_A_PID = 3,		/* u32 */
	HNCTL_A_UPTIME = 4,		/* u64: seconds */
	HNCTL_A_KEY = 5,		/* bin 32: the base public key */
	HNCTL_A_CLIENT_KEY = 6,		/* bin 32: the key used as a client */
	HNCTL_A_CONFIG_PATH = 7,	/* str: "" when running on defaults */
	HNCTL_A_STATE_DIR = 8,		/* str */
	HNCTL_A_LOG_LEVEL = 9,		/* u8: syslog priority 3 (error) .. 7 (debug) */
	HNCTL_A_DHT_STATE = 10,		/* str: e.g. "inactive: transport not built" */
	HNCTL_A_KIND = 11,		/* u8: enum hnctl_kind */
	HNCTL_A_PROTO = 12,		/* u8: enum hnctl_proto */
	HNCTL_A_PORT = 13,		/* u16: export port; import: the remote port */
	HNCTL_A_HOST = 14,		/* bin 4: export target IPv4 */
	HNCTL_A_LISTEN_IP = 15,		/* bin 4: import listen IPv4 */
	HNCTL_A_LISTEN_PORT = 16,	/* u16 */
	HNCTL_A_PEER = 17,		/* bin 32: import: the exporter's base key */
	HNCTL_A_ALLOW = 18,		/* bin 32, repeated: allowed client keys */
	HNCTL_A_ORIGIN = 19,		/* u8: enum hnctl_origin */
	HNCTL_A_SERVICE_KEY = 20,	/* bin 32: the key the tunnel is served / found under */
	HNCTL_A_STATE = 21,		/* str: one-line state of a tunnel or peer */
	HNCTL_A_N_EXPORTS = 22,		/* u32 */
	HNCTL_A_N_IMPORTS = 23,		/* u32 */
	HNCTL_A_N_RUNTIME = 24,		/* u32: of those, added at runtime */
	HNCTL_A_ADDED = 25,		/* u32: reload */
	HNCTL_A_REMOVED = 26,		/* u32: reload */
	HNCTL_A_KEPT = 27,		/* u32: reload */
	HNCTL_A_DROPPED = 28,		/* u32: reload: runtime entries the config replaced */
	HNCTL_A_CONFIG_LINE = 29,	/* u32: where a config tunnel is written */
	HNCTL_A_TRANSPORT = 30,		/* str: "not built" until tunnels exist */
	HNCTL_A_DHT_MODE = 31,		/* str: auto, ephemeral, persistent, bootstrap */
	HNCTL_A_DHT_BOOTSTRAPPED = 32,	/* u8: 0 / 1 */
	HNCTL_A_DHT_PERSISTENT = 33,	/* u8: 0 / 1 */
	HNCTL_A_DHT_FIREWALLED = 34,	/* u8: 0 / 1 */
	HNCTL_A_DHT_PUBLIC = 35,	/* str: "a.b.c.d:port"; absent while unknown */
	HNCTL_A_DHT_NODES = 36,		/* u32: routing table size */
	HNCTL_A_DHT_ADDR = 37,		/* str: the server socket, "a.b.c.d:port" */
	HNCTL_A_DHT_CLIENT_PORT = 38,	/* u16: the client socket's port */
	HNCTL_A_DHT_N_BOOTSTRAP = 39,	/* u32: configured bootstrap nodes */
	HNCTL_A_CONNS_OPEN = 40,	/* u32: open peer connections */
	HNCTL_A_CONNS_TOTAL = 41,	/* u64: peer connections opened */
	HNCTL_A_BYTES_IN = 42,		/* u64: stream bytes from peers */
	HNCTL_A_BYTES_OUT = 43,		/* u64: stream bytes to peers */
	HNCTL_A_DGRAMS_IN = 44,		/* u64 */
	HNCTL_A_DGRAMS_OUT = 45,	/* u64 */
	HNCTL_A_DROPS = 46,		/* u64: datagrams counted and dropped */
	HNCTL_A_CONN_KEY = 47,		/* bin 32: the peer's public key */
	HNCTL_A_CONN_PATH = 48,		/* str: lan, direct, punched, relayed */
	HNCTL_A_CONN_REMOTE = 49,	/* str: the peer's "a.b.c.d:port" */
	HNCTL_A_CONN_LOCAL = 50,	/* str: the local client or service */
	HNCTL_A_CONN_RTT = 51,		/* u32: smoothed RTT in microseconds */
	HNCTL_A_CONN_SECURE = 52,	/* u8: datagrams encrypted */
	HNCTL_A_MAX
};

enum hnctl_kind {
	HNCTL_KIND_EXPORT = 1,
	HNCTL_KIND_IMPORT = 2,
};

enum hnctl_proto {
	HNCTL_PROTO_TCP = 1,
	HNCTL_PROTO_UDP = 2,
	HNCTL_PROTO_TCPUDP = 3,
};

enum hnctl_origin {
	HNCTL_ORIGIN_CONFIG = 1,
	HNCTL_ORIGIN_RUNTIME = 2,
};

/* Most CONN messages after one PEER message (the rest are only counted). */
#define HNCTL_CONN_SHOW_MAX	32
/* Most HNCTL_A_ALLOW attributes in one message. */
#define HNCTL_ALLOW_MAX		32
/* Longest HNCTL_A_MESSAGE and other strings, with the NUL. */
#define HNCTL_STR_MAX		1024

#endif

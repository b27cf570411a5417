/*
 * conn.h - peer connections: what hyperdht's createServer().listen(keyPair)
 * and connect(publicKey) do, on UDX, the DHT node and Noise/SecretStream
 * (spec/connect.md, spec/secretstream.md)
 *
 * THIS HEADER IS THE CONTRACT between the connect layer (daemon/connect/,
 * which implements it) and the tunnels (daemon/tunnel/, which use it).
 * Change it only together with both sides.
 *
 * A struct conn_node ties together one struct hn_io, one struct udx and one
 * struct dht that share the node's UDP socket(s).  It installs itself as the
 * udx raw handler: holepunch probes are its own, everything else goes on to
 * dht_input().  Sans-I/O like the layers under it: it runs in the daemon on
 * daemon/evio.c and in tests/sim/ on a virtual network.
 *
 * A connection (struct conn) is a reliable, ordered, encrypted byte stream
 * (SecretStream frames on a UDX stream) plus two datagram channels on the
 * same UDX stream: raw plaintext UDX messages (what hyper-nat 1.1.3 uses for
 * udp and tcpudp) and encrypted SecretStream unordered messages.  It knows
 * the remote public key, its path (LAN, direct, punched, relayed), the
 * remote address and the RTT.
 *
 * Capabilities: both ends append an extension to the Noise handshake
 * payload (JS decoders ignore trailing bytes there; the payload is inside
 * the authenticated handshake, so nobody on the path can strip it without
 * breaking the handshake).  Two hypernatd peers thus learn each other's
 * capabilities, e.g. CONN_CAP_SECURE_DGRAM, and a hyper-nat peer simply has
 * none.  conn_remote_caps() tells what the peer offered.
 *
 * Ownership and callbacks: conn_node_new() copies its config; servers and
 * connections belong to the node and are freed by conn_node_free() (their
 * on_close runs with -ECANCELED first).  A connection is freed right after
 * its on_close returns; nothing may touch it afterwards.  Callbacks never
 * run from inside the call that caused them (conn_connect() never calls
 * on_close before returning), except on_close from conn_destroy().
 * Free order: conn_node_free() before dht_free() and udx_free() (it
 * unlistens and destroys streams); DHT callbacks still pending then find
 * their connection gone and are dropped.
 *
 * The adapter feeds every datagram of every socket (the main one and those
 * sock_open() made) to udx_socket_input(); conn_node_new() installs the
 * raw handler that passes the rest to dht_input() or to a puncher.
 */
#ifndef HN_CONN_H
#define HN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"
#include "keys.h"

struct udx;
struct dht;
struct conn_node;
struct conn_server;
struct conn;

/* Capability bits carried in the handshake payload extension. */
#define CONN_CAP_SECURE_DGRAM	0x01	/* datagrams as SecretStream messages */

enum conn_path {
	CONN_PATH_NONE = 0,	/* not open yet */
	CONN_PATH_LAN,		/* a local address of the peer */
	CONN_PATH_DIRECT,	/* the peer's public address, no punching */
	CONN_PATH_PUNCHED,	/* after hole punching */
	CONN_PATH_RELAYED,	/* through a blind relay */
};

/* "lan", "direct", "punched", "relayed" or "none". */
const char	*conn_path_name(enum conn_path p);

struct conn_ops {
	/* Handshake done, stream open: writes and datagrams may flow. */
	void	(*on_open)(struct conn *c, void *arg);
	/* Bytes of the reliable stream (one decrypted frame). */
	void	(*on_data)(struct conn *c, const uint8_t *buf, size_t len,
		    void *arg);
	/* The peer ended its half of the reliable stream. */
	void	(*on_end)(struct conn *c, void *arg);
	/*
	 * One datagram: `secure` is true for a SecretStream unordered message
	 * (authenticated, decrypted), false for a raw plaintext UDX message.
	 */
	void	(*on_datagram)(struct conn *c, const uint8_t *buf, size_t len,
		    bool secure, void *arg);
	/* conn_writable() became true again. */
	void	(*on_drain)(struct conn *c, void *arg);
	/* The path changed (e.g. relayed -> punched).  Optional. */
	void	(*on_path)(struct conn *c, void *arg);
	/*
	 * Final: 0 after both halves ended cleanly, else -errno
	 * (-ETIMEDOUT, -ECONNRESET, -ECONNREFUSED for a rejected client,
	 * -EHOSTUNREACH when no path was found, -ECANCELED, ...).
	 */
	void	(*on_close)(struct conn *c, int err, void *arg);
};

/*
 * The node's UDP sockets are the adapter's: conn_node is given the index of
 * the main socket and, for punching strategies that need more sockets
 * (random-port probing, birthday), a callback that opens one more UDP
 * socket and returns its index (or -errno), and one that closes it.
 */
struct conn_node_config {
	struct hn_io	*io;
	struct udx	*udx;
	struct dht	*dht;
	int		 sock;			/* the main socket */
	int		(*sock_open)(void *arg);
	void		(*sock_close)(void *arg, int sock);
	void		*sock_arg;
	/* Our local (LAN) addresses, offered to peers as LAN candidates. */
	struct hn_addr	 local_addrs[8];
	size_t		 nlocal_addrs;
	/* Capabilities to offer (CONN_CAP_*). */
	uint32_t	 caps;
	/* Serve as a blind relay for peers that ask us to. */
	bool		 serve_relay;
};

struct conn_node *conn_node_new(const struct conn_node_config *cfg);
void		 conn_node_free(struct conn_node *n);
/*
 * Serve as a blind relay (cfg.serve_relay must be set): listen on `kp`
 * (peers name its public key in relayThrough) and pair the connections
 * that ask.  0, -EPERM without serve_relay, -EALREADY, -ENOMEM.  (Added by
 * connect; conn_node_free() stops it.)
 */
int		 conn_node_serve_relay(struct conn_node *n,
		    const struct keypair *kp);
/* The local addresses changed (netmon): re-learn, re-announce, reconnect. */
void		 conn_node_addresses_changed(struct conn_node *n,
		    const struct hn_addr *local, size_t nlocal);

/*
 * Server side.  `firewall` (may be NULL: accept all) decides on a client by
 * its public key and address before the handshake is answered: return 0
 * to accept, non-zero to reject (the client sees -ECONNREFUSED).
 * on_connection hands over each accepted connection; the callee must call
 * conn_set_ops() on it before returning.
 */
typedef int	conn_firewall_fn(void *arg, const uint8_t remote_pk[32],
		    const struct hn_addr *remote);
typedef void	conn_accept_fn(struct conn_server *s, struct conn *c, void *arg);

/* Listen (announce and answer handshakes) on `kp`, which may have no seed
 * (keypear-derived).  NULL on error. */
struct conn_server *conn_listen(struct conn_node *n, const struct keypair *kp,
		    conn_firewall_fn *firewall, conn_accept_fn *on_connection,
		    void *arg);
/* Unannounce and stop accepting; open connections stay. */
void		 conn_server_close(struct conn_server *s);

/* Client side. */
struct conn_connect_opts {
	uint8_t		 remote_pk[32];
	const struct keypair *kp;	/* our key; NULL: the node's default */
	bool		 reusable_socket;	/* hyper-nat tcp sets it */
	/* Blind relays to go through when punching cannot work (relayThrough). */
	const uint8_t	(*relay_through)[32];
	size_t		 nrelay_through;
	uint32_t	 timeout_ms;	/* 0: the reference's default */
	/* hyperdht's localConnection: false - skip the same-LAN shortcut
	 * (added by connect; zero keeps the reference's default) */
	bool		 no_local_connection;
};

/* Start connecting; on_open or on_close(err) follows.  NULL on -ENOMEM. */
struct conn	*conn_connect(struct conn_node *n,
		    const struct conn_connect_opts *o,
		    const struct conn_ops *ops, void *arg);

void		 conn_set_ops(struct conn *c, const struct conn_ops *ops,
		    void *arg);
/* One SecretStream frame (copied).  0, -EPIPE after end, -ENOTCONN before open. */
int		 conn_write(struct conn *c, const void *buf, size_t len);
/* False while too much is queued; wait for on_drain. */
bool		 conn_writable(const struct conn *c);
/* Half-close the reliable stream. */
int		 conn_end(struct conn *c);
/* A raw plaintext UDX message (<= 2028 bytes, else -EMSGSIZE). */
int		 conn_send_raw(struct conn *c, const void *buf, size_t len);
/* A SecretStream unordered message (-EMSGSIZE if it does not fit). */
int		 conn_send_secure(struct conn *c, const void *buf, size_t len);
/* Largest payload conn_send_raw / conn_send_secure take on this path. */
size_t		 conn_max_datagram(const struct conn *c, bool secure);
/* Abort: on_close(-ECANCELED... or 0) runs before this returns. */
void		 conn_destroy(struct conn *c);

const uint8_t	*conn_remote_key(const struct conn *c);
uint32_t	 conn_remote_caps(const struct conn *c);
enum conn_path	 conn_path(const struct conn *c);
void		 conn_remote_addr(const struct conn *c, struct hn_addr *out);
/* Smoothed RTT in microseconds, 0 if unknown. */
uint32_t	 conn_rtt_us(const struct conn *c);

struct conn_stats {
	uint64_t	bytes_in, bytes_out;		/* reliable stream */
	uint64_t	dgrams_in, dgrams_out;
	uint64_t	dgram_drops;			/* too large, undecryptable */
};
void		 conn_get_stats(const struct conn *c, struct conn_stats *st);

#endif

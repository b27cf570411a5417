/*
 * tunnel.h - tcp, udp and tcpudp tunnels between local sockets and peer
 * connections (DESIGN.md §4, spec/hypernat-app.md §5-§7)
 *
 * One struct tunnel_layer serves every tunnel of a process on one
 * conn_node and one libev loop.  It implements struct tuntab_ops
 * (tunnel_ops, ctx = the layer), so the daemon's table starts and stops
 * tunnels; the hyper-nat front end (hncli.c) calls tunnel_start_named()
 * directly because hyper-nat config files name keys verbatim ("udp07913").
 *
 * Export (hyper-nat "server"): conn_listen() on keys_derive(base,
 * proto + port) with an allow-list firewall; per accepted connection
 *   tcp    a TCP connection to host:port, both directions piped through
 *          the reliable stream, half-close forwarded, no idle timer;
 *   udp    a UDP socket connected to host:port, datagrams <-> raw UDX
 *          messages (hyper-nat peer) or secure datagrams (both peers offer
 *          CONN_CAP_SECURE_DGRAM);
 *   tcpudp TCP chunks <-> datagrams as hyper-nat frames them; what the
 *          peer sends before the local connect completes is buffered
 *          (hypernat-app.md §6 #4), chunks are cut to TUN_TCPUDP_CHUNK.
 * Import (hyper-nat "client"): tcp/tcpudp a local TCP listener, one peer
 * connection per local connection (connect retried with backoff); udp a
 * local UDP socket, one peer connection per source address, closed after
 * an idle time, re-opened with backoff when it breaks; replies go back to
 * that source.
 *
 * Datagrams larger than conn_max_datagram() are counted and dropped,
 * never cut.  With plaintext_datagrams: refuse, udp/tcpudp connections to
 * or from peers that do not offer secure datagrams are closed.
 */
#ifndef HN_TUNNEL_H
#define HN_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "daemon/tuntab.h"
#include "tunutil.h"

struct ev_loop;
struct conn_node;
struct tunnel_layer;
struct tunnel;

struct tunnel_config {
	struct ev_loop	*loop;
	/* NULL: later, through tunnel_layer_attach() */
	struct conn_node *node;
	/* Base key pair (exports); NULL: exports wait for attach. */
	const struct keypair *base;
	/* The key imports connect with; NULL: the node's default key. */
	const struct keypair *client;
	/* Offer and use secure datagrams when the peer offers them too
	 * (the node must have been created with CONN_CAP_SECURE_DGRAM). */
	bool		 secure_dgrams;
	/* enum plaintext_policy (config.h): refuse plaintext datagram peers. */
	int		 plaintext;
	/* 0: defaults (TUNNEL_UDP_IDLE_MS, TUNNEL_KEEPALIVE_MS). */
	uint32_t	 udp_idle_ms;
	uint32_t	 keepalive_ms;
	/* Connect attempts per local TCP connection (0: TUNNEL_TCP_ATTEMPTS). */
	unsigned	 tcp_attempts;
	/* Sessions per tunnel (0: TUNNEL_SESSIONS_MAX); past it local TCP
	 * connections are closed at once and datagrams from new UDP sources
	 * are dropped (counted), as are peer connections to an export. */
	unsigned	 max_sessions;
};

#define TUNNEL_UDP_IDLE_MS	120000
#define TUNNEL_KEEPALIVE_MS	20000
#define TUNNEL_TCP_ATTEMPTS	3
#define TUNNEL_SESSIONS_MAX	512
/* Bytes a session buffers towards a slow local socket before it gives up. */
#define TUNNEL_SOCK_QUEUE_MAX	(4u << 20)
/* Bytes of datagrams an import buffers while its connection opens. */
#define TUNNEL_DGRAM_QUEUE_MAX	(256u << 10)

/* NULL on -ENOMEM. */
struct tunnel_layer *tunnel_layer_new(const struct tunnel_config *cfg);
/* Stops every tunnel still running.  NULL is a no-op. */
void		 tunnel_layer_free(struct tunnel_layer *l);

/*
 * Give the layer its node and keys when they exist only after the layer
 * (the daemon creates the layer before hnd_init() loads the identity and
 * starts the tunnels).  Until then exports wait ("waiting for the node")
 * and imports accept locally and hold their sessions.  `base` and
 * `client` must stay valid while the layer lives.
 */
void		 tunnel_layer_attach(struct tunnel_layer *l,
		    struct conn_node *node, const struct keypair *base,
		    const struct keypair *client);

/*
 * plaintext_datagrams changed (reload): applies to connections opened
 * from now on.
 */
void		 tunnel_layer_set_policy(struct tunnel_layer *l, int plaintext);

/* struct tuntab_ops on a struct tunnel_layer (ctx). */
extern const struct tuntab_ops tunnel_ops;

/*
 * Start `def` with `keyname` as the keypear name (NULL: proto + port, as
 * hyper-nat's CLI).  For an import, def->peer is the exporter's base key.
 * Returns 0 or -errno (-EADDRINUSE when the local port is taken,
 * -EINVAL for a key name that is too long); *out is the tunnel.
 */
int		 tunnel_start_named(struct tunnel_layer *l,
		    const struct tundef *def, const char *keyname,
		    struct tunnel **out);
void		 tunnel_stop(struct tunnel *t);
void		 tunnel_get_stats(const struct tunnel *t,
		    struct tunnel_stats *st);
/* The service public key (export: ours, once derived; import: the peer's). */
const uint8_t	*tunnel_service_key(const struct tunnel *t);
/* The bound local address of an import (port 0 in the def: any). */
int		 tunnel_local_addr(const struct tunnel *t, struct hn_addr *out);
void		 tunnel_state(const struct tunnel *t, char *buf, size_t cap);

/* One open peer connection of a tunnel, for `hypernatctl peers`. */
struct tunnel_peer {
	uint8_t		 remote_pk[KEYS_PK_LEN];
	int		 path;		/* enum conn_path */
	struct hn_addr	 remote;	/* the peer's address on that path */
	struct hn_addr	 local;		/* the local end: the client (import)
					 * or the service (export) */
	uint32_t	 rtt_us;
	bool		 secure;	/* datagrams encrypted */
	uint64_t	 bytes_in, bytes_out, dgrams_in, dgrams_out, drops;
};

/*
 * Fill up to `cap` entries with the open connections of `t`; returns how
 * many there are (may exceed cap).  The handle tuntab keeps for a tunnel
 * started through tunnel_ops is a struct tunnel *.
 */
size_t		 tunnel_peers(const struct tunnel *t, struct tunnel_peer *out,
		    size_t cap);

#endif

/*
 * dht.h - a sans-I/O dht-rpc + HyperDHT node (spec/dht.md §3-§13)
 *
 * The node is handed a struct hn_io (clock, send, timers, random) and two
 * socket indexes: the server socket (reachable port, id sent from it once
 * persistent) and the client socket (requests while firewalled).  They may
 * be the same index for a node that only ever runs ephemeral (then the
 * firewall probe and adaptive persistence are off: one socket cannot show
 * that unsolicited traffic reaches it).  The adapter
 * passes every datagram that is not UDX to dht_input().
 *
 * Ownership: dht_new() copies the configuration; every request, query and
 * stored record belongs to the node and is freed by dht_free(), which first
 * calls the callbacks of operations still running with -ECANCELED (or, for
 * commits, -EIO).  Callbacks
 * run from dht_input() or a timer, never from the call that started the
 * operation; a callback may start new operations but must not free the
 * node.
 */
#ifndef HN_DHT_H
#define HN_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"
#include "cenc.h"
#include "keys.h"
#include "daemon/dht/msg.h"
#include "daemon/dht/table.h"

struct dht;
struct dht_query;

#define DHT_BOOTSTRAP_MAX	16

struct dht_config {
	int		 server_sock;
	int		 client_sock;	/* may equal server_sock */
	uint16_t	 server_port;	/* local port of the server socket */
	struct hn_addr	 bootstrap[DHT_BOOTSTRAP_MAX];
	size_t		 nbootstrap;
	/*
	 * persistent: "ephemeral: false" - become persistent during
	 * bootstrap once the public address is known and reachable.
	 * bootstrapper: DHT.bootstrapper(port, host) - persistent and not
	 * firewalled from the start at `public_addr`, empty bootstrap list.
	 * Neither: an adaptive node (persistent after ~20 stable minutes).
	 */
	bool		 persistent;
	bool		 bootstrapper;
	bool		 no_adaptive;	/* stay ephemeral forever */
	struct hn_addr	 public_addr;
	/*
	 * Wall-clock milliseconds since the epoch, for ANNOUNCE bump checks
	 * (JS compares bumps with Date.now()); NULL: the io clock.
	 */
	uint64_t	(*wall_ms)(void *arg);
	/* Called once, when the bootstrap procedure finished. */
	void		(*on_ready)(struct dht *d, void *arg);
	void		*arg;
};

/* A response as a request's callback sees it. */
struct dht_reply {
	struct hn_addr	 from;
	bool		 has_id;	/* validated against `from` */
	uint8_t		 id[32];
	bool		 has_token;
	uint8_t		 token[32];
	struct hn_addr	 to;		/* how the responder saw us */
	uint64_t	 error;
	const uint8_t	*value;		/* NULL when absent */
	size_t		 value_len;
	const struct hn_addr *closer;
	size_t		 ncloser;
};

/* err is 0 with a reply, or -ETIMEDOUT / -ECANCELED with r == NULL. */
typedef void	dht_reply_fn(void *arg, int err, const struct dht_reply *r);

struct dht_request_opts {
	struct hn_addr	 to;
	bool		 internal;
	uint64_t	 command;
	const uint8_t	*target;	/* 32 bytes or NULL */
	const uint8_t	*token;		/* 32 bytes or NULL */
	const uint8_t	*value;
	size_t		 value_len;
	bool		 has_value;
	int		 retries;	/* -1: default 3 (4 transmissions) */
	uint32_t	 timeout_ms;	/* 0: 1000 */
	int		 sock;		/* -1: the current request socket */
	bool		 force;		/* bypass the congestion window */
	const uint8_t	*to_id;		/* known id of `to` (removed on timeout) */
};

struct dht	*dht_new(struct hn_io *io, const struct dht_config *cfg);
void		 dht_free(struct dht *d);
void		 dht_input(struct dht *d, int sock, const struct hn_addr *from,
		    const uint8_t *buf, size_t len);

bool		 dht_is_bootstrapped(const struct dht *d);
bool		 dht_is_persistent(const struct dht *d);
bool		 dht_is_firewalled(const struct dht *d);
/* Our public address as sampled; false when unknown (port may be 0). */
bool		 dht_public_addr(const struct dht *d, struct hn_addr *out);
const struct dht_table *dht_get_table(const struct dht *d);
/*
 * The local addresses changed (the daemon's netmon): re-learn the public
 * address, refresh the table, re-announce every listening key.
 */
void		 dht_network_changed(struct dht *d);
/* Add a known node (e.g. a saved one) with id H(addr). */
void		 dht_add_node(struct dht *d, const struct hn_addr *addr);

/* A single request; returns 0 or -ENOMEM / -ESHUTDOWN. */
int		 dht_request(struct dht *d, const struct dht_request_opts *o,
		    dht_reply_fn *cb, void *arg);

/* -------------------------------------------------------------- queries */

/* One entry of a query's closest replies (persistent responders only). */
struct dht_qreply {
	struct hn_addr	 from;
	uint8_t		 id[32];
	bool		 has_token;
	uint8_t		 token[32];
	struct hn_addr	 to;
};

struct dht_query_opts {
	uint8_t		 target[32];
	bool		 internal;
	uint64_t	 command;
	const uint8_t	*value;		/* copied */
	size_t		 value_len;
	unsigned	 concurrency;	/* 0: 10 */
	int		 retries;	/* -1: 5 */
	const struct hn_addr *nodes;	/* seed nodes (copied), may be NULL */
	size_t		 nnodes;
	/* Each successful response (error 0). */
	void		(*on_reply)(struct dht_query *q, const struct dht_reply *r,
			    void *arg);
	/*
	 * Commit phase: called for each closest reply; the callee must call
	 * dht_query_commit_done() exactly once per call (later is fine).
	 */
	void		(*commit)(struct dht_query *q, const struct dht_qreply *r,
			    void *arg);
	/* Done: 0, or -ENOTCONN ("too few nodes responded"), -EIO (every
	 * commit failed), -ECANCELED.  The query is freed after it returns. */
	void		(*on_done)(struct dht_query *q, int err, void *arg);
	void		*arg;
};

struct dht_query *dht_query_start(struct dht *d, const struct dht_query_opts *o);
void		 dht_query_commit_done(struct dht_query *q, bool ok);
/* Closest replies so far, nearest first. */
size_t		 dht_query_closest(const struct dht_query *q,
		    const struct dht_qreply **out);
const uint8_t	*dht_query_target(const struct dht_query *q);
/*
 * During on_reply: the hop count of the responder (1 for a node the query
 * started from, n + 1 for one a depth-n responder referred us to).
 */
unsigned	 dht_query_reply_depth(const struct dht_query *q);
struct dht	*dht_query_dht(const struct dht_query *q);
/* Stop without calling on_done again later; safe from its callbacks. */
void		 dht_query_cancel(struct dht_query *q);

/* -------------------------------------------------------------- HyperDHT */

/*
 * Local servers (§13.5 "server" rows): handshake and holepunch payloads
 * for `target` are handed to these callbacks, which return a reply payload
 * (copied) or length < 0 for "no reply".
 */
struct dht_server_cbs {
	int	(*on_handshake)(void *arg, const uint8_t *noise, size_t len,
		    const struct hn_addr *peer_addr, uint8_t *reply, size_t cap);
	int	(*on_holepunch)(void *arg, uint64_t id, const uint8_t *payload,
		    size_t len, const struct hn_addr *peer_addr, uint8_t *reply,
		    size_t cap);
	void	*arg;
};

/* Client results. */
typedef void	dht_peer_fn(void *arg, const struct dht_reply *r,
		    const struct cenc_peer *peers, size_t npeers);
typedef void	dht_done_fn(void *arg, int err);
typedef void	dht_value_fn(void *arg, int err, const uint8_t *value,
		    size_t len, uint64_t seq);

/* findPeer(publicKey): every responder holding the key's record. */
int	dht_find_peer(struct dht *d, const uint8_t public_key[32],
	    dht_peer_fn *on_peer, dht_done_fn *done, void *arg);
/* lookup(topic): every responder's record list. */
int	dht_lookup(struct dht *d, const uint8_t topic[32], dht_peer_fn *on_peer,
	    dht_done_fn *done, void *arg);
/* announce / unannounce on a topic (§13.2), relays may be NULL. */
int	dht_announce_topic(struct dht *d, const uint8_t topic[32],
	    const struct keypair *kp, const struct hn_addr *relays,
	    size_t nrelays, dht_done_fn *done, void *arg);
int	dht_unannounce_topic(struct dht *d, const uint8_t topic[32],
	    const struct keypair *kp, dht_done_fn *done, void *arg);
int	dht_immutable_put(struct dht *d, const uint8_t *value, size_t len,
	    uint8_t hash_out[32], dht_done_fn *done, void *arg);
int	dht_immutable_get(struct dht *d, const uint8_t hash[32],
	    dht_value_fn *cb, void *arg);
int	dht_mutable_put(struct dht *d, const struct keypair *kp,
	    const uint8_t *value, size_t len, uint64_t seq, dht_done_fn *done,
	    void *arg);
int	dht_mutable_get(struct dht *d, const uint8_t public_key[32],
	    uint64_t min_seq, dht_value_fn *cb, void *arg);

/*
 * Listen on a key pair (§13.3): register the route, announce to the 3
 * closest nodes of H(publicKey), keep them alive every 3 s, re-announce
 * every 100 rounds or when relays stop answering or the address they see
 * for us changes.  dht_unlisten() unannounces from every relay.
 */
struct dht_announcer;
struct dht_announcer *dht_listen(struct dht *d, const struct keypair *kp,
	    const struct dht_server_cbs *cbs);
void	dht_unlisten(struct dht_announcer *a);
/* Relays of the current generation: {relay node, our address there}. */
size_t	dht_announcer_relays(const struct dht_announcer *a,
	    struct hn_addr *relay, struct hn_addr *peer_addr, size_t max);
/* Completed announce rounds. */
unsigned dht_announcer_rounds(const struct dht_announcer *a);

/* Storage statistics (for tests). */
struct dht_store_stats {
	size_t	records, forwards, refreshes, mutables, immutables, bumps;
};
void	dht_store_stats(const struct dht *d, struct dht_store_stats *st);

#endif

/*
 * tunutil.h - the parts of the tunnels that need no peer connection:
 * byte and datagram queues with a hard cap, the reconnect schedule, the
 * tcpudp chunk size, per-tunnel counters and the one-line state
 *
 * Everything here is plain memory and arithmetic, so tests reach it
 * without sockets or a connect layer.
 */
#ifndef HN_TUNUTIL_H
#define HN_TUNUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * spec/hypernat-app.md §6 #3: tcpudp sends one TCP chunk per raw message;
 * we cut chunks to at most this many bytes (hyper-nat receivers truncate
 * above 2028, path MTUs drop above ~1200).
 */
#define TUN_TCPUDP_CHUNK	1152

/*
 * A FIFO of bytes with a hard cap.  tunq_push() takes all of `len` or
 * nothing: -ENOBUFS past `max` (the caller counts the drop or closes),
 * -ENOMEM when memory runs out.  Never truncates.
 */
struct tunq {
	uint8_t		*buf;
	size_t		 off, len, cap;
	size_t		 max;
};

void	tunq_init(struct tunq *q, size_t max);
void	tunq_free(struct tunq *q);
int	tunq_push(struct tunq *q, const void *p, size_t len);
/* The contiguous queued bytes; *len is how many. */
const uint8_t *tunq_peek(const struct tunq *q, size_t *len);
void	tunq_consume(struct tunq *q, size_t n);
static inline size_t tunq_len(const struct tunq *q) { return q->len; }

/*
 * Datagrams on a tunq: each record is a 2-byte little-endian length and
 * the bytes (datagrams are at most 65535 bytes).  tunq_pop_dgram() copies
 * the oldest into out (cap bytes) and returns its length, 0 when empty,
 * -EMSGSIZE when it does not fit (it is then dropped from the queue).
 */
int	tunq_push_dgram(struct tunq *q, const void *p, size_t len);
int	tunq_pop_dgram(struct tunq *q, void *out, size_t cap);

/*
 * Reconnect delay before attempt `attempt` (0-based, 0 = first retry):
 * 500 ms doubled each time, capped at TUN_BACKOFF_MAX_MS, plus up to a
 * quarter of jitter from `rnd` (any 32 random bits).
 */
#define TUN_BACKOFF_BASE_MS	500
#define TUN_BACKOFF_MAX_MS	30000
uint32_t tun_backoff_ms(unsigned attempt, uint32_t rnd);

/*
 * "tcp", "udp", "tcpudp" for a proto bit set (enum tun_proto), NULL else;
 * and back (exact, lower case), 0 or -EINVAL.  The same as tuntab.c's,
 * which lives in libhndaemon, linked after this layer.
 */
const char *tunutil_proto_name(int proto);
int	tunutil_proto_parse(const char *s, int *proto);

/* Indexes of enum conn_path, kept here so this header needs no conn.h. */
#define TUN_NPATHS	5

/* Per-tunnel counters (DESIGN.md §4: bytes, datagrams, drops, connections). */
struct tunnel_stats {
	uint64_t	bytes_in, bytes_out;	/* in: from the peer to the local side */
	uint64_t	dgrams_in, dgrams_out;
	uint64_t	dgrams_out_secure;	/* of dgrams_out: encrypted */
	uint64_t	drops_too_big;		/* datagram larger than the path takes */
	uint64_t	drops_queue;		/* queue full (before open, slow socket) */
	uint64_t	drops_plaintext;	/* raw datagrams refused or ignored */
	uint64_t	drops_local;		/* local socket refused a datagram */
	uint64_t	conns_total;		/* peer connections opened */
	uint64_t	conns_failed;		/* closed with an error before or after open */
	uint64_t	conns_refused;		/* allow-list or plaintext policy */
	uint64_t	sessions_refused;	/* past max_sessions */
	unsigned	conns_open;
	unsigned	by_path[TUN_NPATHS];	/* open connections per path */
	unsigned	sessions;		/* local sessions (sockets, UDP sources) */
};

static inline uint64_t
tunnel_stats_drops(const struct tunnel_stats *s)
{
	return s->drops_too_big + s->drops_queue + s->drops_plaintext +
	    s->drops_local;
}

/*
 * One line: "<head>, N connection(s) (punched 1, relayed 1)[, M drops]".
 * `head` is e.g. "listening" or "listening on 127.0.0.1:8080"; path
 * names are given by the caller in enum conn_path order.  Returns buf.
 */
char	*tun_state_format(char *buf, size_t cap, const char *head,
	    const struct tunnel_stats *s, const char *const path_names[TUN_NPATHS]);

#endif

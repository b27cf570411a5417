/*
 * holepunch.h - the puncher of one connection attempt (spec/connect.md §7-§8,
 * the reference's lib/holepuncher.js)
 *
 * Sans-I/O, on struct hn_io.  The connect core creates one puncher per
 * attempt that punches (client: §7.6 step 8; server: when the first
 * PEER_HOLEPUNCH for a handshake slot arrives), and:
 *
 *   - sends its PEER_HOLEPUNCH requests (client) and replies (server) from
 *     hp_socket(), and fills their payloads with hp_fill_payload();
 *   - feeds every decrypted payload from the peer to hp_remote_update(),
 *     and every `to` of a PEER_HOLEPUNCH reply (client) or of a request that
 *     arrived on hp_socket() (server) to hp_add_sample();
 *   - hands every datagram of length <= 1 that arrives on a socket the
 *     puncher owns (hp_owns()) to hp_input(); everything else on those
 *     sockets goes on as usual (UDX first, then dht_input(): the sampling
 *     pongs come back that way);
 *   - waits for on_analyzed, then calls hp_punch() after the punch round.
 *
 * The puncher opens its sockets with the node's sock_open() (the first in
 * hp_new()), pings up to 4 DHT nodes from each new puncher socket for NAT
 * samples (dht_request with .sock, no retries), and runs the strategy of
 * §8.3 on its own timers.  Holepunch datagrams are the single byte 0x00.
 *
 * Outcomes (each at most once, never from inside the call that caused it,
 * except hp_input() which may call on_connect):
 *   on_connect(sock, addr)  client: the first holepunch datagram arrived on
 *                           `sock` from `addr` (any address: peer-reflexive
 *                           candidates count).  The puncher stops, closes its
 *                           other sockets and gives `sock` to the caller,
 *                           who closes it with sock_close() when done.
 *                           Server: never; it answers each datagram with one
 *                           0x00 to the sender and the core calls
 *                           hp_take_socket() when the client's first UDX
 *                           packet arrives on one of our sockets.
 *   on_fail(err)            the strategy ran out (-ETIMEDOUT) or could not
 *                           start; all sockets are closed.
 *
 * TTL: the reference sends "open session" and birthday datagrams with TTL
 * 5, and natlab.md §5.3 wants the first ~300 ms of punches at TTL 2.  struct
 * hn_io has no TTL; if `send_ttl` is given the puncher uses it for those,
 * else it falls back to hn_send() with the default TTL.
 */
#ifndef HN_CONNECT_HOLEPUNCH_H
#define HN_CONNECT_HOLEPUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"
#include "daemon/connect/nat.h"
#include "daemon/noise/payload.h"

struct dht;
struct holepuncher;

#define HP_BIRTHDAY_SOCKETS	256
#define HP_TTL_LOW		5	/* the reference's HOLEPUNCH_TTL */
#define HP_TTL_DEFAULT		64
#define HP_MAX_REOPENS		3
#define HP_RANDOM_PUNCH_INTERVAL_MS	20000	/* 6.34 randomPunchInterval */

/*
 * Per-node state shared by every puncher of one DHT node: the 6.34
 * random-punch throttle (§8.4).  Zero-initialise; owned by the connect core.
 */
struct hp_throttle {
	int		random_punches;		/* random-involved, running */
	uint64_t	last_random_punch_ms;	/* when the last one ended; 0 never */
	bool		enabled;		/* false: 6.5.1 behaviour */
};

struct hp_config {
	struct hn_io	*io;
	struct dht	*dht;		/* NAT sampling pings; firewalled state */
	/* The node's socket factory (struct conn_node_config). */
	int		(*sock_open)(void *arg);
	void		(*sock_close)(void *arg, int sock);
	void		*sock_arg;
	/*
	 * Optional: send with an IP TTL (e.g. the proposed hn_io_ops
	 * send_ttl); NULL: hn_send() with the socket's default TTL.
	 */
	int		(*send_ttl)(void *ttl_arg, int sock,
			    const struct hn_addr *to, const uint8_t *buf,
			    size_t len, int ttl);
	void		*ttl_arg;
	/*
	 * natlab.md §5.3, not in the reference: punches of the first
	 * `early_low_ttl_ms` of a strategy, and the open-session datagram,
	 * go out with TTL `early_low_ttl` (e.g. 300 ms, 2); needs send_ttl.
	 * 0: off (the reference).
	 */
	uint32_t	 early_low_ttl_ms;
	int		 early_low_ttl;
	struct hp_throttle *throttle;	/* may be NULL: no throttling */
	bool		 initiator;	/* client side */
	int		 remote_firewall;	/* known from payload2, else UNKNOWN */
};

struct hp_cbs {
	/* Our NAT analysis finished (the reference's `await nat.analyzing`). */
	void	(*on_analyzed)(struct holepuncher *hp, void *arg);
	void	(*on_connect)(struct holepuncher *hp, int sock,
		    const struct hn_addr *addr, void *arg);
	void	(*on_fail)(struct holepuncher *hp, int err, void *arg);
	void	*arg;
};

/* A puncher with one fresh socket, sampling started.  NULL on error. */
struct holepuncher *hp_new(const struct hp_config *cfg, const struct hp_cbs *cbs);
/* Stop, close every socket still owned; no callback runs. */
void	 hp_free(struct holepuncher *hp);

/* The current puncher socket (PEER_HOLEPUNCH goes from/to here). */
int	 hp_socket(const struct holepuncher *hp);
bool	 hp_owns(const struct holepuncher *hp, int sock);
/*
 * A datagram of length <= 1 arrived on `sock`.  Returns false if `sock` is
 * not ours.  Client: may call on_connect before returning.
 */
bool	 hp_input(struct holepuncher *hp, int sock, const struct hn_addr *from,
	    const uint8_t *buf, size_t len);
/* Server: the client's first UDX packet arrived on `sock`: keep it, stop. */
void	 hp_take_socket(struct holepuncher *hp, int sock);

/* ---------------------------------------------------------- NAT analysis */

void	 hp_add_sample(struct holepuncher *hp, const struct hn_addr *to,
	    const struct hn_addr *from);
bool	 hp_analyzed(const struct holepuncher *hp);
/* Our type (NOISE_FIREWALL_*) and observed addresses. */
int	 hp_firewall(const struct holepuncher *hp);
size_t	 hp_addresses(const struct holepuncher *hp, struct hn_addr *out,
	    size_t max);
/* Ours UNKNOWN, or both RANDOM. */
bool	 hp_unstable(const struct holepuncher *hp);
/*
 * Re-sample on a fresh socket (§7.6 9e, §7.5 step 7); on_analyzed follows.
 * -EAGAIN after HP_MAX_REOPENS.
 */
int	 hp_reopen(struct holepuncher *hp);
void	 hp_freeze(struct holepuncher *hp);

/* ------------------------------------------------------- payload rounds */

/* Our per-attempt token secret's token for `ip` (§7.4). */
void	 hp_token(const struct holepuncher *hp, const uint8_t ip[4],
	    uint8_t out[32]);
/*
 * Fill p with firewall, addresses (ours, if any) and round; flags
 * (punching, connected, tokens, remote address) are the caller's.
 */
void	 hp_fill_payload(const struct holepuncher *hp,
	    struct holepunch_payload *p, uint64_t round);
/*
 * The peer's payload of round `round` (ignored if older than the last):
 * remote firewall, addresses, punching flag.  If it echoes our token for
 * one of its addresses' hosts, or `verified_ip` is given (server: the
 * client's IP echoed through one of our announce nodes), that host becomes
 * verified (required for the RANDOM strategies).
 */
void	 hp_remote_update(struct holepuncher *hp,
	    const struct holepunch_payload *p, const uint8_t *verified_ip);
/* Add a remote address by hand (e.g. the client's peerAddress). */
void	 hp_remote_add(struct holepuncher *hp, const struct hn_addr *a,
	    bool verified);
int	 hp_remote_firewall(const struct holepuncher *hp);
bool	 hp_remote_punching(const struct holepuncher *hp);

/* ------------------------------------------------------------- punching */

/* One 0x00 from hp_socket() to `to`: TTL HP_TTL_LOW if low_ttl. */
int	 hp_send_probe(struct holepuncher *hp, const struct hn_addr *to,
	    bool low_ttl);
/*
 * Random-involved punch allowed now (§8.4)?  False while another runs or
 * within HP_RANDOM_PUNCH_INTERVAL_MS of the last.
 */
bool	 hp_random_allowed(const struct holepuncher *hp);
/*
 * Start the strategy for (our type, remote type) (§8.3).  0 started;
 * -EOPNOTSUPP no strategy applies (both RANDOM, or RANDOM without a
 * verified remote address); -EAGAIN throttled; -EALREADY running.
 */
int	 hp_punch(struct holepuncher *hp);
bool	 hp_punching(const struct holepuncher *hp);

#endif

/*
 * sim.h - a deterministic world for protocol cores: a virtual clock and an
 * in-memory UDP network, each host seen through its own struct hn_io
 *
 * Everything is driven by one seed: link loss, jitter, reordering,
 * duplication and every hn_random() call draw from the same generator, so a
 * run repeats exactly.  Time only moves when the simulation runs: sim_step()
 * jumps to the next event (a datagram arriving or a timer firing).
 *
 * Links are modelled per sending host: a datagram leaves after the host's
 * previous datagrams (bandwidth, if set), waits in a bounded queue (tail
 * drop when full), then travels `delay` plus jitter; it may be lost,
 * duplicated, or held back extra (reordered).  A filter hook may drop or
 * rewrite datagrams, e.g. to model NATs.
 */
#ifndef HN_SIM_H
#define HN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"

struct sim;
struct sim_host;

/* A datagram arrived at socket `sock` of the host. */
typedef void	sim_recv_fn(void *arg, int sock, const struct hn_addr *from,
		    const uint8_t *buf, size_t len);

/*
 * Decide the fate of a datagram about to be queued: return false to drop
 * it; `from` and `to` may be rewritten (NAT).  `sender` is the sending host.
 */
typedef bool	sim_filter_fn(void *arg, struct sim_host *sender,
		    struct hn_addr *from, struct hn_addr *to,
		    const uint8_t *buf, size_t len);

struct sim_link {
	uint32_t	delay_us;	/* one-way propagation delay */
	uint32_t	jitter_us;	/* uniform extra 0..jitter */
	double		loss;		/* probability a datagram is lost */
	double		dup;		/* probability it is delivered twice */
	double		reorder;	/* probability it is held back */
	uint32_t	reorder_us;	/* how long a held-back datagram waits */
	uint64_t	rate_bps;	/* sender bandwidth, 0 = unlimited */
	uint32_t	queue_us;	/* sender queue limit in time, 0 = none */
};

struct sim_stats {
	uint64_t	sent;		/* datagrams handed to send */
	uint64_t	delivered;	/* datagrams given to a receiver */
	uint64_t	lost;		/* dropped by `loss` */
	uint64_t	queue_drops;	/* dropped by a full sender queue */
	uint64_t	filtered;	/* dropped by the filter */
	uint64_t	unroutable;	/* no host or no socket at the address */
	uint64_t	duplicated;
	uint64_t	bytes;		/* bytes delivered */
};

/* A new world at time 0 with a perfect link (no delay, no loss). */
struct sim	*sim_new(uint64_t seed);
/* Frees the world, its hosts and datagrams in flight; timers are dropped. */
void		 sim_free(struct sim *s);
/* The link model for every datagram sent from now on. */
void		 sim_set_link(struct sim *s, const struct sim_link *link);
/* A per-host link model overriding the world's (for datagrams it sends). */
void		 sim_host_set_link(struct sim_host *h, const struct sim_link *link);
void		 sim_set_filter(struct sim *s, sim_filter_fn *fn, void *arg);

/* Add a host with IPv4 address "a.b.c.d"; NULL if taken or malformed. */
struct sim_host	*sim_host_add(struct sim *s, const char *ip);
/*
 * Bind a UDP socket on `port` (0: pick a free one from 40000 up).  Returns
 * the socket index to give hn_send(), or -EADDRINUSE / -ENOMEM.
 */
int		 sim_host_bind(struct sim_host *h, uint16_t port, sim_recv_fn *fn,
		    void *arg);
/* The address socket `sock` is bound to. */
const struct hn_addr *sim_host_addr(const struct sim_host *h, int sock);
/* Close a socket: later datagrams to it are unroutable. */
void		 sim_host_unbind(struct sim_host *h, int sock);
/*
 * Cut the host off the network (or reconnect it): everything it sends or
 * is sent meanwhile is dropped.  Its timers still run.
 */
void		 sim_host_set_offline(struct sim_host *h, bool offline);
/* The host's view of the world. */
struct hn_io	*sim_host_io(struct sim_host *h);

uint64_t	 sim_now_us(const struct sim *s);
uint64_t	 sim_now_ms(const struct sim *s);
/* Seeded uniform 64-bit random number. */
uint64_t	 sim_rand(struct sim *s);
/* Seeded uniform double in [0, 1). */
double		 sim_rand_unit(struct sim *s);
const struct sim_stats *sim_stats(const struct sim *s);

/* Run the next event; false when nothing is left to run. */
bool		 sim_step(struct sim *s);
/* Run every event up to absolute time t_ms, then set the clock to t_ms. */
void		 sim_run_until(struct sim *s, uint64_t t_ms);
/*
 * Run until done(arg) is true (checked after every event) or `max_ms` of
 * virtual time passed or nothing is left.  Returns done(arg).
 */
bool		 sim_run(struct sim *s, bool (*done)(void *arg), void *arg,
		    uint64_t max_ms);

#endif

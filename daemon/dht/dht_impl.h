/*
 * dht_impl.h - the node's internals, shared by node.c, query.c, hyper.c
 * and announce.c; nothing outside daemon/dht includes it.
 */
#ifndef HN_DHT_IMPL_H
#define HN_DHT_IMPL_H

#include "daemon/dht/dht.h"
#include "daemon/dht/ids.h"
#include "daemon/dht/natsampler.h"
#include "daemon/dht/store.h"

#define DHT_TICK_MS		5000
#define DHT_DRAIN_MS		750
#define DHT_SLEEP_MS		(3 * DHT_TICK_MS)
#define DHT_STABLE_TICKS	240
#define DHT_MORE_STABLE_TICKS	(3 * DHT_STABLE_TICKS)
#define DHT_REFRESH_TICKS	60
#define DHT_RECENT_NODE		12
#define DHT_OLD_NODE		360
#define DHT_MAX_WINDOW		80
#define DHT_CONCURRENCY		10
#define DHT_MAX_PING_DELAY	10000
#define DHT_DOWN_HINTS_PER_TICK	50
#define DHT_REQ_TIMEOUT_MS	1000

/* An outstanding request of ours. */
struct dht_req {
	struct dht	*d;
	struct dht_req	*next, *prev;		/* inflight list */
	struct dht_req	*qnext;			/* congestion queue */
	bool		 queued;
	uint16_t	 tid;
	int		 sock;
	struct hn_addr	 to;
	bool		 has_to_id;
	uint8_t		 to_id[32];
	bool		 internal;
	uint64_t	 command;
	bool		 has_target;
	uint8_t		 target[32];
	bool		 has_token;
	uint8_t		 token[32];
	bool		 has_value;
	uint8_t		*value;
	size_t		 value_len;
	uint8_t		*buf;			/* encoded at first send */
	size_t		 len;
	int		 sent;
	int		 retries;
	uint32_t	 timeout_ms;
	struct hn_timer	 timer;
	dht_reply_fn	*cb;
	void		*arg;
	/* first-timeout hook for queries */
	void		(*on_cycle)(struct dht_req *r, void *arg);
};

/* A reply we owe later (DELAYED_PING). */
struct dht_delayed {
	struct dht	*d;
	struct dht_delayed *next, *prev;
	struct hn_timer	 timer;
	uint16_t	 tid;
	int		 sock;
	struct hn_addr	 to;
};

/* An incoming request being handled. */
struct dht_inreq {
	int		 sock;
	struct hn_addr	 from;
	bool		 has_id;	/* validated */
	const struct dht_msg *m;
};

struct dht_netcheck;
struct dht_announcer;

struct dht {
	struct hn_io	*io;
	struct dht_config cfg;
	struct dht_table table;
	struct dht_tokens tokens;
	struct dht_natsampler nat;
	bool		 ephemeral;
	bool		 firewalled;
	bool		 adaptive;
	bool		 force_persistent;
	bool		 quick_firewall;
	bool		 bootstrapped;
	bool		 destroyed;
	uint64_t	 tick;
	int		 refresh_ticks;
	int		 stable_ticks;
	bool		 has_last_host;
	uint8_t		 last_host[4];
	uint64_t	 last_tick_ms;
	uint16_t	 tid;
	int		 repinging;
	int		 checks;
	int		 down_hints_sent;
	int		 rotate_secrets;
	/* congestion window (§3.8) */
	unsigned	 cw[4];
	unsigned	 cw_total;
	unsigned	 cw_i;
	struct dht_req	*cq_head, *cq_tail;
	struct dht_req	*inflight;
	size_t		 ninflight;
	struct dht_delayed *delayed;
	struct dht_query *queries;
	/* responders without id sampled (bootstrap nodes, §10.1) */
	struct hn_addr	 nonpersistent[DHT_BOOTSTRAP_MAX];
	size_t		 nnonpersistent;
	/* bootstrap procedure */
	int		 boot_round;
	bool		 boot_first;
	bool		 boot_test_nat;
	struct dht_netcheck *netcheck;
	struct hn_timer	 tick_timer;
	struct hn_timer	 drain_timer;
	/* HyperDHT */
	struct dht_store store;
	struct dht_announcer *announcers;
};

/* node.c */
int	dht_req_send_new(struct dht *d, const struct dht_request_opts *o,
	    dht_reply_fn *cb, void *arg, struct dht_req **out);
void	dht_send_reply(struct dht *d, const struct dht_inreq *req,
	    uint64_t error, const uint8_t *value, size_t value_len, bool token,
	    bool closer, const struct hn_addr *to, int sock);
void	dht_send_relay(struct dht *d, const struct dht_inreq *req,
	    const uint8_t *value, size_t value_len, const struct hn_addr *to,
	    int sock);
int	dht_request_sock(const struct dht *d);
uint64_t dht_random_u64(struct dht *d);
void	dht_send_down_hint(struct dht *d, const struct hn_addr *to,
	    const struct hn_addr *down);
void	dht_refresh(struct dht *d);
bool	dht_has_id(const struct dht *d);

/* query.c */
void	dht_queries_free(struct dht *d);
struct dht_query *dht_background_query(struct dht *d, const uint8_t target[32],
	    void (*on_reply)(struct dht_query *, const struct dht_reply *, void *),
	    void (*on_done)(struct dht_query *, int, void *), void *arg);

/* hyper.c */
bool	dht_hyper_onrequest(struct dht *d, const struct dht_inreq *req);
void	dht_hyper_tick(struct dht *d);
void	dht_hyper_init(struct dht *d);
void	dht_hyper_free(struct dht *d);

/* announce.c */
void	dht_announcers_free(struct dht *d);
/* Re-announce now (after a network change). */
void	dht_announcers_refresh(struct dht *d);

#endif

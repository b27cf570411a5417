/*
 * sim.c - virtual clock and in-memory UDP network
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "timerq.h"

#define SIM_MAX_SOCKS	320	/* birthday punching opens 256 */
#define HOST_HASH_MIN	64

struct sim_sock {
	struct hn_addr	 addr;
	sim_recv_fn	*fn;
	void		*arg;
	bool		 bound;
};

struct sim_host {
	struct sim	*sim;
	struct hn_io	 io;
	uint8_t		 ip[4];
	struct sim_sock	 socks[SIM_MAX_SOCKS];
	int		 nsocks;
	uint16_t	 next_port;
	bool		 offline;
	bool		 has_link;
	struct sim_link	 link;
	uint64_t	 tx_free_us;	/* when the sender's link is idle again */
};

struct sim_pkt {
	uint64_t	 at_us;
	uint64_t	 seq;
	struct hn_addr	 from;
	struct hn_addr	 to;
	size_t		 len;
	uint8_t		 data[];
};

struct sim {
	uint64_t	 now_us;
	uint64_t	 rng;
	struct timerq	 timers;
	struct sim_link	 link;
	sim_filter_fn	*filter;
	void		*filter_arg;
	struct sim_stats stats;

	struct sim_host	**hosts;	/* open addressing by IP */
	size_t		 hosts_cap;
	size_t		 nhosts;

	struct sim_pkt	**pkts;		/* min-heap on (at_us, seq) */
	size_t		 npkts;
	size_t		 pkts_cap;
	uint64_t	 pkt_seq;
};

/* ---- random: splitmix64 */

uint64_t
sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
sim_rand_unit(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) / (double)(1ULL << 53);
}

/* ---- datagram heap */

static bool
pkt_before(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->at_us != b->at_us ? a->at_us < b->at_us : a->seq < b->seq;
}

static int
pkt_push(struct sim *s, struct sim_pkt *p)
{
	size_t i;

	if (s->npkts == s->pkts_cap) {
		size_t cap = s->pkts_cap ? s->pkts_cap * 2 : 256;
		struct sim_pkt **n = realloc(s->pkts, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		s->pkts = n;
		s->pkts_cap = cap;
	}
	p->seq = s->pkt_seq++;
	for (i = s->npkts++; i > 0; i = (i - 1) / 2) {
		struct sim_pkt *parent = s->pkts[(i - 1) / 2];

		if (!pkt_before(p, parent))
			break;
		s->pkts[i] = parent;
	}
	s->pkts[i] = p;
	return 0;
}

static struct sim_pkt *
pkt_pop(struct sim *s)
{
	struct sim_pkt *top = s->pkts[0], *last;
	size_t i = 0;

	last = s->pkts[--s->npkts];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct sim_pkt *best = last;

		if (l < s->npkts && pkt_before(s->pkts[l], best)) {
			m = l;
			best = s->pkts[l];
		}
		if (r < s->npkts && pkt_before(s->pkts[r], best))
			m = r;
		if (m == i)
			break;
		s->pkts[i] = s->pkts[m];
		i = m;
	}
	if (s->npkts)
		s->pkts[i] = last;
	return top;
}

/* ---- hosts */

static size_t
ip_hash(const uint8_t ip[4], size_t cap)
{
	uint32_t v = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
	    (uint32_t)ip[2] << 8 | ip[3];

	return (size_t)((v * 2654435761u) & (cap - 1));
}

static struct sim_host *
host_find(const struct sim *s, const uint8_t ip[4])
{
	size_t i;

	if (s->hosts_cap == 0)
		return NULL;
	for (i = ip_hash(ip, s->hosts_cap); s->hosts[i];
	    i = (i + 1) & (s->hosts_cap - 1))
		if (memcmp(s->hosts[i]->ip, ip, 4) == 0)
			return s->hosts[i];
	return NULL;
}

static int
host_insert(struct sim *s, struct sim_host *h)
{
	size_t i;

	if ((s->nhosts + 1) * 2 > s->hosts_cap) {
		size_t cap = s->hosts_cap ? s->hosts_cap * 2 : HOST_HASH_MIN, j;
		struct sim_host **old = s->hosts, **n = calloc(cap, sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		s->hosts = n;
		for (j = 0; j < s->hosts_cap; j++) {
			if (old[j] == NULL)
				continue;
			for (i = ip_hash(old[j]->ip, cap); n[i]; i = (i + 1) & (cap - 1))
				;
			n[i] = old[j];
		}
		s->hosts_cap = cap;
		free(old);
	}
	for (i = ip_hash(h->ip, s->hosts_cap); s->hosts[i];
	    i = (i + 1) & (s->hosts_cap - 1))
		;
	s->hosts[i] = h;
	s->nhosts++;
	return 0;
}

/* ---- the hn_io of a host */

static uint64_t
io_now_ms(void *ctx)
{
	return ((struct sim_host *)ctx)->sim->now_us / 1000;
}

static uint64_t
io_now_us(void *ctx)
{
	return ((struct sim_host *)ctx)->sim->now_us;
}

static void
io_timer_arm(void *ctx, struct hn_timer *t, uint64_t due_ms)
{
	struct sim_host *h = ctx;

	if (timerq_arm(&h->sim->timers, t, due_ms) != 0)
		abort();	/* out of memory in a test: nothing sensible to do */
}

static void
io_timer_cancel(void *ctx, struct hn_timer *t)
{
	timerq_cancel(&((struct sim_host *)ctx)->sim->timers, t);
}

static void
io_random(void *ctx, void *buf, size_t len)
{
	struct sim_host *h = ctx;
	uint8_t *p = buf;

	while (len) {
		uint64_t r = sim_rand(h->sim);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static int
queue_copy(struct sim *s, const struct hn_addr *from, const struct hn_addr *to,
    const uint8_t *buf, size_t len, uint64_t at_us)
{
	struct sim_pkt *p = malloc(sizeof(*p) + len);

	if (p == NULL)
		return -ENOMEM;
	p->at_us = at_us;
	p->from = *from;
	p->to = *to;
	p->len = len;
	memcpy(p->data, buf, len);
	if (pkt_push(s, p) != 0) {
		free(p);
		return -ENOMEM;
	}
	return 0;
}

/* One-way delay of one copy: propagation, jitter, maybe held back. */
static uint64_t
copy_delay(struct sim *s, const struct sim_link *l)
{
	uint64_t d = l->delay_us;

	if (l->jitter_us)
		d += sim_rand(s) % ((uint64_t)l->jitter_us + 1);
	if (l->reorder > 0 && sim_rand_unit(s) < l->reorder)
		d += l->reorder_us;
	return d;
}

static int
io_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	struct sim_host *h = ctx;
	struct sim *s = h->sim;
	const struct sim_link *l = h->has_link ? &h->link : &s->link;
	struct hn_addr from, dst = *to;
	uint64_t depart;

	if (sock < 0 || sock >= h->nsocks || !h->socks[sock].bound)
		return -EBADF;
	s->stats.sent++;
	from = h->socks[sock].addr;
	if (h->offline) {
		s->stats.filtered++;
		return 0;
	}
	if (s->filter && !s->filter(s->filter_arg, h, &from, &dst, buf, len)) {
		s->stats.filtered++;
		return 0;
	}
	/* the sender's link: serialise behind earlier datagrams */
	depart = s->now_us;
	if (l->rate_bps) {
		uint64_t tx = (uint64_t)(len + 28) * 8 * 1000000 / l->rate_bps;

		if (h->tx_free_us > depart) {
			if (l->queue_us && h->tx_free_us - depart > l->queue_us) {
				s->stats.queue_drops++;
				return 0;
			}
			depart = h->tx_free_us;
		}
		depart += tx;
		h->tx_free_us = depart;
	}
	if (l->loss > 0 && sim_rand_unit(s) < l->loss) {
		s->stats.lost++;
		return 0;
	}
	if (queue_copy(s, &from, &dst, buf, len, depart + copy_delay(s, l)) != 0)
		return -ENOBUFS;
	if (l->dup > 0 && sim_rand_unit(s) < l->dup) {
		s->stats.duplicated++;
		(void)queue_copy(s, &from, &dst, buf, len,
		    depart + copy_delay(s, l));
	}
	return 0;
}

static const struct hn_io_ops sim_io_ops = {
	.now_ms = io_now_ms,
	.now_us = io_now_us,
	.send = io_send,
	.timer_arm = io_timer_arm,
	.timer_cancel = io_timer_cancel,
	.random = io_random,
};

/* ---- world */

struct sim *
sim_new(uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->rng = seed;
	timerq_init(&s->timers);
	return s;
}

void
sim_free(struct sim *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->npkts; i++)
		free(s->pkts[i]);
	free(s->pkts);
	for (i = 0; i < s->hosts_cap; i++)
		free(s->hosts[i]);
	free(s->hosts);
	timerq_free(&s->timers);
	free(s);
}

void
sim_set_link(struct sim *s, const struct sim_link *link)
{
	s->link = *link;
}

void
sim_host_set_link(struct sim_host *h, const struct sim_link *link)
{
	h->link = *link;
	h->has_link = true;
}

void
sim_set_filter(struct sim *s, sim_filter_fn *fn, void *arg)
{
	s->filter = fn;
	s->filter_arg = arg;
}

struct sim_host *
sim_host_add(struct sim *s, const char *ip)
{
	struct sim_host *h;
	uint8_t a[4];

	if (addr_parse_ip(ip, a) != 0 || host_find(s, a) != NULL)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->sim = s;
	memcpy(h->ip, a, 4);
	h->io.ops = &sim_io_ops;
	h->io.ctx = h;
	h->next_port = 40000;
	if (host_insert(s, h) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

static struct sim_sock *
sock_by_port(struct sim_host *h, uint16_t port)
{
	int i;

	for (i = 0; i < h->nsocks; i++)
		if (h->socks[i].bound && h->socks[i].addr.port == port)
			return &h->socks[i];
	return NULL;
}

int
sim_host_bind(struct sim_host *h, uint16_t port, sim_recv_fn *fn, void *arg)
{
	struct sim_sock *sk;
	int i;

	if (port == 0) {
		while (sock_by_port(h, h->next_port) != NULL)
			h->next_port++;
		port = h->next_port++;
	} else if (sock_by_port(h, port) != NULL) {
		return -EADDRINUSE;
	}
	for (i = 0; i < h->nsocks && h->socks[i].bound; i++)
		;
	if (i == SIM_MAX_SOCKS)
		return -ENOMEM;
	if (i == h->nsocks)
		h->nsocks++;
	sk = &h->socks[i];
	memcpy(sk->addr.ip, h->ip, 4);
	sk->addr.port = port;
	sk->fn = fn;
	sk->arg = arg;
	sk->bound = true;
	return i;
}

const struct hn_addr *
sim_host_addr(const struct sim_host *h, int sock)
{
	return &h->socks[sock].addr;
}

void
sim_host_unbind(struct sim_host *h, int sock)
{
	if (sock >= 0 && sock < h->nsocks)
		h->socks[sock].bound = false;
}

void
sim_host_set_offline(struct sim_host *h, bool offline)
{
	h->offline = offline;
}

struct hn_io *
sim_host_io(struct sim_host *h)
{
	return &h->io;
}

uint64_t
sim_now_us(const struct sim *s)
{
	return s->now_us;
}

uint64_t
sim_now_ms(const struct sim *s)
{
	return s->now_us / 1000;
}

const struct sim_stats *
sim_stats(const struct sim *s)
{
	return &s->stats;
}

static void
deliver(struct sim *s, struct sim_pkt *p)
{
	struct sim_host *h = host_find(s, p->to.ip);
	struct sim_sock *sk;
	int idx;

	if (h == NULL || (sk = sock_by_port(h, p->to.port)) == NULL) {
		s->stats.unroutable++;
		return;
	}
	if (h->offline) {
		s->stats.filtered++;
		return;
	}
	idx = (int)(sk - h->socks);
	s->stats.delivered++;
	s->stats.bytes += p->len;
	sk->fn(sk->arg, idx, &p->from, p->data, p->len);
}

/* Time of the next event in µs, or UINT64_MAX. */
static uint64_t
next_event_us(const struct sim *s)
{
	struct hn_timer *t = timerq_peek(&s->timers);
	uint64_t at = UINT64_MAX;

	if (t != NULL)
		at = t->due * 1000;
	if (s->npkts && s->pkts[0]->at_us < at)
		at = s->pkts[0]->at_us;
	return at;
}

bool
sim_step(struct sim *s)
{
	struct hn_timer *t = timerq_peek(&s->timers);
	uint64_t at = next_event_us(s);

	if (at == UINT64_MAX)
		return false;
	if (at > s->now_us)
		s->now_us = at;
	/* timers first on a tie: a timer armed for "now" runs before input */
	if (t != NULL && t->due * 1000 <= s->now_us) {
		timerq_run(&s->timers, s->now_us / 1000);
	} else {
		struct sim_pkt *p = pkt_pop(s);

		deliver(s, p);
		free(p);
	}
	return true;
}

void
sim_run_until(struct sim *s, uint64_t t_ms)
{
	while (next_event_us(s) <= t_ms * 1000)
		(void)sim_step(s);
	if (s->now_us < t_ms * 1000)
		s->now_us = t_ms * 1000;
}

bool
sim_run(struct sim *s, bool (*done)(void *arg), void *arg, uint64_t max_ms)
{
	uint64_t end = s->now_us + max_ms * 1000;

	while (!done(arg)) {
		if (next_event_us(s) > end)
			return done(arg);
		(void)sim_step(s);
	}
	return true;
}

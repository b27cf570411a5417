/*
 * simnat.c - NAT routers on the simulator's filter hook (see simnat.h)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simnat.h"

#define SIMNAT_UDP_MS		30000	/* nf_conntrack_udp_timeout */
#define SIMNAT_STREAM_MS	120000	/* nf_conntrack_udp_timeout_stream */

/* One conntrack flow of a mapping: the remote end and its age. */
struct snflow {
	struct hn_addr	remote;
	uint64_t	last_ms;
	bool		replied;
};

struct snmap {
	struct hn_addr	priv;
	struct hn_addr	dst;		/* sym: the one destination */
	uint16_t	pub_port;
	struct snflow	*flows;
	size_t		nflows, cap;
};

struct simnat_router {
	struct simnat	*w;
	enum simnat_type type;
	uint8_t		pub[4];
	uint8_t		(*members)[4];
	size_t		nmembers;
	uint32_t	udp_ms, stream_ms;
	struct snmap	*maps;
	size_t		nmaps, cap;
};

struct simnat {
	struct sim		*sim;
	struct simnat_router	**routers;
	size_t			nrouters;
	struct simnat_stats	stats;
};

static const char *const type_names[] = {
	[SIMNAT_NONE] = "none",
	[SIMNAT_FW] = "fw",
	[SIMNAT_PCONE] = "pcone",
	[SIMNAT_FULLCONE] = "fullcone",
	[SIMNAT_RCONE] = "rcone",
	[SIMNAT_SYM] = "sym",
};

static bool
is_nat(const struct simnat_router *r)
{
	return r->type != SIMNAT_NONE && r->type != SIMNAT_FW;
}

static bool
is_member(const struct simnat_router *r, const uint8_t ip[4])
{
	for (size_t i = 0; i < r->nmembers; i++)
		if (memcmp(r->members[i], ip, 4) == 0)
			return true;
	return false;
}

static struct simnat_router *
router_of(const struct simnat *w, const uint8_t ip[4])
{
	for (size_t i = 0; i < w->nrouters; i++)
		if (is_member(w->routers[i], ip))
			return w->routers[i];
	return NULL;
}

static bool
flow_alive(const struct simnat_router *r, const struct snflow *f,
    uint64_t now)
{
	return now <= f->last_ms + (f->replied ? r->stream_ms : r->udp_ms);
}

/* Drop expired flows; a mapping without flows is gone (natlab §5.5). */
static void
expire(struct simnat_router *r, uint64_t now)
{
	size_t i = 0;

	while (i < r->nmaps) {
		struct snmap *m = &r->maps[i];
		size_t j = 0;

		while (j < m->nflows) {
			if (flow_alive(r, &m->flows[j], now))
				j++;
			else
				m->flows[j] = m->flows[--m->nflows];
		}
		if (m->nflows > 0) {
			i++;
			continue;
		}
		free(m->flows);
		r->maps[i] = r->maps[--r->nmaps];
	}
}

static struct snflow *
flow_find(struct snmap *m, const struct hn_addr *remote, bool by_host)
{
	for (size_t i = 0; i < m->nflows; i++) {
		struct snflow *f = &m->flows[i];

		if (by_host ? memcmp(f->remote.ip, remote->ip, 4) == 0 :
		    addr_eq(&f->remote, remote))
			return f;
	}
	return NULL;
}

static struct snflow *
flow_add(struct snmap *m, const struct hn_addr *remote, uint64_t now)
{
	struct snflow *f = flow_find(m, remote, false);

	if (f != NULL)
		return f;
	if (m->nflows == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		struct snflow *nf = realloc(m->flows, cap * sizeof(*nf));

		if (nf == NULL)
			return NULL;
		m->flows = nf;
		m->cap = cap;
	}
	f = &m->flows[m->nflows++];
	f->remote = *remote;
	f->last_ms = now;
	f->replied = false;
	return f;
}

static bool
port_used(const struct simnat_router *r, uint16_t port)
{
	for (size_t i = 0; i < r->nmaps; i++)
		if (r->maps[i].pub_port == port)
			return true;
	return false;
}

static uint16_t
pick_port(struct simnat_router *r, uint16_t want)
{
	if (r->type == SIMNAT_FW)
		return want;
	/* natlab §5.4: masquerade keeps the source port when it is free */
	if (r->type != SIMNAT_SYM && want != 0 && !port_used(r, want))
		return want;
	for (;;) {
		uint16_t p = (uint16_t)(1024 + sim_rand(r->w->sim) % 64512);

		if (!port_used(r, p))
			return p;
	}
}

static struct snmap *
map_out(struct simnat_router *r, const struct hn_addr *priv,
    const struct hn_addr *dst)
{
	struct snmap *m;

	for (size_t i = 0; i < r->nmaps; i++) {
		m = &r->maps[i];
		if (!addr_eq(&m->priv, priv))
			continue;
		if (r->type == SIMNAT_SYM && !addr_eq(&m->dst, dst))
			continue;
		return m;
	}
	if (r->nmaps == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct snmap *nm = realloc(r->maps, cap * sizeof(*nm));

		if (nm == NULL)
			return NULL;
		r->maps = nm;
		r->cap = cap;
	}
	m = &r->maps[r->nmaps];
	memset(m, 0, sizeof(*m));
	m->priv = *priv;
	m->dst = *dst;
	m->pub_port = pick_port(r, priv->port);
	r->nmaps++;
	r->w->stats.mapped++;
	return m;
}

static struct snmap *
map_in(struct simnat_router *r, const struct hn_addr *to)
{
	for (size_t i = 0; i < r->nmaps; i++) {
		struct snmap *m = &r->maps[i];

		if (r->type == SIMNAT_FW ? addr_eq(&m->priv, to) :
		    m->pub_port == to->port)
			return m;
	}
	return NULL;
}

/* Leaving the sender's router: map and remember the flow. */
static bool
nat_out(struct simnat_router *r, struct hn_addr *from,
    const struct hn_addr *to, uint64_t now)
{
	struct snmap *m;
	struct snflow *f;

	if (r->type == SIMNAT_NONE)
		return true;
	if (memcmp(to->ip, r->pub, 4) == 0 && is_nat(r)) {
		r->w->stats.unroutable++;	/* no hairpinning */
		return false;
	}
	if ((m = map_out(r, from, to)) == NULL)
		return false;
	if ((f = flow_add(m, to, now)) == NULL)
		return false;
	f->last_ms = now;
	if (is_nat(r)) {
		memcpy(from->ip, r->pub, 4);
		from->port = m->pub_port;
	}
	return true;
}

/* Arriving at the receiver's router: filter, then map back. */
static bool
nat_in(struct simnat_router *r, const struct hn_addr *from,
    struct hn_addr *to, uint64_t now)
{
	struct snmap *m = map_in(r, to);
	struct snflow *f = NULL;

	if (m != NULL) {
		switch (r->type) {
		case SIMNAT_FULLCONE:
			f = flow_add(m, from, now);
			break;
		case SIMNAT_RCONE:
			if (flow_find(m, from, true) != NULL)
				f = flow_add(m, from, now);
			break;
		default:	/* pcone, sym, fw: APDF */
			f = flow_find(m, from, false);
			break;
		}
	}
	if (f == NULL) {
		r->w->stats.in_dropped++;
		return false;
	}
	f->replied = true;
	f->last_ms = now;
	*to = m->priv;
	r->w->stats.in_ok++;
	return true;
}

static struct simnat_router *
router_by_public(const struct simnat *w, const uint8_t ip[4])
{
	for (size_t i = 0; i < w->nrouters; i++) {
		struct simnat_router *r = w->routers[i];

		if (is_nat(r) && memcmp(r->pub, ip, 4) == 0)
			return r;
	}
	return NULL;
}

static bool
filter(void *arg, struct sim_host *sender, struct hn_addr *from,
    struct hn_addr *to, const uint8_t *buf, size_t len)
{
	struct simnat *w = arg;
	uint64_t now = sim_now_ms(w->sim);
	struct simnat_router *rs = router_of(w, from->ip);
	struct simnat_router *rd = router_of(w, to->ip);

	for (size_t i = 0; i < w->nrouters; i++)
		expire(w->routers[i], now);
	/* both on one LAN: the router is not involved */
	if (rs != NULL && rs == rd)
		return true;
	if (rs != NULL && !nat_out(rs, from, to, now))
		return false;
	if (rd != NULL) {
		if (is_nat(rd)) {	/* private address from outside */
			w->stats.unroutable++;
			return false;
		}
		if (rd->type == SIMNAT_FW)
			return nat_in(rd, from, to, now);
		return true;
	}
	if ((rd = router_by_public(w, to->ip)) != NULL)
		return nat_in(rd, from, to, now);
	return true;
}

struct simnat *
simnat_new(struct sim *s)
{
	struct simnat *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->sim = s;
	sim_set_filter(s, filter, w);
	return w;
}

void
simnat_free(struct simnat *w)
{
	if (w == NULL)
		return;
	sim_set_filter(w->sim, NULL, NULL);
	for (size_t i = 0; i < w->nrouters; i++) {
		struct simnat_router *r = w->routers[i];

		for (size_t j = 0; j < r->nmaps; j++)
			free(r->maps[j].flows);
		free(r->maps);
		free(r->members);
		free(r);
	}
	free(w->routers);
	free(w);
}

int
simnat_type_parse(const char *name, enum simnat_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*out = (enum simnat_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
simnat_type_name(enum simnat_type t)
{
	if ((size_t)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[t];
}

struct simnat_router *
simnat_router_add(struct simnat *w, enum simnat_type t, const char *public_ip)
{
	struct simnat_router *r, **nr;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (addr_parse_ip(public_ip, r->pub) != 0) {
		free(r);
		return NULL;
	}
	nr = realloc(w->routers, (w->nrouters + 1) * sizeof(*nr));
	if (nr == NULL) {
		free(r);
		return NULL;
	}
	w->routers = nr;
	r->w = w;
	r->type = t;
	r->udp_ms = SIMNAT_UDP_MS;
	r->stream_ms = SIMNAT_STREAM_MS;
	w->routers[w->nrouters++] = r;
	return r;
}

int
simnat_router_attach(struct simnat_router *r, const char *ip)
{
	uint8_t a[4], (*nm)[4];

	if (addr_parse_ip(ip, a) != 0)
		return -EINVAL;
	nm = realloc(r->members, (r->nmembers + 1) * sizeof(*nm));
	if (nm == NULL)
		return -ENOMEM;
	r->members = nm;
	memcpy(r->members[r->nmembers++], a, 4);
	return 0;
}

void
simnat_router_set_timeouts(struct simnat_router *r, uint32_t udp_ms,
    uint32_t stream_ms)
{
	r->udp_ms = udp_ms;
	r->stream_ms = stream_ms;
}

size_t
simnat_router_mappings(struct simnat_router *r)
{
	expire(r, sim_now_ms(r->w->sim));
	return r->nmaps;
}

const struct simnat_stats *
simnat_stats(const struct simnat *w)
{
	return &w->stats;
}

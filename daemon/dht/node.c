/*
 * node.c - the dht-rpc node: requests, replies, internal commands, routing
 * table upkeep, bootstrap and the firewall / persistence checks
 * (spec/dht.md §3, §6-§8, §10, §11)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "cursor.h"
#include "log.h"
#include "dht_impl.h"

static void	req_send(struct dht_req *r, bool force);
static void	boot_next(struct dht *d);

/* ------------------------------------------------------------ helpers */

uint64_t
dht_random_u64(struct dht *d)
{
	uint64_t v;

	hn_random(d->io, &v, sizeof(v));
	return v;
}

int
dht_request_sock(const struct dht *d)
{
	/* §1: the client socket while firewalled, the server socket after */
	return d->firewalled ? d->cfg.client_sock : d->cfg.server_sock;
}

bool
dht_has_id(const struct dht *d)
{
	return !d->ephemeral;
}

/* JS filterNode: hard-coded misbehaving addresses (§6). */
static bool
node_filtered(const struct hn_addr *a)
{
	static const uint8_t bad1[4] = { 134, 209, 28, 98 };
	static const uint8_t bad2[4] = { 167, 99, 142, 185 };
	static const uint8_t bad3[4] = { 35, 233, 47, 252 };
	static const uint8_t bad4[4] = { 150, 136, 142, 116 };

	if (a->port == 49738 && (memcmp(a->ip, bad1, 4) == 0 ||
	    memcmp(a->ip, bad2, 4) == 0))
		return true;
	if (a->port == 9400 && memcmp(a->ip, bad3, 4) == 0)
		return true;
	return memcmp(a->ip, bad4, 4) == 0;
}

/* ------------------------------------------------------------ congestion */

static bool
cw_full(const struct dht *d)
{
	return d->cw_total >= 2 * DHT_MAX_WINDOW ||
	    d->cw[d->cw_i] >= DHT_MAX_WINDOW;
}

static void
cw_recv(struct dht *d)
{
	if (d->cw[d->cw_i] > 0) {
		d->cw[d->cw_i]--;
		d->cw_total--;
	}
}

static void
cw_send(struct dht *d)
{
	d->cw_total++;
	d->cw[d->cw_i]++;
}

static void
cw_drain(struct dht *d)
{
	d->cw_i = (d->cw_i + 1) & 3;
	d->cw_total -= d->cw[d->cw_i];
	d->cw[d->cw_i] = 0;
}

/* ------------------------------------------------------------ requests */

static void
inflight_unlink(struct dht *d, struct dht_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		d->inflight = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	d->ninflight--;
}

static void
cq_unlink(struct dht *d, struct dht_req *r)
{
	struct dht_req **pp;

	if (!r->queued)
		return;
	for (pp = &d->cq_head; *pp; pp = &(*pp)->qnext) {
		if (*pp == r) {
			*pp = r->qnext;
			break;
		}
	}
	d->cq_tail = NULL;
	for (pp = &d->cq_head; *pp; pp = &(*pp)->qnext)
		d->cq_tail = *pp;
	r->queued = false;
	r->qnext = NULL;
}

static void
req_free(struct dht_req *r)
{
	free(r->value);
	free(r->buf);
	free(r);
}

/* Finish r: unlink, cancel, count, call back, free. */
static void
req_finish(struct dht_req *r, int err, const struct dht_reply *rep)
{
	struct dht *d = r->d;

	hn_timer_cancel(d->io, &r->timer);
	cq_unlink(d, r);
	inflight_unlink(d, r);
	cw_recv(d);
	if (r->cb)
		r->cb(r->arg, err, rep);
	req_free(r);
}

static int
req_encode(struct dht_req *r)
{
	struct dht *d = r->d;
	struct dht_msg m;
	uint8_t buf[DHT_MSG_MAX];
	int n;

	memset(&m, 0, sizeof(m));
	m.type = DHT_MSG_REQUEST;
	m.tid = r->tid;
	m.to = r->to;
	/* §3.4: only a persistent node sends its id, from the server socket */
	if (!d->ephemeral && r->sock == d->cfg.server_sock) {
		m.has_id = true;
		memcpy(m.id, d->table.id, 32);
	}
	if ((m.has_token = r->has_token))
		memcpy(m.token, r->token, 32);
	m.internal = r->internal;
	m.command = r->command;
	if ((m.has_target = r->has_target))
		memcpy(m.target, r->target, 32);
	m.has_value = r->has_value;
	m.value = r->value;
	m.value_len = r->value_len;
	if ((n = dht_msg_encode(&m, buf, sizeof(buf))) < 0)
		return n;
	if ((r->buf = malloc((size_t)n)) == NULL)
		return -ENOMEM;
	memcpy(r->buf, buf, (size_t)n);
	r->len = (size_t)n;
	return 0;
}

static void
req_send_now(struct dht_req *r)
{
	struct dht *d = r->d;

	r->sent++;
	cw_send(d);
	(void)hn_send(d->io, r->sock, &r->to, r->buf, r->len);
	hn_timer_after(d->io, &r->timer, r->timeout_ms);
}

static void
req_send(struct dht_req *r, bool force)
{
	struct dht *d = r->d;

	if (!force && cw_full(d)) {
		if (!r->queued) {
			r->queued = true;
			r->qnext = NULL;
			if (d->cq_tail)
				d->cq_tail->qnext = r;
			else
				d->cq_head = r;
			d->cq_tail = r;
		}
		return;
	}
	req_send_now(r);
}

static void	on_request_timeout(struct dht *d, struct dht_req *r);

static void
req_timer_cb(struct hn_timer *t)
{
	struct dht_req *r = container_of(t, struct dht_req, timer);
	void (*cycle)(struct dht_req *, void *) = r->on_cycle;

	r->on_cycle = NULL;
	if (cycle)
		cycle(r, r->arg);
	if (r->sent > r->retries) {
		on_request_timeout(r->d, r);
		req_finish(r, -ETIMEDOUT, NULL);
	} else {
		req_send(r, false);
	}
}

int
dht_req_send_new(struct dht *d, const struct dht_request_opts *o,
    dht_reply_fn *cb, void *arg, struct dht_req **out)
{
	struct dht_req *r;

	if (d->destroyed)
		return -ESHUTDOWN;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->d = d;
	r->tid = d->tid++;
	r->sock = o->sock >= 0 ? o->sock : dht_request_sock(d);
	r->to = o->to;
	if (o->to_id) {
		r->has_to_id = true;
		memcpy(r->to_id, o->to_id, 32);
	}
	r->internal = o->internal;
	r->command = o->command;
	if (o->target) {
		r->has_target = true;
		memcpy(r->target, o->target, 32);
	}
	if (o->token) {
		r->has_token = true;
		memcpy(r->token, o->token, 32);
	}
	r->has_value = o->has_value || o->value_len > 0;
	if (o->value_len > 0) {
		if ((r->value = malloc(o->value_len)) == NULL) {
			free(r);
			return -ENOMEM;
		}
		memcpy(r->value, o->value, o->value_len);
		r->value_len = o->value_len;
	}
	r->retries = o->retries >= 0 ? o->retries : 3;
	r->timeout_ms = o->timeout_ms ? o->timeout_ms : DHT_REQ_TIMEOUT_MS;
	r->cb = cb;
	r->arg = arg;
	hn_timer_init(&r->timer, req_timer_cb);
	if (req_encode(r) != 0) {
		req_free(r);
		return -ENOMEM;
	}
	r->next = d->inflight;
	if (d->inflight)
		d->inflight->prev = r;
	d->inflight = r;
	d->ninflight++;
	if (out)
		*out = r;
	req_send(r, o->force);
	return 0;
}

int
dht_request(struct dht *d, const struct dht_request_opts *o, dht_reply_fn *cb,
    void *arg)
{
	return dht_req_send_new(d, o, cb, arg, NULL);
}

/* ------------------------------------------------------------ replies */

void
dht_send_reply(struct dht *d, const struct dht_inreq *req, uint64_t error,
    const uint8_t *value, size_t value_len, bool token, bool closer,
    const struct hn_addr *to, int sock)
{
	struct dht_node *nodes[DHT_K];
	uint8_t buf[DHT_MSG_MAX];
	struct dht_msg m;
	size_t i, n = 0;
	int len;

	if (sock < 0)
		sock = req->sock;
	if (to == NULL)
		to = &req->from;
	memset(&m, 0, sizeof(m));
	m.type = DHT_MSG_RESPONSE;
	m.tid = req->m->tid;
	m.to = *to;
	if (!d->ephemeral && sock == d->cfg.server_sock) {
		m.has_id = true;
		memcpy(m.id, d->table.id, 32);
	}
	if (token) {
		m.has_token = true;
		dht_tokens_issue(&d->tokens, to->ip, m.token);
	}
	if (closer && req->m->has_target)
		n = dht_table_closest(&d->table, req->m->target, DHT_K, nodes);
	for (i = 0; i < n; i++)
		m.closer[i] = nodes[i]->addr;
	m.ncloser = n;
	m.error = error;
	if (value != NULL && value_len > 0) {
		m.has_value = true;
		m.value = value;
		m.value_len = value_len;
	}
	if ((len = dht_msg_encode(&m, buf, sizeof(buf))) > 0)
		(void)hn_send(d->io, sock, to, buf, (size_t)len);
}

void
dht_send_relay(struct dht *d, const struct dht_inreq *req, const uint8_t *value,
    size_t value_len, const struct hn_addr *to, int sock)
{
	uint8_t buf[DHT_MSG_MAX];
	struct dht_msg m;
	int len;

	if (sock < 0)
		sock = req->sock;
	memset(&m, 0, sizeof(m));
	m.type = DHT_MSG_REQUEST;
	m.tid = req->m->tid;	/* §13.5: relayed requests keep the tid */
	m.to = *to;
	if (!d->ephemeral && sock == d->cfg.server_sock) {
		m.has_id = true;
		memcpy(m.id, d->table.id, 32);
	}
	m.internal = req->m->internal;
	m.command = req->m->command;
	if ((m.has_target = req->m->has_target))
		memcpy(m.target, req->m->target, 32);
	if (value_len > 0) {
		m.has_value = true;
		m.value = value;
		m.value_len = value_len;
	}
	if ((len = dht_msg_encode(&m, buf, sizeof(buf))) > 0)
		(void)hn_send(d->io, sock, to, buf, (size_t)len);
}

/* ------------------------------------------------------------ table upkeep */

static void
nat_add(struct dht *d, const struct hn_addr *to)
{
	dht_natsampler_add(&d->nat, to->ip, to->port);
}

static int
add_node(struct dht *d, const struct dht_node *tmpl);

struct reping {
	struct dht	*d;
	uint8_t		 old_id[32];
	uint64_t	 last_seen;
	struct dht_node	 newcomer;
};

static void
reping_cb(void *arg, int err, const struct dht_reply *r)
{
	struct reping *rp = arg;
	struct dht *d = rp->d;
	struct dht_node *old = dht_table_get(&d->table, rp->old_id);

	d->repinging--;
	if (err == -ECANCELED) {
		free(rp);
		return;
	}
	/* §6: keep the old node only if it answered and was heard since */
	if (err == 0 && old != NULL && old->seen > rp->last_seen) {
		free(rp);
		return;
	}
	if (old != NULL)
		dht_table_remove(&d->table, rp->old_id);
	(void)add_node(d, &rp->newcomer);
	free(rp);
}

static void
on_full_row(struct dht *d, const struct dht_node *newcomer)
{
	struct dht_request_opts o;
	struct dht_node *oldest;
	struct reping *rp;

	if (!d->bootstrapped || d->repinging >= 3)
		return;
	oldest = dht_table_row_oldest(dht_table_row(&d->table, newcomer->id),
	    d->tick);
	if (oldest == NULL)
		return;
	if (d->tick - oldest->pinged < DHT_RECENT_NODE &&
	    d->tick - oldest->added > DHT_OLD_NODE)
		return;
	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return;
	rp->d = d;
	memcpy(rp->old_id, oldest->id, 32);
	rp->last_seen = oldest->seen;
	rp->newcomer = *newcomer;
	oldest->pinged = d->tick;
	memset(&o, 0, sizeof(o));
	o.to = oldest->addr;
	o.internal = true;
	o.command = DHT_CMD_PING;
	o.retries = -1;
	o.sock = -1;
	d->repinging++;
	if (dht_request(d, &o, reping_cb, rp) != 0) {
		d->repinging--;
		free(rp);
	}
}

static int
add_node(struct dht *d, const struct dht_node *tmpl)
{
	struct dht_node n = *tmpl;
	struct dht_node *added;
	int rc;

	n.added = n.pinged = n.seen = d->tick;
	n.prev = n.next = NULL;
	rc = dht_table_add(&d->table, &n);
	if (rc == -ENOSPC)
		on_full_row(d, &n);
	if (rc != 0)
		return rc;
	added = dht_table_get(&d->table, n.id);
	if (added->has_to && added->sampled == 0) {
		added->sampled = d->tick;
		nat_add(d, &added->to);
	}
	return 0;
}

void
dht_add_node(struct dht *d, const struct hn_addr *addr)
{
	struct dht_node n;

	memset(&n, 0, sizeof(n));
	n.addr = *addr;
	dht_node_id(n.id, addr);
	(void)add_node(d, &n);
}

/* §10.1: sample the first few id-less responders (bootstrap nodes). */
static void
sample_bootstrap_maybe(struct dht *d, const struct hn_addr *from,
    const struct hn_addr *to)
{
	size_t i, max = d->cfg.nbootstrap > 1 ? d->cfg.nbootstrap : 1;

	if (d->nnonpersistent >= max || d->nnonpersistent >= DHT_BOOTSTRAP_MAX)
		return;
	for (i = 0; i < d->nnonpersistent; i++)
		if (addr_eq(&d->nonpersistent[i], from))
			return;
	d->nonpersistent[d->nnonpersistent++] = *from;
	nat_add(d, to);
}

static void
add_node_from_network(struct dht *d, bool sample, const struct hn_addr *from,
    bool has_id, const uint8_t id[32], const struct hn_addr *to)
{
	struct dht_node *old, n;

	if (node_filtered(from))
		return;
	if (!has_id) {
		sample_bootstrap_maybe(d, from, to);
		return;
	}
	if ((old = dht_table_get(&d->table, id)) != NULL) {
		if (sample && (old->sampled == 0 ||
		    d->tick - old->sampled >= DHT_OLD_NODE)) {
			old->to = *to;
			old->has_to = true;
			old->sampled = d->tick;
			nat_add(d, to);
		}
		old->pinged = old->seen = d->tick;
		dht_table_touch(&d->table, old);
		return;
	}
	memset(&n, 0, sizeof(n));
	memcpy(n.id, id, 32);
	n.addr = *from;
	n.to = *to;
	n.has_to = true;
	(void)add_node(d, &n);
}

static void
on_request_timeout(struct dht *d, struct dht_req *r)
{
	/* §3.8: a final timeout removes a node of known id */
	if (r->has_to_id)
		dht_table_remove(&d->table, r->to_id);
}

/* ------------------------------------------------------------ checks */

struct check {
	struct dht	*d;
	uint8_t		 id[32];
	uint64_t	 last_seen;
};

static void
check_cb(void *arg, int err, const struct dht_reply *r)
{
	struct check *c = arg;
	struct dht *d = c->d;
	struct dht_node *n = dht_table_get(&d->table, c->id);

	d->checks--;
	/* removed on timeout, or when nothing with its id came back */
	if (n != NULL && (err != 0 || n->seen <= c->last_seen))
		dht_table_remove(&d->table, c->id);
	free(c);
}

static void
check_node(struct dht *d, struct dht_node *n)
{
	struct dht_request_opts o;
	struct check *c;

	n->pinged = d->tick;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->d = d;
	memcpy(c->id, n->id, 32);
	c->last_seen = n->seen;
	memset(&o, 0, sizeof(o));
	o.to = n->addr;
	o.internal = true;
	o.command = DHT_CMD_PING;
	o.retries = -1;
	o.sock = -1;
	d->checks++;
	if (dht_request(d, &o, check_cb, c) != 0) {
		d->checks--;
		free(c);
	}
}

static void
ping_some(struct dht *d)
{
	struct dht_node *oldest = d->table.oldest, *next;
	int cnt = d->ninflight > 2 ? 3 : 5;

	if (oldest == NULL) {
		dht_refresh(d);
		return;
	}
	if (d->tick - oldest->pinged < DHT_RECENT_NODE)
		cnt = 2;
	/*
	 * dht-rpc _pingSome: a node already pinged this tick ends the round
	 * (the JS loop spends its remaining count on it without moving on).
	 */
	while (cnt-- > 0 && oldest != NULL && d->tick != oldest->pinged) {
		next = oldest->next;
		check_node(d, oldest);
		oldest = next;
	}
}

void
dht_send_down_hint(struct dht *d, const struct hn_addr *to,
    const struct hn_addr *down)
{
	struct dht_request_opts o;
	uint8_t v[CENC_IPV4_SIZE];
	struct cur c;

	if (d->down_hints_sent >= DHT_DOWN_HINTS_PER_TICK)
		return;
	d->down_hints_sent++;
	cur_init_write(&c, v, sizeof(v));
	cenc_put_ipv4(&c, down);
	memset(&o, 0, sizeof(o));
	o.to = *to;
	o.internal = true;
	o.command = DHT_CMD_DOWN_HINT;
	o.value = v;
	o.value_len = sizeof(v);
	o.retries = -1;
	o.sock = -1;
	(void)dht_request(d, &o, NULL, NULL);
}

/* ------------------------------------------------------------ incoming */

static void
delayed_cb(struct hn_timer *t)
{
	struct dht_delayed *dl = container_of(t, struct dht_delayed, timer);
	struct dht *d = dl->d;
	struct dht_msg m;
	struct dht_inreq req;

	memset(&m, 0, sizeof(m));
	m.tid = dl->tid;
	memset(&req, 0, sizeof(req));
	req.sock = dl->sock;
	req.from = dl->to;
	req.m = &m;
	dht_send_reply(d, &req, 0, NULL, 0, false, false, NULL, -1);
	if (dl->prev)
		dl->prev->next = dl->next;
	else
		d->delayed = dl->next;
	if (dl->next)
		dl->next->prev = dl->prev;
	free(dl);
}

static void
on_delayed_ping(struct dht *d, const struct dht_inreq *req)
{
	const struct dht_msg *m = req->m;
	struct dht_delayed *dl;
	uint32_t delay;

	if (m->value == NULL || m->value_len < 4)
		return;
	delay = load_u32le(m->value);
	if (delay > DHT_MAX_PING_DELAY)
		return;
	if ((dl = calloc(1, sizeof(*dl))) == NULL)
		return;
	dl->d = d;
	dl->tid = m->tid;
	dl->sock = req->sock;
	dl->to = req->from;
	hn_timer_init(&dl->timer, delayed_cb);
	dl->next = d->delayed;
	if (d->delayed)
		d->delayed->prev = dl;
	d->delayed = dl;
	hn_timer_after(d->io, &dl->timer, delay);
}

static void
on_internal(struct dht *d, const struct dht_inreq *req)
{
	const struct dht_msg *m = req->m;
	struct dht_node *n;
	struct hn_addr to;
	uint8_t id[32];
	uint16_t port;

	switch (m->command) {
	case DHT_CMD_PING:
		dht_send_reply(d, req, 0, NULL, 0, false, false, NULL, -1);
		return;
	case DHT_CMD_DELAYED_PING:
		on_delayed_ping(d, req);
		return;
	case DHT_CMD_PING_NAT:
		if (m->value == NULL || m->value_len < 2)
			return;
		if ((port = load_u16le(m->value)) == 0)
			return;
		/* §7, pitfall 14: answer to sourceHost:valuePort */
		to = req->from;
		to.port = port;
		dht_send_reply(d, req, 0, NULL, 0, false, false, &to, -1);
		return;
	case DHT_CMD_FIND_NODE:
		if (!m->has_target)
			return;
		dht_send_reply(d, req, 0, NULL, 0, false, true, NULL, -1);
		return;
	case DHT_CMD_DOWN_HINT:
		if (m->value == NULL || m->value_len < 6)
			return;
		if (d->checks < 10) {
			keys_hash(id, m->value, 6);
			n = dht_table_get(&d->table, id);
			if (n && (n->pinged < d->tick || n->down_hints == 0)) {
				n->down_hints++;
				check_node(d, n);
			}
		}
		dht_send_reply(d, req, 0, NULL, 0, false, false, NULL, -1);
		return;
	}
	dht_send_reply(d, req, DHT_ERR_UNKNOWN_COMMAND, NULL, 0, false, true,
	    NULL, -1);
}

static void
on_request(struct dht *d, int sock, const struct hn_addr *from,
    const struct dht_msg *m, bool external)
{
	struct dht_inreq req;

	memset(&req, 0, sizeof(req));
	req.sock = sock;
	req.from = *from;
	req.m = m;
	/* §3.5 rule 2 */
	req.has_id = m->has_id && dht_id_valid(m->id, from);
	/* rule 3: a bad token gets INVALID_TOKEN with a fresh token */
	if (m->has_token && !dht_tokens_check(&d->tokens, from->ip, m->token)) {
		dht_send_reply(d, &req, DHT_ERR_INVALID_TOKEN, NULL, 0, true,
		    true, NULL, -1);
		return;
	}
	if (req.has_id)
		add_node_from_network(d, !external, from, true, m->id, &m->to);
	if (m->internal) {
		on_internal(d, &req);
		return;
	}
	if (!dht_hyper_onrequest(d, &req))
		dht_send_reply(d, &req, DHT_ERR_UNKNOWN_COMMAND, NULL, 0, false,
		    true, NULL, -1);
}

static void
on_response(struct dht *d, const struct hn_addr *from, const struct dht_msg *m,
    bool external)
{
	struct dht_reply rep;
	struct dht_req *r;

	for (r = d->inflight; r != NULL; r = r->next)
		if (r->tid == m->tid)
			break;
	if (r == NULL)
		return;
	memset(&rep, 0, sizeof(rep));
	rep.from = *from;
	if (m->has_id && dht_id_valid(m->id, from)) {
		rep.has_id = true;
		memcpy(rep.id, m->id, 32);
	}
	if ((rep.has_token = m->has_token))
		memcpy(rep.token, m->token, 32);
	rep.to = m->to;
	rep.error = m->error;
	rep.value = m->value;
	rep.value_len = m->value ? m->value_len : 0;
	rep.closer = m->closer;
	rep.ncloser = m->ncloser;
	add_node_from_network(d, !external, from, rep.has_id, rep.id, &m->to);
	req_finish(r, 0, &rep);
}

/* Netcheck hook: hosts seen on the server socket (node.c/netcheck). */
static void	netcheck_saw(struct dht *d, int sock, const struct hn_addr *from);

void
dht_input(struct dht *d, int sock, const struct hn_addr *from,
    const uint8_t *buf, size_t len)
{
	struct dht_msg m;
	bool external;

	if (d->destroyed || !dht_msg_is_rpc(buf, len) || from->port == 0)
		return;
	netcheck_saw(d, sock, from);
	if (dht_msg_decode(&m, buf, len) != 0)
		return;
	external = sock != dht_request_sock(d);
	if (m.type == DHT_MSG_REQUEST)
		on_request(d, sock, from, &m, external);
	else
		on_response(d, from, &m, external);
}

/* ------------------------------------------------------------ netcheck */

#define NETCHECK_NODES	5

struct dht_netcheck {
	struct dht	*d;
	bool		 only_firewall;
	bool		 fresh_sampler;
	struct dht_natsampler sampler;
	uint8_t		 hosts[16][4];
	size_t		 nhosts;
	struct hn_addr	 tos[NETCHECK_NODES + DHT_BOOTSTRAP_MAX];
	struct hn_addr	 froms[NETCHECK_NODES + DHT_BOOTSTRAP_MAX];
	size_t		 npongs;
	size_t		 asked;
	size_t		 missing;
	uint8_t		 host[4];
	uint16_t	 port;
	void		(*done)(struct dht *d, bool changed);
};

static void
netcheck_saw(struct dht *d, int sock, const struct hn_addr *from)
{
	struct dht_netcheck *nc = d->netcheck;
	size_t i;

	if (nc == NULL || sock != d->cfg.server_sock)
		return;
	for (i = 0; i < nc->nhosts; i++)
		if (memcmp(nc->hosts[i], from->ip, 4) == 0)
			return;
	if (nc->nhosts < 16)
		memcpy(nc->hosts[nc->nhosts++], from->ip, 4);
}

static bool
netcheck_saw_host(const struct dht_netcheck *nc, const uint8_t ip[4])
{
	size_t i;

	for (i = 0; i < nc->nhosts; i++)
		if (memcmp(nc->hosts[i], ip, 4) == 0)
			return true;
	return false;
}

/* The rest of _updateNetworkState once the firewall verdict is in. */
static void
netcheck_finish(struct dht_netcheck *nc, bool firewalled)
{
	struct dht *d = nc->d;
	struct dht_natsampler *s = nc->fresh_sampler ? &nc->sampler : &d->nat;
	bool changed = false;
	uint8_t id[32];
	struct hn_addr pub;

	d->netcheck = NULL;
	if (firewalled)
		goto out;
	d->firewalled = false;
	if (!d->ephemeral || !d->nat.has_host ||
	    memcmp(nc->host, d->nat.ip, 4) != 0 || nc->port != d->nat.port)
		goto out;
	if (!s->has_host || memcmp(s->ip, nc->host, 4) != 0 || s->port == 0)
		goto out;
	memcpy(pub.ip, s->ip, 4);
	pub.port = s->port;
	dht_node_id(id, &pub);
	if (!nc->only_firewall)
		d->ephemeral = false;
	if (nc->fresh_sampler) {
		d->nnonpersistent = 0;
		d->nat = nc->sampler;
	}
	changed = true;
	if (memcmp(d->table.id, id, 32) != 0) {
		/* §10.2: the table id becomes H(public address) */
		dht_table_rekey(&d->table, id);
		if (d->bootstrapped)
			dht_refresh(d);
	}
	if (!d->ephemeral)
		log_debug("dht: persistent at %u.%u.%u.%u:%u", pub.ip[0],
		    pub.ip[1], pub.ip[2], pub.ip[3], pub.port);
out:
	if (nc->done)
		nc->done(d, changed);
	free(nc);
}

static void
netcheck_pong(void *arg, int err, const struct dht_reply *r)
{
	struct dht_netcheck *nc = arg;
	struct dht *d = nc->d;
	size_t i, count = 0;
	bool fw;

	if (err == -ECANCELED)
		return;		/* dht_free() frees the check itself */
	if (err == 0 && nc->npongs < NETCHECK_NODES + DHT_BOOTSTRAP_MAX) {
		nc->froms[nc->npongs] = r->from;
		nc->tos[nc->npongs++] = r->to;
	}
	if (--nc->missing > 0)
		return;
	for (i = 0; i < nc->npongs; i++) {
		if (netcheck_saw_host(nc, nc->froms[i].ip)) {
			count++;
			dht_natsampler_add(&nc->sampler, nc->tos[i].ip,
			    nc->tos[i].port);
		}
	}
	/* §10.2: enough answers, same host, port = local server port */
	fw = count < (nc->asked >= NETCHECK_NODES ? 3u : 1u) ||
	    !nc->sampler.has_host || !d->nat.has_host ||
	    memcmp(nc->sampler.ip, d->nat.ip, 4) != 0 ||
	    nc->sampler.port == 0 || nc->sampler.port != d->cfg.server_port;
	netcheck_finish(nc, fw);
}

/*
 * _updateNetworkState(onlyFirewall); `done` is called with whether the
 * state changed (possibly before this returns when nothing is to do).
 */
static void
update_network_state(struct dht *d, bool only_firewall,
    void (*done)(struct dht *, bool))
{
	struct dht_request_opts o;
	struct dht_netcheck *nc;
	struct dht_node *n;
	struct hn_addr targets[NETCHECK_NODES + DHT_BOOTSTRAP_MAX];
	uint8_t v[2];
	size_t nt = 0, i;

	if (!d->ephemeral || (only_firewall && !d->firewalled) ||
	    d->netcheck != NULL)
		goto nothing;
	if (!only_firewall) {
		d->stable_ticks = DHT_MORE_STABLE_TICKS;
		d->has_last_host = d->nat.has_host;
		memcpy(d->last_host, d->nat.ip, 4);
	}
	if (!d->nat.has_host || d->nat.port == 0)
		goto nothing;
	if ((nc = calloc(1, sizeof(*nc))) == NULL)
		goto nothing;
	nc->d = d;
	nc->only_firewall = only_firewall;
	nc->done = done;
	memcpy(nc->host, d->nat.ip, 4);
	nc->port = d->nat.port;
	dht_natsampler_init(&nc->sampler);
	if (!d->firewalled) {
		netcheck_finish(nc, false);
		return;
	}
	nc->fresh_sampler = true;
	for (n = d->table.latest; n && nt < NETCHECK_NODES; n = n->prev)
		targets[nt++] = n->addr;
	if (nt < NETCHECK_NODES)
		for (i = 0; i < d->cfg.nbootstrap; i++)
			targets[nt++] = d->cfg.bootstrap[i];
	if (nt == 0) {
		d->netcheck = nc;
		netcheck_finish(nc, true);
		return;
	}
	d->netcheck = nc;
	nc->asked = nt;
	nc->missing = nt;
	store_u16le(v, d->cfg.server_port);
	for (i = 0; i < nt; i++) {
		memset(&o, 0, sizeof(o));
		o.to = targets[i];
		o.internal = true;
		o.command = DHT_CMD_PING_NAT;
		o.value = v;
		o.value_len = 2;
		o.retries = -1;
		o.sock = -1;
		if (dht_request(d, &o, netcheck_pong, nc) != 0)
			nc->missing--;
	}
	if (nc->missing == 0)
		netcheck_finish(nc, true);
	return;
nothing:
	if (done)
		done(d, false);
}

/* ------------------------------------------------------------ bootstrap */

static void
boot_quick_pong(void *arg, int err, const struct dht_reply *r)
{
	struct dht *d = arg;

	if (err == 0)
		d->boot_test_nat = true;
}

static void
boot_on_reply(struct dht_query *q, const struct dht_reply *r, void *arg)
{
	struct dht *d = arg;
	struct dht_request_opts o;
	uint8_t v[2];

	if (!d->boot_first)
		return;
	d->boot_first = false;
	/* §10.2 quick test: one PING_NAT to the first responder */
	store_u16le(v, d->cfg.server_port);
	memset(&o, 0, sizeof(o));
	o.to = r->from;
	o.internal = true;
	o.command = DHT_CMD_PING_NAT;
	o.value = v;
	o.value_len = 2;
	o.retries = -1;
	o.sock = -1;
	(void)dht_request(d, &o, boot_quick_pong, d);
}

static void
boot_ready(struct dht *d)
{
	if (d->bootstrapped)
		return;
	d->bootstrapped = true;
	if (d->cfg.on_ready)
		d->cfg.on_ready(d, d->cfg.arg);
}

static void
boot_netstate_done(struct dht *d, bool changed)
{
	if (!changed || d->boot_round >= 2) {
		boot_ready(d);
		return;
	}
	boot_next(d);
}

static void
boot_query_done(struct dht_query *q, int err, void *arg)
{
	struct dht *d = arg;

	if (d->destroyed)
		return;
	if (d->bootstrapped || (!d->boot_test_nat && !d->force_persistent) ||
	    d->boot_round >= 2) {
		boot_ready(d);
		return;
	}
	update_network_state(d, !d->force_persistent, boot_netstate_done);
}

static void
boot_next(struct dht *d)
{
	d->boot_round++;
	if (dht_background_query(d, d->table.id, boot_on_reply, boot_query_done,
	    d) == NULL)
		boot_ready(d);
}

void
dht_refresh(struct dht *d)
{
	struct dht_node *n = dht_table_random(&d->table, dht_random_u64(d));

	(void)dht_background_query(d, n ? n->id : d->table.id, NULL, NULL,
	    NULL);
}

/* ------------------------------------------------------------ timers */

static void
drain_cb(struct hn_timer *t)
{
	struct dht *d = container_of(t, struct dht, drain_timer);
	struct dht_req *r;

	/* §5: rotate the token secrets every 10th drain (7.5 s) */
	if (--d->rotate_secrets == 0) {
		d->rotate_secrets = 10;
		dht_tokens_rotate(&d->tokens);
	}
	cw_drain(d);
	while (!cw_full(d) && (r = d->cq_head) != NULL) {
		d->cq_head = r->qnext;
		if (d->cq_head == NULL)
			d->cq_tail = NULL;
		r->queued = false;
		r->qnext = NULL;
		req_send_now(r);
	}
	hn_timer_after(d->io, &d->drain_timer, DHT_DRAIN_MS);
}

static void
on_wakeup(struct dht *d)
{
	d->tick += 2 * DHT_OLD_NODE;
	d->tick += 8 - (d->tick & 7) - 2;
	d->stable_ticks = DHT_MORE_STABLE_TICKS;
	d->refresh_ticks = 1;
	d->has_last_host = false;
	if (d->adaptive && !d->ephemeral)
		d->ephemeral = true;
}

/*
 * The machine's addresses changed (hyperdht's 'network-change'): forget the
 * sampled public address (a bootstrap node's is configured), refresh the
 * table now so fresh replies re-sample it, re-check persistence as after a
 * wake-up, and have every announcer re-announce (server.refresh()).
 */
void
dht_network_changed(struct dht *d)
{
	if (d->destroyed)
		return;
	if (!d->cfg.bootstrapper)
		dht_natsampler_init(&d->nat);
	on_wakeup(d);
	dht_refresh(d);
	dht_announcers_refresh(d);
}

static void
tick_cb(struct hn_timer *t)
{
	struct dht *d = container_of(t, struct dht, tick_timer);
	uint64_t now = hn_now_ms(d->io);

	hn_timer_after(d->io, &d->tick_timer, DHT_TICK_MS);
	if (now - d->last_tick_ms > DHT_SLEEP_MS)
		on_wakeup(d);
	else
		d->tick++;
	d->last_tick_ms = now;
	dht_hyper_tick(d);
	if (!d->bootstrapped)
		return;
	if (d->adaptive && d->ephemeral && --d->stable_ticks <= 0) {
		if (d->has_last_host == d->nat.has_host &&
		    memcmp(d->last_host, d->nat.ip, 4) == 0)
			d->stable_ticks = DHT_MORE_STABLE_TICKS;
		else
			update_network_state(d, false, NULL);
	}
	if ((d->tick & 7) == 0)
		ping_some(d);
	if (((d->tick & 63) == 0 && d->table.size < DHT_K) ||
	    --d->refresh_ticks <= 0)
		dht_refresh(d);
	d->down_hints_sent = 0;
}

/* ------------------------------------------------------------ lifecycle */

struct dht *
dht_new(struct hn_io *io, const struct dht_config *cfg)
{
	struct dht *d;
	uint8_t id[32], s[2][32];

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->io = io;
	d->cfg = *cfg;
	if (d->cfg.nbootstrap > DHT_BOOTSTRAP_MAX)
		d->cfg.nbootstrap = DHT_BOOTSTRAP_MAX;
	hn_random(io, id, sizeof(id));
	dht_table_init(&d->table, id);
	hn_random(io, s, sizeof(s));
	dht_tokens_init(&d->tokens, s[0], s[1]);
	dht_natsampler_init(&d->nat);
	d->ephemeral = true;
	d->firewalled = true;
	d->force_persistent = cfg->persistent || cfg->bootstrapper;
	/*
	 * With one socket the firewall probe proves nothing (the answer comes
	 * back through the mapping our request opened): no quick probe, no
	 * adaptive persistence; explicit persistence is the caller's call.
	 */
	d->adaptive = !d->force_persistent && !cfg->no_adaptive &&
	    cfg->server_sock != cfg->client_sock;
	d->quick_firewall = cfg->server_sock != cfg->client_sock;
	if (cfg->bootstrapper) {
		d->firewalled = false;
		d->cfg.nbootstrap = 0;
		nat_add(d, &cfg->public_addr);
	}
	hn_random(io, &d->tid, sizeof(d->tid));
	d->tick = 100 - dht_random_u64(d) % 50;
	d->refresh_ticks = DHT_REFRESH_TICKS - (int)(dht_random_u64(d) % 30);
	d->stable_ticks = d->adaptive ? DHT_STABLE_TICKS : 0;
	d->rotate_secrets = 10;
	d->last_tick_ms = hn_now_ms(io);
	dht_hyper_init(d);
	hn_timer_init(&d->tick_timer, tick_cb);
	hn_timer_init(&d->drain_timer, drain_cb);
	hn_timer_after(io, &d->tick_timer, DHT_TICK_MS);
	hn_timer_after(io, &d->drain_timer, DHT_DRAIN_MS);
	d->boot_first = d->firewalled && d->quick_firewall &&
	    !d->force_persistent;
	boot_next(d);
	return d;
}

void
dht_free(struct dht *d)
{
	struct dht_req *r;
	struct dht_delayed *dl;

	if (d == NULL)
		return;
	/*
	 * Requests first (their owners free what they hung on them), then
	 * queries (on_done with -ECANCELED), then announcers.
	 */
	d->destroyed = true;
	while ((r = d->inflight) != NULL)
		req_finish(r, -ECANCELED, NULL);
	dht_queries_free(d);
	dht_announcers_free(d);
	free(d->netcheck);
	d->netcheck = NULL;
	while ((dl = d->delayed) != NULL) {
		d->delayed = dl->next;
		hn_timer_cancel(d->io, &dl->timer);
		free(dl);
	}
	hn_timer_cancel(d->io, &d->tick_timer);
	hn_timer_cancel(d->io, &d->drain_timer);
	dht_hyper_free(d);
	dht_table_clear(&d->table);
	sodium_memzero(&d->tokens, sizeof(d->tokens));
	free(d);
}

bool
dht_is_bootstrapped(const struct dht *d)
{
	return d->bootstrapped;
}

bool
dht_is_persistent(const struct dht *d)
{
	return !d->ephemeral;
}

bool
dht_is_firewalled(const struct dht *d)
{
	return d->firewalled;
}

bool
dht_public_addr(const struct dht *d, struct hn_addr *out)
{
	if (!d->nat.has_host)
		return false;
	memcpy(out->ip, d->nat.ip, 4);
	out->port = d->nat.port;
	return true;
}

const struct dht_table *
dht_get_table(const struct dht *d)
{
	return &d->table;
}

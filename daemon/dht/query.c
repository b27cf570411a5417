/*
 * query.c - the iterative query with its closest replies and commit phase
 * (spec/dht.md §9, dht-rpc lib/query.js)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dht_impl.h"

#define Q_REFS		4
#define Q_SEEN_REFS	0
#define Q_SEEN_DONE	1
#define Q_SEEN_DOWN	2

struct qnode {
	struct hn_addr	 addr;
	uint8_t		 id[32];
	unsigned	 depth;		/* 1: a seed; n + 1: referred at depth n */
};

struct qseen {
	struct hn_addr	 addr;
	int		 state;
	struct hn_addr	 refs[Q_REFS];
	size_t		 nrefs;
};

struct qreq {
	struct dht_query *q;
	struct hn_addr	 to;
	bool		 slow;
	unsigned	 depth;
};

struct dht_query {
	struct dht	*d;
	struct dht_query *next, *prev;
	struct dht_query_opts o;
	uint8_t		*value;
	unsigned	 concurrency;
	bool		 background;
	struct qnode	*pending;
	size_t		 npending, cap_pending;
	struct qseen	*seen;
	size_t		 nseen, cap_seen;
	struct dht_qreply closest[DHT_K];
	size_t		 nclosest;
	unsigned	 inflight, slow, successes, errors;
	bool		 from_table, slowdown, committing, done, finished;
	size_t		 commits_pending;
	size_t		 commits_ok;
	unsigned	 cur_depth;
	bool		 in_commit_loop;
	int		 busy;
	struct hn_timer	 kick;
};

static void	q_read_more(struct dht_query *q);
static void	q_reply_cb(void *arg, int err, const struct dht_reply *r);

/* ------------------------------------------------------------ lifetime */

static void
q_detach_requests(struct dht_query *q)
{
	struct dht_req *r;

	for (r = q->d->inflight; r != NULL; r = r->next) {
		if (r->cb == q_reply_cb && ((struct qreq *)r->arg)->q == q) {
			free(r->arg);
			r->cb = NULL;
			r->arg = NULL;
			r->on_cycle = NULL;
		}
	}
}

static void
q_free(struct dht_query *q)
{
	struct dht *d = q->d;

	q_detach_requests(q);
	hn_timer_cancel(d->io, &q->kick);
	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	free(q->value);
	free(q->pending);
	free(q->seen);
	free(q);
}

static void
q_leave(struct dht_query *q)
{
	if (--q->busy == 0 && q->done)
		q_free(q);
}

static void
q_finish(struct dht_query *q, int err)
{
	if (q->done)
		return;
	q->done = true;
	q->busy++;
	if (q->o.on_done)
		q->o.on_done(q, err, q->o.arg);
	q_leave(q);
}

void
dht_query_cancel(struct dht_query *q)
{
	if (q->done)
		return;
	q->done = true;
	q->busy++;
	q_leave(q);
}

void
dht_queries_free(struct dht *d)
{
	struct dht_query *q;

	while ((q = d->queries) != NULL) {
		q->busy = 0;
		if (!q->done)
			q_finish(q, -ECANCELED);	/* frees it */
		else
			q_free(q);
	}
}

/* ------------------------------------------------------------ bookkeeping */

static bool
q_is_closer(const struct dht_query *q, const uint8_t id[32])
{
	return q->nclosest < DHT_K || dht_id_cmp(q->o.target, id,
	    q->closest[q->nclosest - 1].id) < 0;
}

static struct qseen *
q_seen(struct dht_query *q, const struct hn_addr *a)
{
	size_t i;

	for (i = 0; i < q->nseen; i++)
		if (addr_eq(&q->seen[i].addr, a))
			return &q->seen[i];
	return NULL;
}

static bool
q_grow(void **p, size_t *cap, size_t n, size_t elem)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 32;
	if ((np = realloc(*p, ncap * elem)) == NULL)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

/* _addPending: returns whether the node counts as closer. */
static bool
q_add_pending(struct dht_query *q, const struct hn_addr *a,
    const uint8_t id[32], const struct hn_addr *ref, unsigned depth)
{
	bool closer = q_is_closer(q, id);
	struct qseen *s = q_seen(q, a);

	if (s != NULL) {
		if (s->state == Q_SEEN_DOWN) {
			if (ref)
				dht_send_down_hint(q->d, ref, a);
		} else if (s->state == Q_SEEN_REFS && ref && s->nrefs < Q_REFS) {
			s->refs[s->nrefs++] = *ref;
		}
		return closer;
	}
	if (!closer)
		return false;
	if (!q_grow((void **)&q->seen, &q->cap_seen, q->nseen, sizeof(*s)) ||
	    !q_grow((void **)&q->pending, &q->cap_pending, q->npending,
	    sizeof(struct qnode)))
		return false;
	s = &q->seen[q->nseen++];
	memset(s, 0, sizeof(*s));
	s->addr = *a;
	if (ref)
		s->refs[s->nrefs++] = *ref;
	q->pending[q->npending].addr = *a;
	memcpy(q->pending[q->npending].id, id, 32);
	q->pending[q->npending].depth = depth;
	q->npending++;
	return true;
}

static void
q_add_from_table(struct dht_query *q)
{
	struct dht_node *nodes[DHT_K];
	size_t n, i;

	if (q->npending >= DHT_K)
		return;
	q->from_table = true;
	n = dht_table_closest(&q->d->table, q->o.target, DHT_K - q->npending,
	    nodes);
	for (i = 0; i < n; i++)
		q_add_pending(q, &nodes[i]->addr, nodes[i]->id, NULL, 1);
}

static void
q_push_closest(struct dht_query *q, const struct dht_reply *r)
{
	struct dht_qreply e;
	size_t i, n;
	int c;

	memset(&e, 0, sizeof(e));
	e.from = r->from;
	memcpy(e.id, r->id, 32);
	if ((e.has_token = r->has_token))
		memcpy(e.token, r->token, 32);
	e.to = r->to;
	for (i = 0; i < q->nclosest; i++) {
		c = dht_id_cmp(q->o.target, r->id, q->closest[i].id);
		if (c == 0) {
			q->closest[i] = e;	/* duplicate id: keep one */
			return;
		}
		if (c < 0)
			break;
	}
	if (i >= DHT_K)
		return;
	n = q->nclosest < DHT_K ? q->nclosest : DHT_K - 1;
	memmove(&q->closest[i + 1], &q->closest[i], (n - i) * sizeof(e));
	q->closest[i] = e;
	if (q->nclosest < DHT_K)
		q->nclosest++;
}

/* ------------------------------------------------------------ visiting */

static void
q_on_cycle(struct dht_req *r, void *arg)
{
	struct qreq *qr = arg;
	struct dht_query *q = qr->q;

	/* §9 step 6: a slow request lets one more run in parallel */
	qr->slow = true;
	q->slow++;
	q->busy++;
	q_read_more(q);
	q_leave(q);
}

static void
q_visit(struct dht_query *q, const struct qnode *n)
{
	struct dht_request_opts o;
	struct dht_req *r;
	struct qreq *qr;

	if ((qr = calloc(1, sizeof(*qr))) == NULL) {
		q->errors++;
		return;
	}
	qr->q = q;
	qr->to = n->addr;
	qr->depth = n->depth;
	memset(&o, 0, sizeof(o));
	o.to = n->addr;
	o.to_id = n->id;
	o.internal = q->o.internal;
	o.command = q->o.command;
	o.target = q->o.target;
	o.value = q->value;
	o.value_len = q->o.value_len;
	o.retries = q->o.retries >= 0 ? q->o.retries : 5;
	o.sock = -1;
	q->inflight++;
	if (dht_req_send_new(q->d, &o, q_reply_cb, qr, &r) != 0) {
		q->inflight--;
		q->errors++;
		free(qr);
		return;
	}
	r->on_cycle = q_on_cycle;
}

static void
q_commit_all(struct dht_query *q)
{
	size_t i, n = q->nclosest;

	q->commits_pending = n;
	q->in_commit_loop = true;
	for (i = 0; i < n && !q->done; i++)
		q->o.commit(q, &q->closest[i], q->o.arg);
	q->in_commit_loop = false;
	if (!q->done && q->commits_pending == 0)
		q_finish(q, q->commits_ok > 0 ? 0 : -EIO);
}

void
dht_query_commit_done(struct dht_query *q, bool ok)
{
	if (ok)
		q->commits_ok++;
	if (q->commits_pending > 0)
		q->commits_pending--;
	if (q->commits_pending == 0 && !q->in_commit_loop && !q->done) {
		q->busy++;
		q_finish(q, q->commits_ok > 0 ? 0 : -EIO);
		q_leave(q);
	}
}

static void
q_flush(struct dht_query *q)
{
	if (q->committing)
		return;
	q->committing = true;
	if (q->o.commit == NULL) {
		q_finish(q, 0);
		return;
	}
	if (q->nclosest == 0) {
		q_finish(q, -ENOTCONN);	/* "Too few nodes responded" */
		return;
	}
	q_commit_all(q);
}

static void
q_read_more(struct dht_query *q)
{
	unsigned conc;
	struct qnode n;

	if (q->done || q->committing)
		return;
	conc = (q->slowdown ? 3 : q->concurrency) + q->slow;
	while (q->inflight < conc && q->npending > 0) {
		n = q->pending[--q->npending];
		if (!q_is_closer(q, n.id))
			continue;
		q_visit(q, &n);
	}
	if (!q->from_table && q->successes == 0 && q->errors == 0)
		q->slowdown = true;
	if (q->npending > 0)
		return;
	if (q->inflight == 0 || (q->slow == q->inflight &&
	    q->nclosest >= DHT_K)) {
		/* §9 step 7: seeded from a stale list and little answered */
		if (!q->from_table && q->successes < DHT_K / 4) {
			q_add_from_table(q);
			if (q->npending > 0) {
				q_read_more(q);
				return;
			}
		}
		q_flush(q);
	}
}

static void
q_reply_cb(void *arg, int err, const struct dht_reply *r)
{
	struct qreq *qr = arg;
	struct dht_query *q = qr->q;
	struct dht *d = q->d;
	struct qseen *s = q_seen(q, &qr->to);
	size_t i;
	uint8_t id[32];

	q->busy++;
	if (qr->slow)
		q->slow--;
	q->inflight--;
	if (err != 0) {
		/* §9 step 5: down, and tell whoever referred us to it */
		if (err == -ETIMEDOUT && s != NULL) {
			struct hn_addr refs[Q_REFS];
			size_t nrefs = s->state == Q_SEEN_REFS ? s->nrefs : 0;

			memcpy(refs, s->refs, sizeof(refs));
			s->state = Q_SEEN_DOWN;
			for (i = 0; i < nrefs; i++)
				dht_send_down_hint(d, &refs[i], &qr->to);
		}
		q->errors++;
		if (err != -ECANCELED)
			q_read_more(q);
		goto out;
	}
	if (s != NULL)
		s->state = Q_SEEN_DONE;
	if (q->committing)
		goto out;
	if (r->error == 0)
		q->successes++;
	else
		q->errors++;
	if (r->error == 0 && r->has_id && q_is_closer(q, r->id))
		q_push_closest(q, r);
	for (i = 0; i < r->ncloser; i++) {
		dht_node_id(id, &r->closer[i]);
		if (memcmp(id, d->table.id, 32) == 0)
			continue;
		/* pitfall 17: stop at the first node that is not closer */
		if (!q_add_pending(q, &r->closer[i], id, &r->from,
		    qr->depth + 1))
			break;
	}
	if (!q->from_table && q->successes + q->errors >= q->concurrency)
		q->slowdown = false;
	if (r->error == 0) {
		if (q->background)
			q->concurrency = d->ninflight < 3 ? DHT_CONCURRENCY : 2;
		q->cur_depth = qr->depth;
		if (q->o.on_reply)
			q->o.on_reply(q, r, q->o.arg);
	}
	q_read_more(q);
out:
	free(qr);
	q_leave(q);
}

/* ------------------------------------------------------------ start */

static void
q_kick(struct hn_timer *t)
{
	struct dht_query *q = container_of(t, struct dht_query, kick);
	size_t i;

	q->busy++;
	q_add_from_table(q);
	if (q->npending < DHT_K) {
		for (i = 0; i < q->d->cfg.nbootstrap; i++) {
			uint8_t id[32];

			dht_node_id(id, &q->d->cfg.bootstrap[i]);
			q_add_pending(q, &q->d->cfg.bootstrap[i], id, NULL, 1);
		}
	}
	q_read_more(q);
	q_leave(q);
}

struct dht_query *
dht_query_start(struct dht *d, const struct dht_query_opts *o)
{
	struct dht_query *q;
	size_t i;
	uint8_t id[32];

	if (d->destroyed || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->d = d;
	q->o = *o;
	q->o.nodes = NULL;
	q->concurrency = o->concurrency ? o->concurrency : DHT_CONCURRENCY;
	if (o->value_len > 0) {
		if ((q->value = malloc(o->value_len)) == NULL) {
			free(q);
			return NULL;
		}
		memcpy(q->value, o->value, o->value_len);
	}
	/* seeds go in reverse: the stack pops the first one first */
	for (i = o->nnodes; i > 0; i--) {
		dht_node_id(id, &o->nodes[i - 1]);
		q_add_pending(q, &o->nodes[i - 1], id, NULL, 1);
	}
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
	d->refresh_ticks = DHT_REFRESH_TICKS;
	hn_timer_init(&q->kick, q_kick);
	hn_timer_after(d->io, &q->kick, 0);
	return q;
}

struct dht_query *
dht_background_query(struct dht *d, const uint8_t target[32],
    void (*on_reply)(struct dht_query *, const struct dht_reply *, void *),
    void (*on_done)(struct dht_query *, int, void *), void *arg)
{
	struct dht_query_opts o;
	struct dht_query *q;

	memset(&o, 0, sizeof(o));
	memcpy(o.target, target, 32);
	o.internal = true;
	o.command = DHT_CMD_FIND_NODE;
	o.concurrency = 2;	/* min(10, max(2, 10 / 8)) */
	o.retries = -1;
	o.on_reply = on_reply;
	o.on_done = on_done;
	o.arg = arg;
	if ((q = dht_query_start(d, &o)) != NULL)
		q->background = true;
	return q;
}

size_t
dht_query_closest(const struct dht_query *q, const struct dht_qreply **out)
{
	*out = q->closest;
	return q->nclosest;
}

const uint8_t *
dht_query_target(const struct dht_query *q)
{
	return q->o.target;
}

struct dht *
dht_query_dht(const struct dht_query *q)
{
	return q->d;
}

unsigned
dht_query_reply_depth(const struct dht_query *q)
{
	return q->cur_depth;
}

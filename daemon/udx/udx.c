/*
 * udx.c - the UDX instance: stream table, demultiplexing (spec/udx.md §3),
 * the end-of-batch flush, deferred freeing of closed streams, buffer pools
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "udx_int.h"

#define UDX_PKT_POOL_MAX	4096

static uint32_t
udx_hash(uint32_t id)
{
	/* HyperDHT ids are random, but be robust to sequential ones too */
	id ^= id >> 16;
	id *= 0x45d9f3bu;
	id ^= id >> 16;
	return id;
}

static struct udx_stream *
udx_table_find(const struct udx *u, uint32_t id)
{
	struct udx_stream *s;

	for (s = u->table[udx_hash(id) & u->table_mask]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static int
udx_table_grow(struct udx *u)
{
	uint32_t n = (u->table_mask + 1) * 2, i;
	struct udx_stream **t, *s, *next;

	t = calloc(n, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	for (i = 0; i <= u->table_mask; i++) {
		for (s = u->table[i]; s; s = next) {
			next = s->hnext;
			s->hnext = t[udx_hash(s->id) & (n - 1)];
			t[udx_hash(s->id) & (n - 1)] = s;
		}
	}
	free(u->table);
	u->table = t;
	u->table_mask = n - 1;
	return 0;
}

void
udx_table_remove(struct udx *u, struct udx_stream *s)
{
	struct udx_stream **pp;

	for (pp = &u->table[udx_hash(s->id) & u->table_mask]; *pp;
	    pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			s->hnext = NULL;
			u->nstreams--;
			return;
		}
	}
}

static void
udx_flush_cb(struct hn_timer *t)
{
	struct udx *u = container_of(t, struct udx, flush_timer);

	udx_flush(u);
}

void
udx_flush_add(struct udx *u, struct udx_stream *s)
{
	if (s->in_flush || s->closed)
		return;
	s->in_flush = true;
	s->fprev = NULL;
	s->fnext = u->flush_head;
	if (u->flush_head)
		u->flush_head->fprev = s;
	u->flush_head = s;
	if (!u->flush_timer.armed)
		hn_timer_arm(u->io, &u->flush_timer, hn_now_ms(u->io));
}

void
udx_flush_del(struct udx *u, struct udx_stream *s)
{
	if (!s->in_flush)
		return;
	if (s->fprev)
		s->fprev->fnext = s->fnext;
	else
		u->flush_head = s->fnext;
	if (s->fnext)
		s->fnext->fprev = s->fprev;
	s->in_flush = false;
	s->fprev = s->fnext = NULL;
}

void
udx_flush(struct udx *u)
{
	struct udx_stream *s;

	udx_enter(u);
	while ((s = u->flush_head) != NULL) {
		udx_flush_del(u, s);
		udx_stream_flush(s);
	}
	hn_timer_cancel(u->io, &u->flush_timer);
	udx_leave(u);
}

void
udx_enter(struct udx *u)
{
	u->depth++;
}

/* Leaving the outermost call: free the streams that closed meanwhile. */
void
udx_leave(struct udx *u)
{
	struct udx_stream *s;

	if (--u->depth > 0)
		return;
	while ((s = u->zombies) != NULL) {
		u->zombies = s->znext;
		udx_stream_release(s);
	}
}

struct udx_pkt *
udx_pkt_alloc(struct udx *u)
{
	struct udx_pkt *p = u->pkt_free;

	if (p != NULL) {
		u->pkt_free = p->next;
		u->pkt_free_n--;
	} else {
		p = malloc(sizeof(*p));
		if (p == NULL)
			return NULL;
	}
	memset(p, 0, offsetof(struct udx_pkt, buf));
	return p;
}

void
udx_pkt_release(struct udx *u, struct udx_pkt *p)
{
	if (u->pkt_free_n >= UDX_PKT_POOL_MAX) {
		free(p);
		return;
	}
	p->next = u->pkt_free;
	u->pkt_free = p;
	u->pkt_free_n++;
}

struct udx_rpkt *
udx_rpkt_alloc(struct udx *u)
{
	if (u->rpkt_free_n > 0)
		return u->rpkt_free[--u->rpkt_free_n];
	return malloc(sizeof(struct udx_rpkt));
}

void
udx_rpkt_release(struct udx *u, struct udx_rpkt *p)
{
	if (u->rpkt_free_n < sizeof(u->rpkt_free) / sizeof(u->rpkt_free[0]))
		u->rpkt_free[u->rpkt_free_n++] = p;
	else
		free(p);
}

struct udx *
udx_new(struct hn_io *io)
{
	struct udx *u;

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->table = calloc(16, sizeof(*u->table));
	if (u->table == NULL) {
		free(u);
		return NULL;
	}
	u->table_mask = 15;
	u->io = io;
	u->mtu_max = UDX_MTU_MAX;
	hn_timer_init(&u->flush_timer, udx_flush_cb);
	return u;
}

void
udx_free(struct udx *u)
{
	struct udx_stream *s;
	struct udx_pkt *p;
	uint32_t i;

	if (u == NULL)
		return;
	u->depth++;
	for (i = 0; i <= u->table_mask; i++) {
		while ((s = u->table[i]) != NULL) {
			u->table[i] = s->hnext;
			udx_flush_del(u, s);
			udx_stream_release(s);
		}
	}
	while ((s = u->zombies) != NULL) {
		u->zombies = s->znext;
		udx_stream_release(s);
	}
	hn_timer_cancel(u->io, &u->flush_timer);
	while ((p = u->pkt_free) != NULL) {
		u->pkt_free = p->next;
		free(p);
	}
	while (u->rpkt_free_n > 0)
		free(u->rpkt_free[--u->rpkt_free_n]);
	free(u->table);
	free(u);
}

void
udx_set_raw_handler(struct udx *u, udx_raw_fn *fn, void *arg)
{
	u->raw = fn;
	u->raw_arg = arg;
}

void
udx_set_mtu_max(struct udx *u, unsigned mtu)
{
	if (mtu > UDX_MTU_MAX)
		mtu = UDX_MTU_MAX;
	if (mtu < UDX_MTU_BASE)
		mtu = UDX_MTU_BASE;
	u->mtu_max = mtu;
}

static void
udx_raw(struct udx *u, int sock, const struct hn_addr *from,
    const uint8_t *buf, size_t len)
{
	if (u->raw != NULL)
		u->raw(u->raw_arg, sock, from, buf, len);
}

void
udx_linger_add(struct udx *u, const struct udx_stream *s)
{
	struct udx_linger *l;
	uint64_t now = hn_now_ms(u->io);
	size_t i, oldest = 0;

	if (u->nlinger == UDX_LINGER_MAX) {
		for (i = 1; i < u->nlinger; i++)
			if (u->linger[i].until_ms < u->linger[oldest].until_ms)
				oldest = i;
		u->linger[oldest] = u->linger[--u->nlinger];
	}
	l = &u->linger[u->nlinger++];
	l->id = s->id;
	l->remote_id = s->remote_id;
	l->seq = s->snd_next;
	l->ack = s->rcv_ack;
	l->sock = s->sock;
	l->remote = s->remote;
	l->until_ms = now + UDX_LINGER_MS;
}

/* A duplicate DATA/END for a cleanly closed stream: re-ACK it. */
static bool
udx_linger_input(struct udx *u, const struct udx_packet *p)
{
	uint64_t now = hn_now_ms(u->io);
	uint8_t b[UDX_HEADER_SIZE];
	struct udx_linger *l;
	size_t i;

	for (i = 0; i < u->nlinger; i++) {
		l = &u->linger[i];
		if (l->until_ms <= now) {
			u->linger[i--] = u->linger[--u->nlinger];
			continue;
		}
		if (l->id != p->id)
			continue;
		if (!(p->type & (UDX_TYPE_DATA | UDX_TYPE_END)) ||
		    !udx_seq_lt(p->seq, l->ack) || p->offset_overrun)
			return false;
		udx_header_write(b, 0, 0, l->remote_id, UDX_DEFAULT_RWND,
		    l->seq, l->ack);
		hn_send(u->io, l->sock, &l->remote, b, sizeof(b));
		return true;
	}
	return false;
}

/* §3: demultiplex one datagram. */
void
udx_socket_input(struct udx *u, int sock, const struct hn_addr *from,
    const uint8_t *buf, size_t len)
{
	struct udx_packet p;
	struct udx_stream *s;

	if (!u->had_stream || udx_packet_decode(buf, len, &p) != 0) {
		udx_raw(u, sock, from, buf, len);
		return;
	}
	s = udx_table_find(u, p.id);
	if (s == NULL || s->closed) {
		if (u->nlinger > 0 && udx_linger_input(u, &p))
			return;
		udx_raw(u, sock, from, buf, len);
		return;
	}
	udx_enter(u);
	s->st.packets_rx++;
	/* §3 step 4 / §22: foreign socket (or not connected) -> firewall */
	if (s->sock != sock && s->ops->firewall != NULL &&
	    s->ops->firewall(s, s->arg, sock, from) != 0)
		goto out;
	if (!s->closed)
		udx_stream_input(s, sock, from, &p, buf, len);
out:
	udx_leave(u);
}

int
udx_stream_new(struct udx *u, uint32_t id, const struct udx_stream_ops *ops,
    void *arg, struct udx_stream **out)
{
	static const struct udx_stream_ops no_ops;
	struct udx_stream *s;
	uint32_t h;

	if (udx_table_find(u, id) != NULL)
		return -EEXIST;
	if (u->nstreams >= u->table_mask + 1 && udx_table_grow(u) != 0)
		return -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	/* a new stream with a lingering id takes it over */
	for (h = 0; h < u->nlinger; h++)
		if (u->linger[h].id == id)
			u->linger[h--] = u->linger[--u->nlinger];
	s->u = u;
	s->ops = ops ? ops : &no_ops;
	s->arg = arg;
	s->id = id;
	s->sock = -1;
	s->out_mask = 63;
	s->out = calloc(s->out_mask + 1, sizeof(*s->out));
	if (s->out == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->snd_rwnd = UDX_DEFAULT_RWND;
	s->rto_ms = UDX_RTO_INIT_MS;
	s->mtu = UDX_MTU_BASE;
	s->mtu_max = (uint16_t)u->mtu_max;
	udx_cc_init(&s->cc);
	s->tokens = 25000;	/* §14: initial pacing bucket */
	udx_stream_setup(s);
	h = udx_hash(id) & u->table_mask;
	s->hnext = u->table[h];
	u->table[h] = s;
	u->nstreams++;
	u->had_stream = true;
	*out = s;
	return 0;
}

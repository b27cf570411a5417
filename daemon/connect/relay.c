/*
 * relay.c - the blind relay protocol, client and server (see relay.h)
 *
 * Protomux framing (spec/connect.md §9): `varint channel, varint type,
 * body`; channel 0 is control (0 batch, 1 open, 2 reject, 3 close), other
 * channels are the sender's local ids.  We only ever have one channel, our
 * local id 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "cursor.h"
#include "io.h"
#include "daemon/connect/conn.h"
#include "daemon/connect/relay.h"
#include "daemon/udx/udx.h"

#define RELAY_LOCAL_ID		1
#define RELAY_REQUESTS_MAX	8
#define RELAY_FRAME_MAX		128
#define RELAY_BATCH_DEPTH	8	/* nesting bound (the reference recurses) */

/* ----------------------------------------------------------- messages */

/* compact-encoding-bitfield(7): one byte, or a 0xfd/0xfe/0xff prefix. */
static uint8_t
get_flags(struct cur *c)
{
	uint8_t b = cur_get_u8(c);
	size_t n = b <= 0xfc ? 0 : b == 0xfd ? 2 : b == 0xfe ? 4 : 8;
	const uint8_t *p;

	if (n == 0)
		return b;
	p = cur_take(c, n);
	return p != NULL ? p[0] : 0;
}

int
relay_pair_encode(const struct relay_pair *m, uint8_t *out, size_t cap,
    size_t *len)
{
	struct cur c;

	cur_init_write(&c, out, cap);
	cur_put_u8(&c, m->is_initiator ? 1 : 0);
	cenc_put_fixed32(&c, m->token);
	cenc_put_uint(&c, m->id);
	cenc_put_uint(&c, m->seq);
	if (!cur_ok(&c))
		return -ENOSPC;
	*len = cap - cur_left(&c);
	return 0;
}

int
relay_pair_decode(struct relay_pair *m, const uint8_t *in, size_t len)
{
	struct relay_pair p;
	struct cur c;

	memset(&p, 0, sizeof(p));
	cur_init_read(&c, in, len);
	p.is_initiator = (get_flags(&c) & 1) != 0;
	cenc_get_fixed32(&c, p.token);
	p.id = cenc_get_uint(&c);
	p.seq = cenc_get_uint(&c);
	if (!cur_ok(&c)) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	*m = p;
	return 0;
}

int
relay_unpair_encode(const uint8_t token[32], uint8_t *out, size_t cap,
    size_t *len)
{
	struct cur c;

	cur_init_write(&c, out, cap);
	cur_put_u8(&c, 0);
	cenc_put_fixed32(&c, token);
	if (!cur_ok(&c))
		return -ENOSPC;
	*len = cap - cur_left(&c);
	return 0;
}

int
relay_unpair_decode(uint8_t token[32], const uint8_t *in, size_t len)
{
	uint8_t t[32];
	struct cur c;

	cur_init_read(&c, in, len);
	(void)get_flags(&c);
	cenc_get_fixed32(&c, t);
	if (!cur_ok(&c))
		return -EBADMSG;
	memcpy(token, t, 32);
	return 0;
}

/* ---------------------------------------------------- the one channel */

struct rchan {
	uint8_t		 id[32];
	uint64_t	 remote_id;	/* 0 until the remote opened */
	bool		 closed;
	relay_send_fn	*send;
	void		*send_arg;
	void		(*on_msg)(struct rchan *ch, uint64_t type,
			    const uint8_t *body, size_t len);
	void		(*on_close)(struct rchan *ch);
};

static int
rchan_control(struct rchan *ch, uint8_t type, uint64_t v)
{
	uint8_t buf[16];
	struct cur c;

	cur_init_write(&c, buf, sizeof(buf));
	cur_put_u8(&c, 0);
	cur_put_u8(&c, type);
	cenc_put_uint(&c, v);
	return ch->send(ch->send_arg, buf, sizeof(buf) - cur_left(&c));
}

static int
rchan_open(struct rchan *ch)
{
	uint8_t buf[RELAY_FRAME_MAX];
	struct cur c;

	cur_init_write(&c, buf, sizeof(buf));
	cur_put_u8(&c, 0);
	cur_put_u8(&c, 1);
	cenc_put_uint(&c, RELAY_LOCAL_ID);
	cenc_put_string(&c, RELAY_PROTOCOL, strlen(RELAY_PROTOCOL));
	cenc_put_buffer(&c, ch->id, 32);
	return ch->send(ch->send_arg, buf, sizeof(buf) - cur_left(&c));
}

static int
rchan_send(struct rchan *ch, uint64_t type, const uint8_t *body, size_t len)
{
	uint8_t buf[RELAY_FRAME_MAX];
	struct cur c;

	if (ch->closed)
		return -EPIPE;
	cur_init_write(&c, buf, sizeof(buf));
	cenc_put_uint(&c, RELAY_LOCAL_ID);
	cenc_put_uint(&c, type);
	cur_put_bytes(&c, body, len);
	if (!cur_ok(&c))
		return -EMSGSIZE;
	return ch->send(ch->send_arg, buf, sizeof(buf) - cur_left(&c));
}

static void
rchan_closed(struct rchan *ch)
{
	if (ch->closed)
		return;
	ch->closed = true;
	if (ch->on_close != NULL)
		ch->on_close(ch);
}

static int	rchan_decode(struct rchan *ch, uint64_t channel, struct cur *c,
		    int depth);

static int
rchan_on_open(struct rchan *ch, struct cur *c)
{
	uint64_t rid = cenc_get_uint(c);
	size_t plen, idlen;
	const uint8_t *proto = cenc_get_buffer(c, &plen);
	const uint8_t *id = cenc_get_buffer(c, &idlen);

	if (!cur_ok(c))
		return -EBADMSG;
	if (rid == 0)
		return 0;	/* the control session: ignored */
	if (ch->remote_id == 0 && plen == strlen(RELAY_PROTOCOL) &&
	    memcmp(proto, RELAY_PROTOCOL, plen) == 0 && idlen == 32 &&
	    memcmp(id, ch->id, 32) == 0) {
		ch->remote_id = rid;
		return 0;
	}
	if (rid == ch->remote_id)
		return -EBADMSG;	/* "Invalid open message" */
	return rchan_control(ch, 2, rid);	/* nobody wants it: reject */
}

static int
rchan_batch(struct rchan *ch, struct cur *c, int depth)
{
	uint64_t channel = cenc_get_uint(c);

	if (depth >= RELAY_BATCH_DEPTH)
		return -EBADMSG;
	while (cur_ok(c) && cur_left(c) > 0) {
		uint64_t n = cenc_get_uint(c);
		size_t take;
		struct cur sub;
		int err;

		if (n == 0) {
			channel = cenc_get_uint(c);
			continue;
		}
		take = n < cur_left(c) ? (size_t)n : cur_left(c);
		cur_init_read(&sub, cur_take(c, take), take);
		if ((err = rchan_decode(ch, channel, &sub, depth + 1)) != 0)
			return err;
	}
	return cur_ok(c) ? 0 : -EBADMSG;
}

static int
rchan_decode(struct rchan *ch, uint64_t channel, struct cur *c, int depth)
{
	uint64_t type = cenc_get_uint(c), v;

	if (!cur_ok(c))
		return -EBADMSG;
	if (channel != 0) {
		size_t n = cur_left(c);

		if (channel == ch->remote_id && !ch->closed &&
		    ch->on_msg != NULL)
			ch->on_msg(ch, type, cur_take(c, n), n);
		return 0;
	}
	switch (type) {
	case 0:
		return rchan_batch(ch, c, depth);
	case 1:
		return rchan_on_open(ch, c);
	case 2:		/* reject of our open */
	case 3:		/* the remote closed its channel */
		v = cenc_get_uint(c);
		if (!cur_ok(c))
			return -EBADMSG;
		if ((type == 2 && v == RELAY_LOCAL_ID) ||
		    (type == 3 && v != 0 && v == ch->remote_id))
			rchan_closed(ch);
		return 0;
	default:
		return 0;
	}
}

static int
rchan_input(struct rchan *ch, const uint8_t *msg, size_t len)
{
	struct cur c;
	uint64_t channel;

	if (len == 0)
		return 0;	/* empty frames are ignored */
	cur_init_read(&c, msg, len);
	channel = cenc_get_uint(&c);
	if (!cur_ok(&c))
		return -EBADMSG;
	return rchan_decode(ch, channel, &c, 0);
}

/* ----------------------------------------------------------- client */

struct relay_request {
	bool		used;
	bool		is_initiator;
	uint8_t		token[32];
};

struct relay_client {
	struct rchan		ch;
	bool			open_sent;
	struct relay_client_cbs	cbs;
	struct relay_request	req[RELAY_REQUESTS_MAX];
};

static struct relay_request *
client_find(struct relay_client *c, const uint8_t token[32])
{
	for (size_t i = 0; i < RELAY_REQUESTS_MAX; i++)
		if (c->req[i].used && memcmp(c->req[i].token, token, 32) == 0)
			return &c->req[i];
	return NULL;
}

static void
client_on_msg(struct rchan *ch, uint64_t type, const uint8_t *body, size_t len)
{
	struct relay_client *c = container_of(ch, struct relay_client, ch);
	struct relay_request *r;
	struct relay_pair m;

	if (type != RELAY_MSG_PAIR || relay_pair_decode(&m, body, len) != 0)
		return;
	r = client_find(c, m.token);
	if (r == NULL || r->is_initiator != m.is_initiator)
		return;
	r->used = false;
	if (c->cbs.on_pair != NULL)
		c->cbs.on_pair(c, m.token, m.id, c->cbs.arg);
}

static void
client_on_close(struct rchan *ch)
{
	struct relay_client *c = container_of(ch, struct relay_client, ch);

	memset(c->req, 0, sizeof(c->req));
	if (c->cbs.on_close != NULL)
		c->cbs.on_close(c, c->cbs.arg);
}

struct relay_client *
relay_client_new(const uint8_t own_pk[32], const struct relay_client_cbs *cbs)
{
	struct relay_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cbs = *cbs;
	memcpy(c->ch.id, own_pk, 32);
	c->ch.send = cbs->send;
	c->ch.send_arg = cbs->arg;
	c->ch.on_msg = client_on_msg;
	c->ch.on_close = client_on_close;
	return c;
}

void
relay_client_free(struct relay_client *c)
{
	if (c == NULL)
		return;
	sodium_memzero(c, sizeof(*c));
	free(c);
}

int
relay_client_pair(struct relay_client *c, bool is_initiator,
    const uint8_t token[32], uint64_t stream_id)
{
	struct relay_pair m = { .is_initiator = is_initiator, .id = stream_id };
	struct relay_request *r = NULL;
	uint8_t body[RELAY_PAIR_MAX_SIZE];
	size_t len;
	int err;

	if (c->ch.closed)
		return -EPIPE;
	if (client_find(c, token) != NULL)
		return -EALREADY;
	for (size_t i = 0; i < RELAY_REQUESTS_MAX && r == NULL; i++)
		if (!c->req[i].used)
			r = &c->req[i];
	if (r == NULL)
		return -ENOBUFS;
	if (!c->open_sent) {
		if ((err = rchan_open(&c->ch)) != 0)
			return err;
		c->open_sent = true;
	}
	memcpy(m.token, token, 32);
	if ((err = relay_pair_encode(&m, body, sizeof(body), &len)) != 0)
		return err;
	/* registered first: the answer may come back from inside send */
	r->used = true;
	r->is_initiator = is_initiator;
	memcpy(r->token, token, 32);
	if ((err = rchan_send(&c->ch, RELAY_MSG_PAIR, body, len)) != 0)
		r->used = false;
	return err;
}

int
relay_client_unpair(struct relay_client *c, const uint8_t token[32])
{
	struct relay_request *r = client_find(c, token);
	uint8_t body[64];
	size_t len = 0;

	if (r != NULL)
		r->used = false;
	if (!c->open_sent)
		return 0;
	(void)relay_unpair_encode(token, body, sizeof(body), &len);
	return rchan_send(&c->ch, RELAY_MSG_UNPAIR, body, len);
}

int
relay_client_input(struct relay_client *c, const uint8_t *msg, size_t len)
{
	return rchan_input(&c->ch, msg, len);
}

/* ----------------------------------------------------------- server */

struct relay_link {
	struct relay_session	*sess;		/* NULL: not here yet */
	uint64_t		 remote_id;
	void			*stream;
};

struct relay_pairing {
	uint8_t			 token[32];
	bool			 linked;
	struct relay_link	 links[2];	/* [isInitiator] */
	struct relay_pairing	*next;
};

struct relay_session {
	struct rchan		 ch;
	struct relay_server	*srv;
	struct relay_session	*next;
};

struct relay_server {
	struct relay_server_cbs	 cbs;
	struct relay_session	*sessions;
	struct relay_pairing	*pairings;
	struct relay_server_stats stats;
};

static void
pairing_unlink(struct relay_server *s, struct relay_pairing *p)
{
	struct relay_pairing **pp;

	for (pp = &s->pairings; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (p->linked) {
		for (int i = 0; i < 2; i++)
			if (p->links[i].stream != NULL)
				s->cbs.destroy_stream(s->cbs.arg,
				    p->links[i].stream);
		s->stats.links_active--;
	}
	free(p);
}

static struct relay_pairing *
pairing_find(struct relay_server *s, const uint8_t token[32], bool linked,
    const struct relay_session *sess)
{
	for (struct relay_pairing *p = s->pairings; p != NULL; p = p->next) {
		if (p->linked != linked || memcmp(p->token, token, 32) != 0)
			continue;
		if (sess == NULL || p->links[0].sess == sess ||
		    p->links[1].sess == sess)
			return p;
	}
	return NULL;
}

static void
pairing_match(struct relay_server *s, struct relay_pairing *p)
{
	struct relay_server_cbs *cb = &s->cbs;
	uint64_t ids[2];
	uint8_t body[RELAY_PAIR_MAX_SIZE];
	size_t len = 0;

	for (int i = 0; i < 2; i++) {
		if (cb->create_stream(cb->arg, p->links[i].sess,
		    p->links[i].remote_id, &p->links[i].stream, &ids[i]) == 0)
			continue;
		p->links[i].stream = NULL;
		if (i == 1) {
			cb->destroy_stream(cb->arg, p->links[0].stream);
			p->links[0].stream = NULL;
		}
		pairing_unlink(s, p);
		return;
	}
	cb->link(cb->arg, p->links[0].stream, p->links[1].stream);
	p->linked = true;
	s->stats.pairings_matched++;
	s->stats.links_active++;
	for (int i = 0; i < 2; i++) {
		struct relay_pair m = { .is_initiator = i == 1, .id = ids[i] };

		memcpy(m.token, p->token, 32);
		(void)relay_pair_encode(&m, body, sizeof(body), &len);
		(void)rchan_send(&p->links[i].sess->ch, RELAY_MSG_PAIR, body,
		    len);
	}
}

static void
session_on_pair(struct relay_session *sess, const struct relay_pair *m)
{
	struct relay_server *s = sess->srv;
	struct relay_pairing *p = pairing_find(s, m->token, false, NULL);
	int side = m->is_initiator ? 1 : 0;

	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return;
		memcpy(p->token, m->token, 32);
		p->next = s->pairings;
		s->pairings = p;
	} else if (p->links[side].sess != NULL) {
		return;		/* that half is here already */
	}
	s->stats.pairings_requested++;
	p->links[side].sess = sess;
	p->links[side].remote_id = m->id;
	if (p->links[1 - side].sess != NULL)
		pairing_match(s, p);
}

static void
session_on_unpair(struct relay_session *sess, const uint8_t token[32])
{
	struct relay_server *s = sess->srv;
	struct relay_pairing *p = pairing_find(s, token, false, NULL);

	/* the reference cancels a pending pairing whoever asks */
	if (p == NULL)
		p = pairing_find(s, token, true, sess);
	if (p == NULL)
		return;
	s->stats.pairings_cancelled++;
	pairing_unlink(s, p);
}

static void
session_on_msg(struct rchan *ch, uint64_t type, const uint8_t *body,
    size_t len)
{
	struct relay_session *sess = container_of(ch, struct relay_session, ch);
	struct relay_pair m;
	uint8_t token[32];

	if (type == RELAY_MSG_PAIR && relay_pair_decode(&m, body, len) == 0)
		session_on_pair(sess, &m);
	else if (type == RELAY_MSG_UNPAIR &&
	    relay_unpair_decode(token, body, len) == 0)
		session_on_unpair(sess, token);
}

struct relay_server *
relay_server_new(const struct relay_server_cbs *cbs)
{
	struct relay_server *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->cbs = *cbs;
	return s;
}

void
relay_server_free(struct relay_server *s)
{
	if (s == NULL)
		return;
	while (s->sessions != NULL)
		relay_session_free(s->sessions);
	while (s->pairings != NULL)
		pairing_unlink(s, s->pairings);
	free(s);
}

struct relay_session *
relay_server_accept(struct relay_server *s, const uint8_t remote_pk[32],
    relay_send_fn *send, void *send_arg)
{
	struct relay_session *sess = calloc(1, sizeof(*sess));

	if (sess == NULL)
		return NULL;
	sess->srv = s;
	memcpy(sess->ch.id, remote_pk, 32);
	sess->ch.send = send;
	sess->ch.send_arg = send_arg;
	sess->ch.on_msg = session_on_msg;
	if (rchan_open(&sess->ch) != 0) {
		free(sess);
		return NULL;
	}
	sess->next = s->sessions;
	s->sessions = sess;
	s->stats.sessions++;
	return sess;
}

int
relay_session_input(struct relay_session *sess, const uint8_t *msg, size_t len)
{
	return rchan_input(&sess->ch, msg, len);
}

void
relay_session_free(struct relay_session *sess)
{
	struct relay_server *s;
	struct relay_session **pp;
	struct relay_pairing *p, *next;

	if (sess == NULL)
		return;
	s = sess->srv;
	for (p = s->pairings; p != NULL; p = next) {
		next = p->next;
		if (p->links[0].sess != sess && p->links[1].sess != sess)
			continue;
		if (!p->linked)
			s->stats.pairings_cancelled++;
		pairing_unlink(s, p);
	}
	for (pp = &s->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sess) {
			*pp = sess->next;
			break;
		}
	}
	free(sess);
}

void
relay_server_get_stats(const struct relay_server *s,
    struct relay_server_stats *st)
{
	*st = s->stats;
}

/* --------------------------------------------------- UDX relay streams */

struct relay_stream {
	struct udx_stream	*s;		/* NULL once closed */
	uint32_t		 remote_id;
};

static void
rs_on_close(struct udx_stream *s, void *arg, int err)
{
	struct relay_stream *h = arg;

	h->s = NULL;	/* udx frees the stream after this call */
}

/* §9 step 5: the relay stream learns its peer from the first packet. */
static int
rs_firewall(struct udx_stream *s, void *arg, int sock,
    const struct hn_addr *from)
{
	struct relay_stream *h = arg;

	if (udx_stream_is_connected(s))
		return 1;
	return udx_stream_connect(s, sock, h->remote_id, from) == 0 ? 0 : 1;
}

static const struct udx_stream_ops relay_stream_ops = {
	.on_close = rs_on_close,
	.firewall = rs_firewall,
};

static int
rs_create(void *arg, struct relay_session *sess, uint64_t remote_id,
    void **stream, uint64_t *local_id)
{
	struct relay_udx *ru = arg;
	struct relay_stream *h;
	uint32_t id;
	int err = -EEXIST;

	if (remote_id > UINT32_MAX)
		return -EINVAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->remote_id = (uint32_t)remote_id;
	for (int i = 0; i < 8 && err == -EEXIST; i++) {
		hn_random(ru->io, &id, sizeof(id));
		if (id != 0)
			err = udx_stream_new(ru->udx, id, &relay_stream_ops, h,
			    &h->s);
	}
	if (err != 0) {
		free(h);
		return err;
	}
	*stream = h;
	*local_id = id;
	return 0;
}

static void
rs_link(void *arg, void *a, void *b)
{
	struct relay_stream *x = a, *y = b;

	if (x->s != NULL && y->s != NULL) {
		(void)udx_stream_relay_to(x->s, y->s);
		(void)udx_stream_relay_to(y->s, x->s);
	}
}

static void
rs_destroy(void *arg, void *stream)
{
	struct relay_stream *h = stream;

	/* a relay stream takes its partner along (udx §20) */
	if (h->s != NULL)
		udx_stream_destroy(h->s);
	free(h);
}

void
relay_udx_cbs(struct relay_udx *ru, struct relay_server_cbs *out)
{
	out->create_stream = rs_create;
	out->link = rs_link;
	out->destroy_stream = rs_destroy;
	out->arg = ru;
}

/* ------------------------------------------------ a relay on a conn_node */

struct relay_svc_conn {
	struct relay_service	*svc;
	struct conn		*c;
	struct relay_session	*sess;
	struct relay_svc_conn	*next;
};

struct relay_service {
	struct conn_server	*srv;
	struct relay_server	*rs;
	struct relay_udx	 ru;
	struct relay_svc_conn	*conns;
};

static int
svc_send(void *arg, const uint8_t *msg, size_t len)
{
	struct relay_svc_conn *rc = arg;

	return conn_write(rc->c, msg, len);
}

static void
svc_on_open(struct conn *c, void *arg)
{
	struct relay_svc_conn *rc = arg;

	/* §9 step 2: the relay's channel id is the peer's key */
	rc->sess = relay_server_accept(rc->svc->rs, conn_remote_key(c),
	    svc_send, rc);
}

static void
svc_on_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	struct relay_svc_conn *rc = arg;

	/* a frame the reference would have died on is ignored here */
	if (rc->sess != NULL)
		(void)relay_session_input(rc->sess, buf, len);
}

static void
svc_on_end(struct conn *c, void *arg)
{
	(void)conn_end(c);
}

static void
svc_on_close(struct conn *c, int err, void *arg)
{
	struct relay_svc_conn *rc = arg, **pp;

	relay_session_free(rc->sess);
	for (pp = &rc->svc->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rc) {
			*pp = rc->next;
			break;
		}
	}
	free(rc);
}

static const struct conn_ops svc_ops = {
	.on_open = svc_on_open,
	.on_data = svc_on_data,
	.on_end = svc_on_end,
	.on_close = svc_on_close,
};

static void
svc_on_connection(struct conn_server *s, struct conn *c, void *arg)
{
	struct relay_service *svc = arg;
	struct relay_svc_conn *rc = calloc(1, sizeof(*rc));

	if (rc == NULL) {
		conn_set_ops(c, NULL, NULL);
		return;
	}
	rc->svc = svc;
	rc->c = c;
	rc->next = svc->conns;
	svc->conns = rc;
	conn_set_ops(c, &svc_ops, rc);
}

struct relay_service *
relay_service_new(struct conn_node *n, struct udx *udx, struct hn_io *io,
    const struct keypair *kp)
{
	struct relay_service *svc = calloc(1, sizeof(*svc));
	struct relay_server_cbs cbs;

	if (svc == NULL)
		return NULL;
	svc->ru.udx = udx;
	svc->ru.io = io;
	relay_udx_cbs(&svc->ru, &cbs);
	if ((svc->rs = relay_server_new(&cbs)) == NULL)
		goto out_free;
	svc->srv = conn_listen(n, kp, NULL, svc_on_connection, svc);
	if (svc->srv == NULL)
		goto out_rs;
	return svc;

out_rs:
	relay_server_free(svc->rs);
out_free:
	free(svc);
	return NULL;
}

void
relay_service_free(struct relay_service *svc)
{
	if (svc == NULL)
		return;
	conn_server_close(svc->srv);
	while (svc->conns != NULL)
		conn_destroy(svc->conns->c);	/* on_close unlinks it */
	relay_server_free(svc->rs);
	free(svc);
}

void
relay_service_get_stats(const struct relay_service *svc,
    struct relay_server_stats *st)
{
	relay_server_get_stats(svc->rs, st);
}

/*
 * conn.c - peer connections over HyperDHT (conn.h; spec/connect.md)
 *
 * Server: dht_listen() routes PEER_HANDSHAKE to server_on_handshake(),
 * which answers message 1 with Noise IK from the key pair's scalar (a
 * repeated message 1 gets the cached reply, §5.4), creates the UDX stream
 * whose id goes in payload2 and then waits for the client's first UDX
 * packet on any socket (§6.3 "wait", through the stream's firewall hook),
 * or connects at once when the client said it is OPEN.
 *
 * Client: dht_find_peer(), PEER_HANDSHAKE FROM_CLIENT to the nodes that
 * hold the record (§5.3), then the data path of §7.6 steps 1-6: a stream
 * the server already connected, the node itself (not relayed), an OPEN
 * server, a LAN match when both appear behind one public IP; else the
 * server's address as seen by its relay (hole punching: TODO, see
 * daemon/connect/holepunch.h).
 *
 * Lifetime: every object with callbacks in flight has a `busy` count; a
 * closed connection is freed when it drops to zero.  DHT operations have
 * no cancel, so each one carries a ticket whose `c` is cleared when the
 * connection goes away; the DHT frees the ticket through its callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "daemon/connect/conn.h"
#include "daemon/connect/conn_ext.h"
#include "daemon/connect/holepunch.h"
#include "daemon/connect/relay.h"
#include "daemon/dht/dht.h"
#include "daemon/noise/noise.h"
#include "daemon/noise/payload.h"
#include "daemon/noise/secretstream.h"
#include "daemon/udx/udx.h"

#define HANDSHAKE_CLEAR_WAIT_MS	10000	/* §11 */
#define SERVER_WAIT_MS		10000	/* §11 prepunching */
#define CONNECT_TIMEOUT_MS	30000
#define HS_INFLIGHT		2	/* §5.3 */
#define HS_CANDIDATES		8
#define MSG_MAX			2048	/* noise messages we build */
#define PUNCH_TIMEOUT_MS	60000	/* random strategies run ~35 s */
#define HP_PROBE_ROUNDS		2	/* §7.6 9f: repeat the probe once */

enum conn_state {
	CONN_S_HANDSHAKE = 0,	/* client: lookup / handshake */
	CONN_S_WAIT,		/* handshake done, stream not connected */
	CONN_S_OPEN,
	CONN_S_CLOSED
};

struct conn_ticket {
	struct conn		*c;
	struct conn_ticket	*next;
	struct hn_addr		 to;
};

struct hs_slot {
	struct hs_slot		*next;
	uint32_t		 id;
	uint8_t			 key[32];	/* BLAKE2b-256(msg1) */
	uint8_t			*reply;
	size_t			 reply_len;
	uint64_t		 expires;	/* 0 while in progress */
};

struct conn_server {
	struct conn_node	*node;
	struct conn_server	*next;
	struct keypair		 kp;
	struct dht_announcer	*ann;
	conn_firewall_fn	*firewall;
	conn_accept_fn		*on_connection;
	void			*arg;
	struct hs_slot		*slots;
	struct hn_timer		 gc;
	bool			 closed;
};

struct conn {
	struct conn_node	*node;
	struct conn		*next;
	struct conn_server	*server;	/* accepted, until handed over */
	bool			 initiator;
	bool			 handed;	/* the application knows it */
	enum conn_state		 state;
	const struct conn_ops	*ops;
	void			*arg;
	int			 busy;
	bool			 dead;		/* closed, free when !busy */

	struct udx_stream	*stream;
	uint32_t		 local_id, remote_id;
	bool			 has_remote_id;
	int			 sock;
	struct secretstream	*ss;
	struct noise_result	 res;
	bool			 ended_local, ended_remote;

	uint8_t			 remote_pk[32];
	uint32_t		 remote_caps;
	enum conn_path		 path;
	struct hn_addr		 remote_addr;
	struct conn_stats	 st;

	struct hn_timer		 timer;		/* timeouts */
	struct hn_timer		 defer;		/* deferred close */
	int			 defer_err;

	/* hole punching (§7, §8), both sides */
	struct holepuncher	*hp;
	int			 punch_sock;	/* taken from the puncher, or -1 */
	uint64_t		 round;
	struct conn_server	*slot_srv;	/* server: handshake slot */
	uint32_t		 slot_id;
	/* client */
	struct hn_addr		 server_addr;	/* serverAddress */
	struct noise_relay_info	 srelay;	/* serverRelay */
	uint64_t		 hp_id;
	bool			 has_rtoken;
	uint8_t			 rtoken[32];	/* the server's token */
	int			 hp_phase;
	int			 probes, reopens;
	bool			 wait_analysis;
	struct hn_timer		 hp_timer;

	/* blind relay (§9), client side: we chose it, we initiate */
	bool			 use_relay;
	bool			 relay_initiator;
	uint8_t			 relay_pk[32];
	uint8_t			 relay_token[32];
	struct conn		*relay_conn;	/* control connection */
	struct conn		*relay_owner;	/* on a control connection */
	struct relay_client	*rc;
	struct hn_timer		 relay_timer;

	/* server: the client's payload1 addresses (LAN detection) */
	size_t			 nclient_addrs;
	struct hn_addr		 client_addrs[8];

	/* client */
	struct keypair		 kp;
	struct noise_ik		 hs;
	uint8_t			 target[32];
	uint8_t			*msg1;
	size_t			 msg1_len;
	bool			 reusable;
	bool			 no_lan;
	struct conn_ticket	*tickets;
	struct hn_addr		 cand[HS_CANDIDATES];
	size_t			 ncand, nsent;
	int			 inflight;
	bool			 lookup_done;
	bool			 found;
};

struct conn_node {
	struct conn_node_config	 cfg;
	struct keypair		 kp;		/* default client key */
	struct conn_server	*servers;
	struct conn		*conns;
	struct hp_throttle	 throttle;	/* §8.4, per DHT node */
	struct relay_server	*relay_srv;	/* serve_relay */
	struct conn_server	*relay_listen;
};

static void	conn_close(struct conn *c, int err);
static void	relay_detach(struct conn *c);
static void	relay_timer_cb(struct hn_timer *t);

/* ------------------------------------------------------------ helpers */

const char *
conn_path_name(enum conn_path p)
{
	switch (p) {
	case CONN_PATH_LAN:
		return "lan";
	case CONN_PATH_DIRECT:
		return "direct";
	case CONN_PATH_PUNCHED:
		return "punched";
	case CONN_PATH_RELAYED:
		return "relayed";
	case CONN_PATH_NONE:
		break;
	}
	return "none";
}

static struct hn_io *
nio(const struct conn_node *n)
{
	return n->cfg.io;
}

/* Our firewall for payloads (§4.1): OPEN with a stable public address. */
static bool
node_public(const struct conn_node *n, struct hn_addr *out)
{
	struct hn_addr a;

	if (dht_is_firewalled(n->cfg.dht) || !dht_public_addr(n->cfg.dht, &a) ||
	    a.port == 0)
		return false;
	if (out)
		*out = a;
	return true;
}

/* bogon's isReserved (spec §7.6 step 4 skips private and reserved). */
static bool
ip_is_reserved(const uint8_t ip[4])
{
	return ip[0] == 0 ||
	    (ip[0] == 192 && ip[1] == 0 && (ip[2] == 0 || ip[2] == 2)) ||
	    (ip[0] == 198 && (ip[1] == 18 || ip[1] == 19)) ||
	    (ip[0] == 198 && ip[1] == 51 && ip[2] == 100) ||
	    (ip[0] == 203 && ip[1] == 0 && ip[2] == 113) ||
	    ip[0] >= 224;
}

static bool
ip_is_bogon(const uint8_t ip[4])
{
	return addr_is_private(ip) || ip_is_reserved(ip);
}

static void
fill_addresses(const struct conn_node *n, struct noise_payload *p)
{
	struct hn_addr pub;
	size_t i;

	p->naddr4 = 0;
	if (node_public(n, &pub))
		p->addr4[p->naddr4++] = pub;
	for (i = 0; i < n->cfg.nlocal_addrs &&
	    p->naddr4 < NOISE_PAYLOAD_ADDR4_MAX; i++)
		if (n->cfg.local_addrs[i].port != 0)
			p->addr4[p->naddr4++] = n->cfg.local_addrs[i];
}

static void
conn_hold(struct conn *c)
{
	c->busy++;
}

static void
conn_free(struct conn *c)
{
	struct conn **pp;
	struct conn_ticket *t;

	for (pp = &c->node->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (t = c->tickets; t != NULL; t = t->next)
		t->c = NULL;
	hn_timer_cancel(nio(c->node), &c->timer);
	hn_timer_cancel(nio(c->node), &c->defer);
	hn_timer_cancel(nio(c->node), &c->hp_timer);
	relay_detach(c);
	hp_free(c->hp);
	if (c->punch_sock >= 0 && c->node->cfg.sock_close != NULL)
		c->node->cfg.sock_close(c->node->cfg.sock_arg, c->punch_sock);
	secretstream_free(c->ss);
	noise_ik_wipe(&c->hs);
	noise_result_wipe(&c->res);
	keys_wipe(&c->kp);
	free(c->msg1);
	free(c);
}

/* Drop a hold; frees a closed connection when nothing is in flight. */
static bool
conn_release(struct conn *c)
{
	if (--c->busy > 0 || !c->dead)
		return !c->dead;
	conn_free(c);
	return false;
}

static struct conn *
conn_alloc(struct conn_node *n)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->node = n;
	c->sock = n->cfg.sock;
	c->punch_sock = -1;
	hn_timer_init(&c->timer, NULL);
	hn_timer_init(&c->hp_timer, NULL);
	hn_timer_init(&c->relay_timer, NULL);
	hn_timer_init(&c->defer, NULL);
	c->next = n->conns;
	n->conns = c;
	return c;
}

/* ------------------------------------------------------------ data path */

static int
ss_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;

	if (c->stream == NULL)
		return -EPIPE;
	return udx_stream_write(c->stream, buf, len);
}

static void
ss_message(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;

	if (c->dead)
		return;
	c->st.bytes_in += len;
	if (c->ops && c->ops->on_data)
		c->ops->on_data(c, buf, len, c->arg);
}

static const struct secretstream_ops ss_ops = {
	.write = ss_write,
	.message = ss_message,
};

static void
st_on_data(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct conn *c = arg;
	int err;

	if (c->dead || c->ss == NULL)
		return;
	conn_hold(c);
	err = secretstream_input(c->ss, buf, len);
	if (err != 0 && !c->dead)
		conn_close(c, err == -EBADMSG ? -EPROTO : err);
	conn_release(c);
}

static void
st_on_end(struct udx_stream *s, void *arg)
{
	struct conn *c = arg;

	if (c->dead)
		return;
	c->ended_remote = true;
	conn_hold(c);
	if (c->ops && c->ops->on_end)
		c->ops->on_end(c, c->arg);
	conn_release(c);
}

static void
st_on_message(struct udx_stream *s, void *arg, const uint8_t *buf,
    size_t len)
{
	struct conn *c = arg;
	uint8_t out[2048];
	size_t olen;
	bool secure = false;

	if (c->dead)
		return;
	/* secretstream.md §7: a MESSAGE that opens with the receive key is
	 * a send(); anything else is a raw rawStream.send() datagram */
	if (c->ss != NULL && len > SECRETSTREAM_BOX_OVERHEAD &&
	    secretstream_unbox_message(c->ss, buf, len, out, sizeof(out),
	    &olen) == 0) {
		secure = true;
		buf = out;
		len = olen;
	}
	c->st.dgrams_in++;
	conn_hold(c);
	if (c->ops && c->ops->on_datagram)
		c->ops->on_datagram(c, buf, len, secure, c->arg);
	conn_release(c);
	sodium_memzero(out, sizeof(out));
}

static void
st_on_drain(struct udx_stream *s, void *arg)
{
	struct conn *c = arg;

	if (c->dead || c->state != CONN_S_OPEN)
		return;
	conn_hold(c);
	if (c->ops && c->ops->on_drain)
		c->ops->on_drain(c, c->arg);
	conn_release(c);
}

static void
st_on_close(struct udx_stream *s, void *arg, int err)
{
	struct conn *c = arg;

	c->stream = NULL;
	if (c->dead)
		return;
	conn_hold(c);
	conn_close(c, err);
	conn_release(c);
}

static void	conn_stream_connected(struct conn *c, int sock,
		    const struct hn_addr *to);

/*
 * §10: before connect, the first packet for our id on any socket connects
 * the stream to its source; afterwards packets on other sockets are
 * accepted without moving the stream.
 */
static int
st_firewall(struct udx_stream *s, void *arg, int sock,
    const struct hn_addr *from)
{
	struct conn *c = arg;
	bool alive;

	if (c->dead)
		return 1;
	if (udx_stream_is_connected(s))
		return 0;
	if (!c->has_remote_id || from->port == 0)
		return 1;
	if (c->hp != NULL && hp_owns(c->hp, sock)) {
		/* §6.3: the client's first packet on our puncher socket */
		if (!c->initiator)
			hp_take_socket(c->hp, sock);
		c->punch_sock = sock;
		c->path = CONN_PATH_PUNCHED;
	}
	conn_hold(c);
	conn_stream_connected(c, sock, from);
	alive = conn_release(c);
	return alive && c->stream != NULL ? 0 : 1;
}

static const struct udx_stream_ops st_ops = {
	.on_data = st_on_data,
	.on_end = st_on_end,
	.on_message = st_on_message,
	.on_drain = st_on_drain,
	.on_close = st_on_close,
	.firewall = st_firewall,
};

static int
stream_create(struct conn *c)
{
	struct udx_stream *s;
	uint32_t id;
	int i, err = -EEXIST;

	for (i = 0; i < 64 && err == -EEXIST; i++) {
		hn_random(nio(c->node), &id, sizeof(id));
		if (id == 0)
			continue;
		err = udx_stream_new(c->node->cfg.udx, id, &st_ops, c, &s);
	}
	if (err != 0)
		return err;
	c->stream = s;
	c->local_id = id;
	return 0;
}

static enum conn_path
guess_path(const struct conn *c, const struct hn_addr *to)
{
	const struct conn_node *n = c->node;
	size_t i;

	if (!addr_is_private(to->ip))
		return CONN_PATH_DIRECT;
	/* server: the client came from one of its private addresses */
	for (i = 0; i < c->nclient_addrs; i++)
		if (addr_eq(&c->client_addrs[i], to))
			return CONN_PATH_LAN;
	(void)n;
	return CONN_PATH_DIRECT;
}

/*
 * The stream is connected (by us, or by the firewall hook): start the
 * SecretStream (its header goes out at once), hand a server connection to
 * the application, then on_open.
 */
/* The path is fixed: the puncher's other sockets and timers can go. */
static void
hp_reap(struct hn_timer *t)
{
	struct conn *c = container_of(t, struct conn, hp_timer);

	hp_free(c->hp);
	c->hp = NULL;
}

static void
conn_stream_connected(struct conn *c, int sock, const struct hn_addr *to)
{
	struct conn_server *srv;

	if (!udx_stream_is_connected(c->stream) &&
	    udx_stream_connect(c->stream, sock, c->remote_id, to) != 0) {
		conn_close(c, -EPROTO);
		return;
	}
	if (log_get_level() >= LOG_LVL_DEBUG) {
		char ab[HN_ADDR_STRLEN];

		log_debug("connect: %s: stream to %s on socket %d (%s)",
		    c->initiator ? "client" : "server", addr_format(to, ab),
		    sock, conn_path_name(c->path));
	}
	hn_timer_cancel(nio(c->node), &c->timer);
	if (c->hp != NULL) {
		hn_timer_cancel(nio(c->node), &c->hp_timer);
		hn_timer_init(&c->hp_timer, hp_reap);
		hn_timer_after(nio(c->node), &c->hp_timer, 0);
	}
	c->sock = sock;
	c->remote_addr = *to;
	if (c->path == CONN_PATH_NONE)
		c->path = guess_path(c, to);
	c->state = CONN_S_OPEN;
	if ((c->ss = secretstream_new(&c->res, &ss_ops, c)) == NULL) {
		conn_close(c, -ENOMEM);
		return;
	}
	secretstream_set_keepalive(c->ss, nio(c->node),
	    SECRETSTREAM_KEEPALIVE_MS);
	if (secretstream_start(c->ss) != 0) {
		conn_close(c, -EPIPE);
		return;
	}
	if ((srv = c->server) != NULL) {
		c->server = NULL;
		c->handed = true;
		srv->on_connection(srv, c, srv->arg);
		if (c->dead)
			return;
	}
	if (c->ops && c->ops->on_open)
		c->ops->on_open(c, c->arg);
}

static void
conn_close(struct conn *c, int err)
{
	if (c->dead)
		return;
	log_debug("connect: %s: closed: %s", c->initiator ? "client" :
	    "server", err == 0 ? "ok" : strerror(-err));
	c->dead = true;
	c->state = CONN_S_CLOSED;
	hn_timer_cancel(nio(c->node), &c->timer);
	hn_timer_cancel(nio(c->node), &c->defer);
	conn_hold(c);
	if (c->stream != NULL)
		udx_stream_destroy(c->stream);	/* st_on_close: ignored */
	c->stream = NULL;
	if (c->handed && c->ops && c->ops->on_close)
		c->ops->on_close(c, err, c->arg);
	conn_release(c);
}

static void
conn_timer_cb(struct hn_timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);

	conn_close(c, -ETIMEDOUT);
}

static void
conn_defer_cb(struct hn_timer *t)
{
	struct conn *c = container_of(t, struct conn, defer);

	conn_close(c, c->defer_err);
}

/* ------------------------------------------------------------ blind relay */

/* Drop the relay control connection and the pairing client of `c`. */
static void
relay_detach(struct conn *c)
{
	struct conn *rc_conn = c->relay_conn;

	hn_timer_cancel(nio(c->node), &c->relay_timer);
	relay_client_free(c->rc);
	c->rc = NULL;
	c->relay_conn = NULL;
	if (rc_conn != NULL) {
		rc_conn->relay_owner = NULL;
		conn_destroy(rc_conn);
	}
	if (c->relay_owner != NULL) {
		c->relay_owner->relay_conn = NULL;
		c->relay_owner = NULL;
	}
}

static bool
relay_pending(const struct conn *c)
{
	return c->relay_conn != NULL && c->state != CONN_S_OPEN;
}

/* Punching gave up: fatal unless a relay pairing may still connect. */
static void
punch_failed(struct conn *c, const char *why)
{
	log_debug("connect: %s: punching failed: %s%s",
	    c->initiator ? "client" : "server", why,
	    relay_pending(c) ? " (a relay pairing is pending)" : "");
	if (relay_pending(c)) {
		if (c->hp != NULL) {
			hn_timer_cancel(nio(c->node), &c->hp_timer);
			hn_timer_init(&c->hp_timer, NULL);
		}
		return;
	}
	conn_close(c, -EHOSTUNREACH);
}

static void
relay_failed(struct conn *owner)
{
	bool punching = owner->hp != NULL && hp_punching(owner->hp);

	relay_detach(owner);
	if (owner->state != CONN_S_OPEN && !punching)
		conn_close(owner, -EHOSTUNREACH);
}

static int
rc_send(void *arg, const uint8_t *msg, size_t len)
{
	struct conn *owner = arg;

	if (owner->relay_conn == NULL)
		return -EPIPE;
	return conn_write(owner->relay_conn, msg, len);
}

/* §9 step 5: the relay paired us: the P2P stream goes through it. */
static void
rc_on_pair(struct relay_client *rc, const uint8_t token[32], uint64_t id,
    void *arg)
{
	struct conn *owner = arg;
	struct conn *r = owner->relay_conn;

	hn_timer_cancel(nio(owner->node), &owner->relay_timer);
	if (r == NULL || owner->dead || owner->state == CONN_S_OPEN ||
	    memcmp(token, owner->relay_token, 32) != 0)
		return;
	owner->remote_id = (uint32_t)id;
	owner->has_remote_id = true;
	owner->path = CONN_PATH_RELAYED;
	conn_hold(owner);
	conn_stream_connected(owner, r->sock, &r->remote_addr);
	conn_release(owner);
}

static void
rc_on_close(struct relay_client *rc, void *arg)
{
	struct conn *owner = arg;

	/* callbacks must not free the relay client: fail on a timer */
	if (!owner->dead && owner->state != CONN_S_OPEN) {
		hn_timer_init(&owner->relay_timer, relay_timer_cb);
		hn_timer_after(nio(owner->node), &owner->relay_timer, 0);
	}
}

static void
relay_timer_cb(struct hn_timer *t)
{
	struct conn *c = container_of(t, struct conn, relay_timer);

	conn_hold(c);
	relay_failed(c);	/* §9 step 6: 15 s without a pair answer */
	conn_release(c);
}

static void
rconn_open(struct conn *r, void *arg)
{
	struct conn *owner = r->relay_owner;
	struct relay_client_cbs cbs;

	if (owner == NULL)
		return;
	memset(&cbs, 0, sizeof(cbs));
	cbs.send = rc_send;
	cbs.on_pair = rc_on_pair;
	cbs.on_close = rc_on_close;
	cbs.arg = owner;
	/* the side that chose the relay initiates the pairing (§9 step 1) */
	if ((owner->rc = relay_client_new(r->kp.pk, &cbs)) == NULL ||
	    relay_client_pair(owner->rc, owner->relay_initiator,
	    owner->relay_token, owner->local_id) != 0)
		relay_failed(owner);
}

static void
rconn_data(struct conn *r, const uint8_t *buf, size_t len, void *arg)
{
	struct conn *owner = r->relay_owner;

	if (owner != NULL && owner->rc != NULL &&
	    relay_client_input(owner->rc, buf, len) != 0)
		relay_failed(owner);
}

static void
rconn_close(struct conn *r, int err, void *arg)
{
	struct conn *owner = r->relay_owner;

	if (owner == NULL)
		return;
	r->relay_owner = NULL;
	owner->relay_conn = NULL;
	if (!owner->dead && owner->state != CONN_S_OPEN)
		relay_failed(owner);
	else if (!owner->dead && owner->path == CONN_PATH_RELAYED)
		conn_close(owner, err ? err : -ECONNRESET);
}

static const struct conn_ops rconn_ops = {
	.on_open = rconn_open,
	.on_data = rconn_data,
	.on_close = rconn_close,
};

/* §9 steps 1-3: connect to the relay and ask it to pair us. */
static void
relay_start(struct conn *c)
{
	struct conn_connect_opts o;
	struct conn *r;

	memset(&o, 0, sizeof(o));
	memcpy(o.remote_pk, c->relay_pk, 32);
	o.kp = c->initiator ? &c->kp : NULL;	/* server: the node's key */
	if ((r = conn_connect(c->node, &o, &rconn_ops, NULL)) == NULL)
		return;
	r->relay_owner = c;
	c->relay_conn = r;
	hn_timer_init(&c->relay_timer, relay_timer_cb);
	hn_timer_after(nio(c->node), &c->relay_timer,
	    RELAY_PAIRING_TIMEOUT_MS + 10000);
}

/* ------------------------------------------------------------ punching */

static void	client_hp_next(struct conn *c);

static void
hp_cb_analyzed(struct holepuncher *hp, void *arg)
{
	struct conn *c = arg;

	if (c->dead || !c->wait_analysis)
		return;
	c->wait_analysis = false;
	conn_hold(c);
	client_hp_next(c);
	conn_release(c);
}

static void
hp_cb_connect(struct holepuncher *hp, int sock, const struct hn_addr *addr,
    void *arg)
{
	struct conn *c = arg;

	if (c->dead || c->state == CONN_S_OPEN)
		return;
	/* §7.6 step 12: the first holepunch datagram wins */
	c->punch_sock = sock;
	c->path = CONN_PATH_PUNCHED;
	conn_hold(c);
	conn_stream_connected(c, sock, addr);
	conn_release(c);
}

static void
hp_cb_fail(struct holepuncher *hp, int err, void *arg)
{
	struct conn *c = arg;

	if (c->dead || c->state == CONN_S_OPEN)
		return;
	log_debug("connect: %s: puncher failed: %s",
	    c->initiator ? "client" : "server", strerror(-err));
	if (c->initiator)
		punch_failed(c, "the puncher gave up");
	/* server: the 10 s / punch timeout ends it */
}

static struct holepuncher *
hp_start(struct conn *c, bool initiator, int remote_firewall)
{
	struct conn_node *n = c->node;
	struct hp_config cfg;
	struct hp_cbs cbs;

	if (n->cfg.sock_open == NULL || n->cfg.sock_close == NULL)
		return NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.io = nio(n);
	cfg.dht = n->cfg.dht;
	cfg.sock_open = n->cfg.sock_open;
	cfg.sock_close = n->cfg.sock_close;
	cfg.sock_arg = n->cfg.sock_arg;
	cfg.throttle = &n->throttle;
	cfg.initiator = initiator;
	cfg.remote_firewall = remote_firewall;
	memset(&cbs, 0, sizeof(cbs));
	cbs.on_analyzed = hp_cb_analyzed;
	cbs.on_connect = hp_cb_connect;
	cbs.on_fail = hp_cb_fail;
	cbs.arg = c;
	return hp_new(&cfg, &cbs);
}

/* ------------------------------------------------------------ server */

static struct hs_slot *
slot_find(struct conn_server *s, const uint8_t key[32])
{
	struct hs_slot *sl;

	for (sl = s->slots; sl != NULL; sl = sl->next)
		if (memcmp(sl->key, key, 32) == 0)
			return sl;
	return NULL;
}

/* The smallest free slot number (§4.2 holepunch.id). */
static uint32_t
slot_next_id(const struct conn_server *s)
{
	const struct hs_slot *sl;
	uint32_t id = 0;

	for (;;) {
		for (sl = s->slots; sl != NULL; sl = sl->next)
			if (sl->id == id)
				break;
		if (sl == NULL)
			return id;
		id++;
	}
}

static void
server_gc(struct hn_timer *t)
{
	struct conn_server *s = container_of(t, struct conn_server, gc);
	struct hs_slot **pp, *sl;
	uint64_t now = hn_now_ms(nio(s->node)), next = 0;

	for (pp = &s->slots; (sl = *pp) != NULL;) {
		if (sl->expires != 0 && sl->expires <= now) {
			*pp = sl->next;
			free(sl->reply);
			free(sl);
			continue;
		}
		if (sl->expires != 0 && (next == 0 || sl->expires < next))
			next = sl->expires;
		pp = &sl->next;
	}
	if (next != 0)
		hn_timer_arm(nio(s->node), &s->gc, next);
}

static void
slot_finish(struct conn_server *s, struct hs_slot *sl)
{
	sl->expires = hn_now_ms(nio(s->node)) + HANDSHAKE_CLEAR_WAIT_MS;
	if (!s->gc.armed)
		hn_timer_arm(nio(s->node), &s->gc, sl->expires);
}

/* Payload2 (§4.2) for an accepted payload1. */
static void
server_payload(struct conn_server *s, struct conn *c, uint32_t slot,
    uint64_t error, struct noise_payload *p2)
{
	struct conn_node *n = s->node;
	struct hn_addr relay[NOISE_PAYLOAD_RELAYS_MAX],
	    peer[NOISE_PAYLOAD_RELAYS_MAX];
	size_t i, nr;

	memset(p2, 0, sizeof(*p2));
	p2->error = error;
	p2->firewall = node_public(n, NULL) ? NOISE_FIREWALL_OPEN :
	    NOISE_FIREWALL_UNKNOWN;
	if (p2->firewall != NOISE_FIREWALL_OPEN) {
		p2->has_holepunch = true;
		p2->holepunch_id = slot;
		nr = dht_announcer_relays(s->ann, relay, peer,
		    NOISE_PAYLOAD_RELAYS_MAX);
		for (i = 0; i < nr; i++) {
			p2->relays[i].relay = relay[i];
			p2->relays[i].peer = peer[i];
		}
		p2->nrelays = nr;
	}
	fill_addresses(n, p2);
	p2->has_udx = true;
	p2->udx_version = 1;
	p2->udx_id = c ? c->local_id : 0;
	p2->has_secret_stream = true;
	p2->secret_stream_version = 1;
}

static int
server_on_handshake(void *arg, const uint8_t *noise, size_t len,
    const struct hn_addr *peer_addr, uint8_t *reply, size_t cap)
{
	struct conn_server *s = arg;
	struct conn_node *n = s->node;
	struct noise_ik hs;
	struct noise_payload *p1 = NULL, *p2 = NULL;
	struct hs_slot *sl = NULL;
	struct conn *c = NULL;
	struct hn_addr client;
	uint8_t key[32], *pbuf = NULL, *msg2 = NULL;
	size_t plen, m2len, i, pcap = 0;
	uint32_t caps;
	uint64_t error = NOISE_ERROR_NONE;
	int ret = -1;

	if (s->closed)
		return -1;
	/* §5.4: the same message 1 gets the same reply */
	keys_hash(key, noise, len);
	if ((sl = slot_find(s, key)) != NULL) {
		if (sl->reply == NULL || sl->reply_len > cap)
			return -1;
		memcpy(reply, sl->reply, sl->reply_len);
		return (int)sl->reply_len;
	}
	if (len < NOISE_MSG1_OVERHEAD || len > NOISE_CIPHERTEXT_MAX + 80)
		return -1;
	p1 = malloc(sizeof(*p1));
	p2 = malloc(sizeof(*p2));
	pcap = noise_payload_max_size() + CONN_EXT_MAX;
	if (pcap < len)
		pcap = len;
	pbuf = malloc(pcap);
	msg2 = malloc(MSG_MAX);
	if (!p1 || !p2 || !pbuf || !msg2)
		goto out;
	if (noise_ik_init(&hs, false, &s->kp, NULL) != 0)
		goto out;
	if (noise_ik_read(&hs, noise, len, pbuf, len, &plen) != 0)
		goto out_wipe;
	if (conn_ext_decode(p1, &caps, pbuf, plen) != 0)
		goto out_wipe;
	/* §6.1: the client as the relaying node saw it; direct: unknown */
	memset(&client, 0, sizeof(client));
	if (peer_addr != NULL)
		client = *peer_addr;
	if (s->firewall != NULL && s->firewall(s->arg,
	    noise_ik_remote_static(&hs), &client) != 0)
		goto out_wipe;	/* §5.4: rejected: no reply at all */
	if (p1->version != 1)
		error = NOISE_ERROR_VERSION_MISMATCH;
	else if (!p1->has_udx)
		error = NOISE_ERROR_ABORTED;
	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		goto out_wipe;
	sl->id = slot_next_id(s);
	memcpy(sl->key, key, 32);
	if (error == NOISE_ERROR_NONE) {
		if ((c = conn_alloc(n)) == NULL || stream_create(c) != 0)
			goto out_slot;
		c->server = s;
		c->remote_id = (uint32_t)p1->udx_id;
		c->has_remote_id = true;
		c->remote_caps = caps;
		memcpy(c->remote_pk, noise_ik_remote_static(&hs), 32);
		for (i = 0; i < p1->naddr4 && i < 8; i++)
			c->client_addrs[i] = p1->addr4[i];
		c->nclient_addrs = i;
	}
	server_payload(s, c, sl->id, error, p2);
	if (conn_ext_encode(p2, n->cfg.caps, pbuf, pcap, &plen) != 0 ||
	    noise_ik_write(&hs, pbuf, plen, msg2, MSG_MAX, &m2len) != 0 ||
	    m2len > cap)
		goto out_slot;
	if (c != NULL && noise_ik_split(&hs, &c->res) != 0)
		goto out_slot;
	if ((sl->reply = malloc(m2len)) == NULL)
		goto out_slot;
	memcpy(sl->reply, msg2, m2len);
	sl->reply_len = m2len;
	sl->next = s->slots;
	s->slots = sl;
	slot_finish(s, sl);
	memcpy(reply, msg2, m2len);
	ret = (int)m2len;
	if (c != NULL) {
		/* §6.3 step 2: an OPEN client is reached at once */
		hn_timer_init(&c->timer, conn_timer_cb);
		c->slot_srv = s;
		c->slot_id = sl->id;
		if (p1->has_relay_through) {
			/* §6.3 step 3: the client chose a blind relay; we pair
			 * there too (not initiator), punching may still win */
			c->use_relay = true;
			memcpy(c->relay_pk, p1->relay_through_pk, 32);
			memcpy(c->relay_token, p1->relay_through_token, 32);
			relay_start(c);
		}
		if (p1->firewall == NOISE_FIREWALL_OPEN && peer_addr != NULL) {
			c->path = CONN_PATH_DIRECT;
			conn_stream_connected(c, n->cfg.sock, peer_addr);
		} else {
			/* step 6: relayed and neither side OPEN: punch, and
			 * answer from the puncher socket */
			if (peer_addr != NULL && p2->firewall !=
			    NOISE_FIREWALL_OPEN && (c->hp = hp_start(c, false,
			    (int)p1->firewall)) != NULL)
				dht_server_reply_sock(n->cfg.dht,
				    hp_socket(c->hp));
			hn_timer_after(nio(n), &c->timer, c->use_relay ?
			    PUNCH_TIMEOUT_MS : SERVER_WAIT_MS);
		}
		c = NULL;
	}
	goto out_wipe;
out_slot:
	free(sl);
out_wipe:
	if (c != NULL)
		conn_close(c, -ENOMEM);
	noise_ik_wipe(&hs);
out:
	if (pbuf != NULL)
		sodium_memzero(pbuf, pcap);
	free(p1);
	free(p2);
	free(pbuf);
	free(msg2);
	return ret;
}

static struct conn *
slot_conn(struct conn_server *s, uint64_t id)
{
	struct conn *c;

	for (c = s->node->conns; c != NULL; c = c->next)
		if (c->slot_srv == s && c->slot_id == id && !c->dead)
			return c;
	return NULL;
}

static int
hp_reply(struct conn *c, struct holepunch_payload *p, uint8_t *reply,
    size_t cap)
{
	size_t len;

	if (holepunch_payload_seal(p, c->res.holepunch_secret, NULL, reply,
	    cap, &len) != 0)
		return -1;
	return (int)len;
}

/* §7.5: a PEER_HOLEPUNCH for one of our handshake slots. */
static int
server_on_holepunch(void *arg, uint64_t id, const uint8_t *payload,
    size_t len, const struct hn_addr *peer_addr, uint8_t *reply, size_t cap)
{
	struct conn_server *s = arg;
	struct holepunch_payload pl, out;
	struct conn *c;
	struct hn_addr mine[HOLEPUNCH_ADDRS_MAX];
	uint8_t tok[32];
	const uint8_t *verified = NULL;
	size_t i, nmine;
	int err;

	if ((c = slot_conn(s, id)) == NULL || c->hp == NULL ||
	    c->state == CONN_S_OPEN)
		return -1;	/* step 2: no holepunch state, no reply */
	if (holepunch_payload_open(&pl, c->res.holepunch_secret, payload,
	    len) != 0)
		return -1;
	if (log_get_level() >= LOG_LVL_DEBUG) {
		char pb[HN_ADDR_STRLEN];

		log_debug("connect: server: holepunch round %u from %s: "
		    "firewall %d, punching %d, error %d; ours %d (%s)",
		    (unsigned)pl.round, addr_format(peer_addr, pb),
		    (int)pl.firewall, (int)pl.punching, (int)pl.error,
		    hp_firewall(c->hp), hp_analyzed(c->hp) ? "analysed" :
		    "analysing");
	}
	dht_server_reply_sock(s->node->cfg.dht, hp_socket(c->hp));
	memset(&out, 0, sizeof(out));
	if (pl.error != NOISE_ERROR_NONE) {
		out.error = NOISE_ERROR_ABORTED;	/* step 4 */
		out.round = pl.round;
		return hp_reply(c, &out, reply, cap);
	}
	if (pl.round >= c->round) {
		c->round = pl.round;
		hp_token(c->hp, peer_addr->ip, tok);
		if (pl.has_remote_token && memcmp(tok, pl.remote_token, 32) == 0)
			verified = peer_addr->ip;
		hp_remote_update(c->hp, &pl, verified);
		hp_remote_add(c->hp, peer_addr, verified != NULL);
	}
	/* step 8, fast mode */
	if (pl.has_remote_address && (hp_firewall(c->hp) ==
	    NOISE_FIREWALL_OPEN || hp_firewall(c->hp) ==
	    NOISE_FIREWALL_CONSISTENT)) {
		nmine = hp_addresses(c->hp, mine, HOLEPUNCH_ADDRS_MAX);
		for (i = 0; i < nmine; i++)
			if (addr_eq(&mine[i], &pl.remote_address)) {
				hp_send_probe(c->hp, peer_addr, false);
				break;
			}
	}
	if (pl.punching && !hp_punching(c->hp)) {
		/* step 9 */
		hn_timer_after(nio(s->node), &c->timer, PUNCH_TIMEOUT_MS);
		err = hp_punch(c->hp);
		if (err == -EAGAIN || err == -EOPNOTSUPP) {
			out.error = err == -EAGAIN ? NOISE_ERROR_TRY_LATER :
			    NOISE_ERROR_ABORTED;
			out.round = c->round;
			return hp_reply(c, &out, reply, cap);
		}
	}
	/* step 10 */
	if (hp_analyzed(c->hp))
		hp_freeze(c->hp);
	hp_fill_payload(c->hp, &out, c->round);
	out.connected = c->state == CONN_S_OPEN;
	out.punching = hp_punching(c->hp);
	out.has_token = true;
	hp_token(c->hp, peer_addr->ip, out.token);
	if (pl.has_token) {
		out.has_remote_token = true;
		memcpy(out.remote_token, pl.token, 32);
	}
	return hp_reply(c, &out, reply, cap);
}

struct conn_server *
conn_listen(struct conn_node *n, const struct keypair *kp,
    conn_firewall_fn *firewall, conn_accept_fn *on_connection, void *arg)
{
	struct conn_server *s;
	struct dht_server_cbs cbs;

	if (on_connection == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->node = n;
	s->kp = *kp;
	s->firewall = firewall;
	s->on_connection = on_connection;
	s->arg = arg;
	hn_timer_init(&s->gc, server_gc);
	memset(&cbs, 0, sizeof(cbs));
	cbs.on_handshake = server_on_handshake;
	cbs.on_holepunch = server_on_holepunch;
	cbs.arg = s;
	if ((s->ann = dht_listen(n->cfg.dht, &s->kp, &cbs)) == NULL) {
		keys_wipe(&s->kp);
		free(s);
		return NULL;
	}
	s->next = n->servers;
	n->servers = s;
	return s;
}

static void
server_free(struct conn_server *s)
{
	struct hs_slot *sl;
	struct conn *c, *next;

	/* connections not handed over yet die with their server */
	for (c = s->node->conns; c != NULL; c = next) {
		next = c->next;
		if (c->slot_srv == s)
			c->slot_srv = NULL;
		if (c->server == s) {
			c->server = NULL;
			conn_close(c, -ECANCELED);
		}
	}
	if (s->ann != NULL)
		dht_unlisten(s->ann);
	hn_timer_cancel(nio(s->node), &s->gc);
	while ((sl = s->slots) != NULL) {
		s->slots = sl->next;
		free(sl->reply);
		free(sl);
	}
	keys_wipe(&s->kp);
	free(s);
}

void
conn_server_close(struct conn_server *s)
{
	struct conn_server **pp;

	if (s == NULL)
		return;
	for (pp = &s->node->servers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	server_free(s);
}

/* ------------------------------------------------------------ client */

static struct conn_ticket *
ticket_new(struct conn *c, const struct hn_addr *to)
{
	struct conn_ticket *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->c = c;
	if (to)
		t->to = *to;
	t->next = c->tickets;
	c->tickets = t;
	return t;
}

/* The DHT is done with `t`: unlink it from its connection and free it. */
static struct conn *
ticket_done(struct conn_ticket *t)
{
	struct conn *c = t->c;
	struct conn_ticket **pp;

	if (c != NULL)
		for (pp = &c->tickets; *pp != NULL; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
	free(t);
	return c;
}

static void	client_send_next(struct conn *c);

/* The first non-bogon address of payload2, else `fallback` (§7.6 step 4). */
static struct hn_addr
server_open_addr(const struct noise_payload *p2, const struct hn_addr *fb)
{
	size_t i;

	for (i = 0; i < p2->naddr4; i++)
		if (!ip_is_bogon(p2->addr4[i].ip) && p2->addr4[i].port != 0)
			return p2->addr4[i];
	return *fb;
}

/* §7.6 step 6: the server's local address that best matches one of ours. */
static bool
lan_match(const struct conn_node *n, const struct noise_payload *p2,
    struct hn_addr *out)
{
	size_t i, j, k, best = 0;
	bool found = false;

	for (i = 0; i < p2->naddr4; i++) {
		if (!addr_is_private(p2->addr4[i].ip) || p2->addr4[i].port == 0)
			continue;
		for (j = 0; j < n->cfg.nlocal_addrs; j++) {
			for (k = 0; k < 3; k++)
				if (p2->addr4[i].ip[k] !=
				    n->cfg.local_addrs[j].ip[k])
					break;
			if (!found || k > best) {
				best = k;
				*out = p2->addr4[i];
				found = true;
			}
		}
		if (!found) {
			*out = p2->addr4[i];
			found = true;
		}
	}
	return found;
}

/* ------------------------------------------------------------ client punch */

static void	client_hp_cb(void *arg, int err, const struct dht_reply *r);

/* One PEER_HOLEPUNCH round to serverRelay from the puncher socket (§7.6). */
static void
client_hp_send(struct conn *c, bool punching)
{
	struct conn_node *n = c->node;
	struct holepunch_payload pl;
	struct peer_holepunch m;
	struct dht_request_opts o;
	struct conn_ticket *t;
	uint8_t box[HOLEPUNCH_PAYLOAD_MAX_SIZE + HOLEPUNCH_BOX_OVERHEAD];
	uint8_t val[sizeof(box) + 64];
	size_t blen, vlen;

	memset(&pl, 0, sizeof(pl));
	hp_fill_payload(c->hp, &pl, c->round++);
	if (!punching) {
		pl.has_remote_address = true;	/* 9a: we sent it a probe */
		pl.remote_address = c->server_addr;
	} else {
		pl.punching = true;
		pl.has_token = true;
		hp_token(c->hp, c->server_addr.ip, pl.token);
		if (c->has_rtoken) {
			pl.has_remote_token = true;
			memcpy(pl.remote_token, c->rtoken, 32);
		}
	}
	memset(&m, 0, sizeof(m));
	m.mode = PEER_MODE_FROM_CLIENT;
	m.id = c->hp_id;
	m.payload = box;
	m.has_peer = true;
	m.peer = c->srelay.peer;
	if (holepunch_payload_seal(&pl, c->res.holepunch_secret, NULL, box,
	    sizeof(box), &blen) != 0 || (m.payload_len = blen,
	    peer_holepunch_encode(&m, val, sizeof(val), &vlen)) != 0 ||
	    (t = ticket_new(c, &c->srelay.relay)) == NULL) {
		conn_close(c, -EPROTO);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.to = c->srelay.relay;
	o.command = DHT_CMD_PEER_HOLEPUNCH;
	o.target = c->target;
	o.value = val;
	o.value_len = vlen;
	o.has_value = true;
	o.retries = -1;
	o.sock = hp_socket(c->hp);
	c->hp_phase = punching ? 2 : 1;
	if (dht_request(n->cfg.dht, &o, client_hp_cb, t) != 0) {
		ticket_done(t);
		punch_failed(c, "cannot send PEER_HOLEPUNCH");
	}
}

/* After a probe round (and the 1 s pause): analyse, repeat, or punch. */
static void
client_hp_next(struct conn *c)
{
	if (c->dead || c->state == CONN_S_OPEN || c->hp == NULL)
		return;
	if (!hp_analyzed(c->hp)) {
		c->wait_analysis = true;
		return;
	}
	if (hp_unstable(c->hp)) {	/* 9e */
		if (c->reopens++ < HP_MAX_REOPENS && hp_reopen(c->hp) == 0) {
			c->wait_analysis = true;
			return;
		}
		punch_failed(c, "our NAT analysis is unstable");
		return;
	}
	if (hp_remote_firewall(c->hp) == NOISE_FIREWALL_UNKNOWN ||
	    !c->has_rtoken) {	/* 9f */
		if (c->probes < HP_PROBE_ROUNDS) {
			client_hp_send(c, false);
			return;
		}
		if (hp_remote_firewall(c->hp) == NOISE_FIREWALL_UNKNOWN) {
			/* 9g */
			punch_failed(c, "the server's firewall stayed "
			    "unknown");
			return;
		}
	}
	hp_freeze(c->hp);	/* step 11 */
	log_debug("connect: client: punch round: our firewall %d, the "
	    "server's %d", hp_firewall(c->hp), hp_remote_firewall(c->hp));
	client_hp_send(c, true);
}

static void
client_hp_timer(struct hn_timer *t)
{
	struct conn *c = container_of(t, struct conn, hp_timer);

	conn_hold(c);
	client_hp_next(c);
	conn_release(c);
}

static void
client_hp_cb(void *arg, int err, const struct dht_reply *r)
{
	struct conn_ticket *t = arg;
	struct hn_addr to = t->to;
	struct conn *c = ticket_done(t);
	struct holepunch_payload pl;
	struct peer_holepunch m;
	int e;

	if (c == NULL || c->dead || c->state == CONN_S_OPEN || c->hp == NULL)
		return;
	conn_hold(c);
	if (err != 0 || r->value == NULL || !addr_eq(&r->from, &to) ||
	    peer_holepunch_decode(&m, r->value, r->value_len) != 0 ||
	    m.mode != PEER_MODE_REPLY || m.payload == NULL) {
		punch_failed(c, err != 0 ? "no PEER_HOLEPUNCH reply" :
		    "bad PEER_HOLEPUNCH reply");
		goto out;
	}
	if (holepunch_payload_open(&pl, c->res.holepunch_secret, m.payload,
	    m.payload_len) != 0) {
		conn_close(c, -EPROTO);		/* HOLEPUNCH_INVALID */
		goto out;
	}
	if (pl.error != NOISE_ERROR_NONE) {
		/* REMOTE_ABORTED */
		punch_failed(c, "the server aborted");
		goto out;
	}
	hp_remote_update(c->hp, &pl, NULL);
	hp_add_sample(c->hp, &r->to, &r->from);
	if (log_get_level() >= LOG_LVL_DEBUG) {
		char pb[HN_ADDR_STRLEN], tb[HN_ADDR_STRLEN];

		log_debug("connect: client: holepunch reply (phase %d): server "
		    "firewall %d, punching %d, %zu addresses, token %d, peer "
		    "%s, we are %s", c->hp_phase, (int)pl.firewall,
		    (int)pl.punching, (size_t)pl.naddresses, (int)pl.has_token,
		    m.has_peer ? addr_format(&m.peer, pb) : "-",
		    addr_format(&r->to, tb));
	}
	if (pl.has_token) {
		c->has_rtoken = true;
		memcpy(c->rtoken, pl.token, 32);
	}
	/* 9h: the server's puncher as the node saw it */
	if (m.has_peer && !addr_eq(&m.peer, &c->server_addr)) {
		c->server_addr = m.peer;
		hp_send_probe(c->hp, &c->server_addr, true);
	}
	hp_remote_add(c->hp, &c->server_addr, false);
	if (c->hp_phase == 1) {
		c->probes++;
		if (hp_remote_firewall(c->hp) == NOISE_FIREWALL_UNKNOWN)
			hn_timer_after(nio(c->node), &c->hp_timer, 1000);
		else
			client_hp_next(c);
		goto out;
	}
	if (!hp_remote_punching(c->hp)) {
		/* REMOTE_NOT_HOLEPUNCHING */
		punch_failed(c, "the server is not punching");
		goto out;
	}
	if ((e = hp_punch(c->hp)) != 0 && e != -EALREADY)
		/* REMOTE_NOT_HOLEPUNCHABLE */
		punch_failed(c, "no strategy applies");
out:
	conn_release(c);
}

/* §7.6 step 8-9: create the puncher and run the probe round. */
static bool
client_punch(struct conn *c, const struct dht_reply *r,
    const struct noise_payload *p2, const struct hn_addr *server)
{
	size_t i;

	if ((c->hp = hp_start(c, true, (int)p2->firewall)) == NULL)
		return false;
	c->server_addr = *server;
	c->hp_id = p2->holepunch_id;
	c->srelay = p2->relays[0];
	for (i = 0; i < p2->nrelays; i++)
		if (addr_eq(&p2->relays[i].relay, &r->from))
			c->srelay = p2->relays[i];
	hn_timer_init(&c->hp_timer, client_hp_timer);
	hn_timer_after(nio(c->node), &c->timer, PUNCH_TIMEOUT_MS);
	hp_send_probe(c->hp, server, true);
	client_hp_send(c, false);
	return true;
}

/* A REPLY arrived: finish Noise and pick the data path (§5.3, §7.6). */
static void
client_on_reply(struct conn *c, const struct dht_reply *r,
    const struct peer_handshake *m)
{
	struct conn_node *n = c->node;
	struct noise_payload *p2;
	struct hn_addr server, to;
	uint8_t *pbuf;
	size_t plen;
	uint32_t caps;
	bool relayed, holepunchable;

	if ((p2 = malloc(sizeof(*p2))) == NULL ||
	    (pbuf = malloc(m->noise_len)) == NULL) {
		free(p2);
		conn_close(c, -ENOMEM);
		return;
	}
	if (noise_ik_read(&c->hs, m->noise, m->noise_len, pbuf, m->noise_len,
	    &plen) != 0 || conn_ext_decode(p2, &caps, pbuf, plen) != 0 ||
	    noise_ik_split(&c->hs, &c->res) != 0) {
		conn_close(c, -EPROTO);
		goto out;
	}
	noise_ik_wipe(&c->hs);
	/* §5.3 step 3 */
	if (p2->version != 1 || p2->error != NOISE_ERROR_NONE || !p2->has_udx) {
		conn_close(c, -ECONNREFUSED);
		goto out;
	}
	c->remote_caps = caps;
	c->remote_id = (uint32_t)p2->udx_id;
	c->has_remote_id = true;
	c->state = CONN_S_WAIT;
	relayed = m->has_peer;
	server = relayed ? m->peer : r->from;
	holepunchable = p2->has_holepunch && p2->nrelays > 0;
	if (log_get_level() >= LOG_LVL_DEBUG) {
		char sb[HN_ADDR_STRLEN], tb[HN_ADDR_STRLEN];

		log_debug("connect: client: handshake reply from %s: server %s,"
		    " firewall %d, %s, %zu addresses, we are %s",
		    relayed ? "a relaying node" : "the server",
		    addr_format(&server, sb), (int)p2->firewall,
		    holepunchable ? "holepunchable" : "not holepunchable",
		    (size_t)p2->naddr4, addr_format(&r->to, tb));
	}
	hn_timer_cancel(nio(n), &c->timer);
	hn_timer_init(&c->timer, conn_timer_cb);
	conn_hold(c);
	if (c->use_relay) {
		/* §6.3 step 3 / connect.js: pair through the relay, in
		 * parallel with the paths below */
		relay_start(c);
		hn_timer_after(nio(n), &c->timer, PUNCH_TIMEOUT_MS);
	}
	if (udx_stream_is_connected(c->stream)) {
		/* step 1: the server reached us first (firewall hook) */
	} else if (!relayed) {
		c->path = CONN_PATH_DIRECT;	/* step 2 */
		conn_stream_connected(c, n->cfg.sock, &server);
	} else if (p2->firewall == NOISE_FIREWALL_OPEN || !holepunchable) {
		to = server_open_addr(p2, &server);	/* step 4 */
		c->path = CONN_PATH_DIRECT;
		conn_stream_connected(c, n->cfg.sock, &to);
	} else if (node_public(n, NULL)) {
		hn_timer_after(nio(n), &c->timer, SERVER_WAIT_MS); /* step 5 */
	} else if (!c->no_lan && memcmp(r->to.ip, server.ip, 4) == 0 &&
	    lan_match(n, p2, &to)) {
		c->path = CONN_PATH_LAN;	/* step 6, as 6.5.1: at once */
		conn_stream_connected(c, n->cfg.sock, &to);
	} else if (!client_punch(c, r, p2, &server) && !c->use_relay) {
		/* no puncher (no socket factory) and no relay: the server's
		 * address as its relay sees it (open / full-cone servers) */
		c->path = CONN_PATH_DIRECT;
		conn_stream_connected(c, n->cfg.sock, &server);
	}
	conn_release(c);
out:
	sodium_memzero(pbuf, m->noise_len);
	free(pbuf);
	free(p2);
}

static void
client_hs_cb(void *arg, int err, const struct dht_reply *r)
{
	struct conn_ticket *t = arg;
	struct hn_addr to = t->to;
	struct conn *c = ticket_done(t);
	struct peer_handshake m;

	if (c == NULL || c->dead)
		return;
	c->inflight--;
	conn_hold(c);
	if (c->state == CONN_S_HANDSHAKE && err == 0 && r->value != NULL &&
	    addr_eq(&r->from, &to) &&
	    peer_handshake_decode(&m, r->value, r->value_len) == 0 &&
	    m.mode == PEER_MODE_REPLY && m.noise != NULL && m.noise_len > 0)
		client_on_reply(c, r, &m);
	if (!c->dead && c->state == CONN_S_HANDSHAKE)
		client_send_next(c);
	conn_release(c);
}

/* Send msg1 to the next candidates; fail when nothing is left. */
static void
client_send_next(struct conn *c)
{
	struct conn_node *n = c->node;
	struct dht_request_opts o;
	struct conn_ticket *t;
	uint8_t val[MSG_MAX + 32];
	struct peer_handshake m;
	size_t vlen;

	memset(&m, 0, sizeof(m));
	m.mode = PEER_MODE_FROM_CLIENT;
	m.noise = c->msg1;
	m.noise_len = c->msg1_len;
	if (peer_handshake_encode(&m, val, sizeof(val), &vlen) != 0) {
		conn_close(c, -EPROTO);
		return;
	}
	while (c->inflight < HS_INFLIGHT && c->nsent < c->ncand) {
		if ((t = ticket_new(c, &c->cand[c->nsent])) == NULL)
			break;
		memset(&o, 0, sizeof(o));
		o.to = c->cand[c->nsent++];
		o.command = DHT_CMD_PEER_HANDSHAKE;
		o.target = c->target;
		o.value = val;
		o.value_len = vlen;
		o.has_value = true;
		o.retries = -1;
		o.sock = -1;
		if (dht_request(n->cfg.dht, &o, client_hs_cb, t) != 0) {
			ticket_done(t);
			continue;
		}
		c->inflight++;
	}
	if (c->inflight == 0 && c->lookup_done && c->nsent >= c->ncand)
		/* found, but nobody answered: the firewall said no (§5.4) */
		conn_close(c, c->found ? -ECONNREFUSED : -EHOSTUNREACH);
}

static void
client_on_peer(void *arg, const struct dht_reply *r,
    const struct cenc_peer *peers, size_t npeers)
{
	struct conn_ticket *t = arg;
	struct conn *c = t->c;
	size_t i;

	if (c == NULL || c->dead || c->state != CONN_S_HANDSHAKE ||
	    npeers == 0)
		return;
	c->found = true;
	for (i = 0; i < c->ncand; i++)
		if (addr_eq(&c->cand[i], &r->from))
			return;
	if (c->ncand == HS_CANDIDATES)
		return;
	c->cand[c->ncand++] = r->from;
	conn_hold(c);
	client_send_next(c);
	conn_release(c);
}

static void
client_on_lookup_done(void *arg, int err)
{
	struct conn *c = ticket_done(arg);

	if (c == NULL || c->dead)
		return;
	c->lookup_done = true;
	if (c->state != CONN_S_HANDSHAKE)
		return;
	conn_hold(c);
	client_send_next(c);
	conn_release(c);
}

static void
conn_fail_later(struct conn *c, int err)
{
	c->defer_err = err;
	hn_timer_init(&c->defer, conn_defer_cb);
	hn_timer_after(nio(c->node), &c->defer, 0);
}

struct conn *
conn_connect(struct conn_node *n, const struct conn_connect_opts *o,
    const struct conn_ops *ops, void *arg)
{
	struct conn *c;
	struct noise_payload *p1;
	struct conn_ticket *t;
	uint8_t *pbuf;
	size_t plen;
	int err = -ENOMEM;

	if ((c = conn_alloc(n)) == NULL)
		return NULL;
	c->initiator = true;
	c->handed = true;
	c->ops = ops;
	c->arg = arg;
	c->kp = o->kp ? *o->kp : n->kp;
	c->reusable = o->reusable_socket;
	c->no_lan = o->no_local_connection;
	if (o->nrelay_through > 0 && o->relay_through != NULL) {
		c->use_relay = true;
		c->relay_initiator = true;
		memcpy(c->relay_pk, o->relay_through[0], 32);
		hn_random(nio(n), c->relay_token, 32);
	}
	memcpy(c->remote_pk, o->remote_pk, 32);
	keys_hash(c->target, o->remote_pk, 32);
	hn_timer_init(&c->timer, conn_timer_cb);
	hn_timer_after(nio(n), &c->timer,
	    o->timeout_ms ? o->timeout_ms : CONNECT_TIMEOUT_MS);
	p1 = calloc(1, sizeof(*p1));
	plen = noise_payload_max_size() + CONN_EXT_MAX;
	pbuf = malloc(plen);
	c->msg1 = malloc(MSG_MAX);
	if (p1 == NULL || pbuf == NULL || c->msg1 == NULL)
		goto fail;
	if ((err = stream_create(c)) != 0)
		goto fail;
	/* §4.1 */
	p1->firewall = node_public(n, NULL) ? NOISE_FIREWALL_OPEN :
	    NOISE_FIREWALL_UNKNOWN;
	fill_addresses(n, p1);
	if (c->no_lan)
		p1->naddr4 = p1->firewall == NOISE_FIREWALL_OPEN ? 1 : 0;
	p1->has_udx = true;
	p1->udx_version = 1;
	p1->udx_reusable = o->reusable_socket;
	p1->udx_id = c->local_id;
	p1->has_secret_stream = true;
	p1->secret_stream_version = 1;
	if (c->use_relay) {
		/* §4.1, §9 step 1 */
		p1->has_relay_through = true;
		p1->relay_through_version = 1;
		memcpy(p1->relay_through_pk, c->relay_pk, 32);
		memcpy(p1->relay_through_token, c->relay_token, 32);
	}
	err = -EINVAL;
	if (conn_ext_encode(p1, n->cfg.caps, pbuf, plen, &plen) != 0 ||
	    noise_ik_init(&c->hs, true, &c->kp, o->remote_pk) != 0 ||
	    noise_ik_write(&c->hs, pbuf, plen, c->msg1, MSG_MAX,
	    &c->msg1_len) != 0)
		goto fail;
	err = -ENOMEM;
	if ((t = ticket_new(c, NULL)) == NULL)
		goto fail;
	if ((err = dht_find_peer(n->cfg.dht, o->remote_pk, client_on_peer,
	    client_on_lookup_done, t)) != 0) {
		ticket_done(t);
		goto fail;
	}
	free(p1);
	free(pbuf);
	return c;
fail:
	free(p1);
	free(pbuf);
	conn_fail_later(c, err);
	return c;
}

/* ------------------------------------------------------------ relay server */

/* One relay-side UDX stream (§9 step 4). */
struct rstream {
	struct udx_stream	*s;
	uint32_t		 remote_id;
};

static int
rs_firewall(struct udx_stream *s, void *arg, int sock,
    const struct hn_addr *from)
{
	struct rstream *rs = arg;

	/* the peer's first packet tells where it is */
	if (!udx_stream_is_connected(s) && from->port != 0)
		(void)udx_stream_connect(s, sock, rs->remote_id, from);
	return 0;
}

static void
rs_on_close(struct udx_stream *s, void *arg, int err)
{
	((struct rstream *)arg)->s = NULL;
}

static const struct udx_stream_ops rs_ops = {
	.on_close = rs_on_close,
	.firewall = rs_firewall,
};

static int
rsrv_create_stream(void *arg, struct relay_session *sess, uint64_t remote_id,
    void **stream, uint64_t *local_id)
{
	struct conn_node *n = arg;
	struct rstream *rs;
	uint32_t id;
	int i, err = -EEXIST;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return -ENOMEM;
	rs->remote_id = (uint32_t)remote_id;
	for (i = 0; i < 64 && err == -EEXIST; i++) {
		hn_random(nio(n), &id, sizeof(id));
		if (id != 0)
			err = udx_stream_new(n->cfg.udx, id, &rs_ops, rs, &rs->s);
	}
	if (err != 0) {
		free(rs);
		return err;
	}
	*stream = rs;
	*local_id = id;
	return 0;
}

static void
rsrv_link(void *arg, void *a, void *b)
{
	struct rstream *ra = a, *rb = b;

	if (ra->s != NULL && rb->s != NULL) {
		(void)udx_stream_relay_to(ra->s, rb->s);
		(void)udx_stream_relay_to(rb->s, ra->s);
	}
}

static void
rsrv_destroy_stream(void *arg, void *stream)
{
	struct rstream *rs = stream;

	if (rs->s != NULL)
		udx_stream_destroy(rs->s);
	free(rs);
}

static int
rsess_send(void *arg, const uint8_t *msg, size_t len)
{
	return conn_write(arg, msg, len);
}

static void
rsess_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	if (relay_session_input(arg, buf, len) != 0)
		conn_destroy(c);
}

static void
rsess_close(struct conn *c, int err, void *arg)
{
	relay_session_free(arg);
}

static const struct conn_ops rsess_ops = {
	.on_data = rsess_data,
	.on_close = rsess_close,
};

static void
relay_accept(struct conn_server *s, struct conn *c, void *arg)
{
	struct conn_node *n = arg;
	struct relay_session *sess;

	sess = relay_server_accept(n->relay_srv, conn_remote_key(c),
	    rsess_send, c);
	if (sess == NULL) {
		conn_set_ops(c, NULL, NULL);
		return;		/* closes on its own when the peer gives up */
	}
	conn_set_ops(c, &rsess_ops, sess);
}

int
conn_node_serve_relay(struct conn_node *n, const struct keypair *kp)
{
	struct relay_server_cbs cbs;

	if (!n->cfg.serve_relay)
		return -EPERM;
	if (n->relay_srv != NULL)
		return -EALREADY;
	memset(&cbs, 0, sizeof(cbs));
	cbs.create_stream = rsrv_create_stream;
	cbs.link = rsrv_link;
	cbs.destroy_stream = rsrv_destroy_stream;
	cbs.arg = n;
	if ((n->relay_srv = relay_server_new(&cbs)) == NULL)
		return -ENOMEM;
	if ((n->relay_listen = conn_listen(n, kp, NULL, relay_accept, n)) ==
	    NULL) {
		relay_server_free(n->relay_srv);
		n->relay_srv = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ node */

static void
node_raw(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct conn_node *n = arg;

	struct conn *c;

	/* §8.2: <= 1 byte is a holepunch probe, never dht-rpc; only
	 * puncher sockets take them */
	if (len <= 1) {
		for (c = n->conns; c != NULL; c = c->next) {
			if (c->dead || c->hp == NULL || !hp_owns(c->hp, sock))
				continue;
			conn_hold(c);
			(void)hp_input(c->hp, sock, from, buf, len);
			conn_release(c);
			return;
		}
		return;
	}
	dht_input(n->cfg.dht, sock, from, buf, len);
}

struct conn_node *
conn_node_new(const struct conn_node_config *cfg)
{
	struct conn_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->cfg = *cfg;
	if (n->cfg.nlocal_addrs > 8)
		n->cfg.nlocal_addrs = 8;
	n->throttle.enabled = true;
	if (keys_generate(&n->kp) != 0) {
		free(n);
		return NULL;
	}
	udx_set_raw_handler(cfg->udx, node_raw, n);
	return n;
}

void
conn_node_free(struct conn_node *n)
{
	struct conn_server *s;
	struct conn *c;

	if (n == NULL)
		return;
	n->relay_listen = NULL;		/* freed with the other servers */
	while ((s = n->servers) != NULL) {
		n->servers = s->next;
		server_free(s);
	}
	while ((c = n->conns) != NULL) {
		if (!c->dead) {
			conn_close(c, -ECANCELED);
			continue;
		}
		/* held by a callback frame that cannot return now */
		n->conns = c->next;
		c->busy = 0;
		conn_free(c);
	}
	relay_server_free(n->relay_srv);
	udx_set_raw_handler(n->cfg.udx, NULL, NULL);
	keys_wipe(&n->kp);
	free(n);
}

void
conn_node_addresses_changed(struct conn_node *n, const struct hn_addr *local,
    size_t nlocal)
{
	if (nlocal > 8)
		nlocal = 8;
	memcpy(n->cfg.local_addrs, local, nlocal * sizeof(*local));
	n->cfg.nlocal_addrs = nlocal;
}

/* ------------------------------------------------------------ conn API */

void
conn_set_ops(struct conn *c, const struct conn_ops *ops, void *arg)
{
	c->ops = ops;
	c->arg = arg;
}

int
conn_write(struct conn *c, const void *buf, size_t len)
{
	int err;

	if (c->dead || c->ended_local)
		return -EPIPE;
	if (c->state != CONN_S_OPEN || c->ss == NULL)
		return -ENOTCONN;
	if (len == 0)
		return 0;	/* an empty frame is a keep-alive */
	if ((err = secretstream_write(c->ss, buf, len)) == 0) {
		c->st.bytes_out += len;
	}
	return err;
}

bool
conn_writable(const struct conn *c)
{
	return !c->dead && c->stream != NULL && c->state == CONN_S_OPEN &&
	    udx_stream_writable(c->stream);
}

int
conn_end(struct conn *c)
{
	if (c->dead || c->ended_local)
		return -EPIPE;
	if (c->state != CONN_S_OPEN)
		return -ENOTCONN;
	c->ended_local = true;
	secretstream_end(c->ss);
	return udx_stream_end(c->stream);
}

int
conn_send_raw(struct conn *c, const void *buf, size_t len)
{
	int err;

	if (c->dead)
		return -EPIPE;
	if (c->state != CONN_S_OPEN)
		return -ENOTCONN;
	if (len > 2028)
		return -EMSGSIZE;
	if ((err = udx_stream_send(c->stream, buf, len)) == 0)
		c->st.dgrams_out++;
	return err;
}

int
conn_send_secure(struct conn *c, const void *buf, size_t len)
{
	uint8_t out[2048];
	size_t olen;
	int err;

	if (c->dead)
		return -EPIPE;
	if (c->state != CONN_S_OPEN)
		return -ENOTCONN;
	if (len + SECRETSTREAM_BOX_OVERHEAD > 2028)
		return -EMSGSIZE;
	if ((err = secretstream_box_message(c->ss, buf, len, out, sizeof(out),
	    &olen)) != 0)
		return err;
	if ((err = udx_stream_send(c->stream, out, olen)) == 0)
		c->st.dgrams_out++;
	return err;
}

size_t
conn_max_datagram(const struct conn *c, bool secure)
{
	struct udx_stream_info info;
	size_t m = UDX_MAX_MESSAGE;

	if (c->stream != NULL) {
		udx_stream_get_info(c->stream, &info);
		if (info.mtu > UDX_IPV4_OVERHEAD &&
		    info.mtu - UDX_IPV4_OVERHEAD > m)
			m = info.mtu - UDX_IPV4_OVERHEAD;
	}
	return secure ? m - SECRETSTREAM_BOX_OVERHEAD : m;
}

void
conn_destroy(struct conn *c)
{
	if (c == NULL || c->dead)
		return;
	conn_close(c, c->ended_local && c->ended_remote ? 0 : -ECANCELED);
}

const uint8_t *
conn_remote_key(const struct conn *c)
{
	return c->remote_pk;
}

uint32_t
conn_remote_caps(const struct conn *c)
{
	return c->remote_caps;
}

enum conn_path
conn_path(const struct conn *c)
{
	return c->state == CONN_S_OPEN ? c->path : CONN_PATH_NONE;
}

void
conn_remote_addr(const struct conn *c, struct hn_addr *out)
{
	*out = c->remote_addr;
}

uint32_t
conn_rtt_us(const struct conn *c)
{
	struct udx_stream_info info;

	if (c->stream == NULL)
		return 0;
	udx_stream_get_info(c->stream, &info);
	return info.srtt_us;
}

void
conn_get_stats(const struct conn *c, struct conn_stats *st)
{
	*st = c->st;
}

/*
 * node.c - the daemon's network node: evio + UDX + the DHT (node.h)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <netinet/in.h>

#include "config.h"
#include "evio.h"
#include "log.h"
#include "netmon.h"
#include "node.h"
#include "daemon/connect/conn.h"
#include "daemon/dht/dht.h"
#include "daemon/udx/udx.h"

#define NODE_POLL_S	5.0	/* how often the status is compared */

struct node {
	struct ev_loop	*loop;
	struct evio	*e;
	struct hn_io	*io;
	struct udx	*udx;
	struct dht	*dht;
	int		 ssock, csock;
	struct hn_addr	 bind;		/* dht.host:dht.port as configured */
	struct hn_addr	 server;	/* as bound */
	uint16_t	 client_port;
	const char	*mode;
	uint32_t	 nbootstrap;
	struct hn_addr	 local[NODE_LOCAL_MAX];
	size_t		 nlocal;
	node_change_fn	*on_change;
	void		*arg;
	node_addr_fn	*addr_fn;
	void		*addr_arg;
	ev_timer	 poll;
	struct node_status last;
};

/* ------------------------------------------------------------ helpers */

static uint64_t
wall_ms(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
ip_any(const uint8_t ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] == 0;
}

/* ------------------------------------------------------------ datagrams */

static void
node_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct node *n = arg;

	udx_socket_input(n->udx, sock, from, buf, len);
}

/* Not UDX for a live stream: the DHT's (until conn_node takes over). */
static void
node_raw(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct node *n = arg;

	if (n->dht)
		dht_input(n->dht, sock, from, buf, len);
}

static void
node_batch(void *arg)
{
	udx_flush(arg);
}

/* ------------------------------------------------------------ status */

static bool
status_differs(const struct node_status *a, const struct node_status *b)
{
	return a->bootstrapped != b->bootstrapped ||
	    a->persistent != b->persistent || a->firewalled != b->firewalled ||
	    a->has_public != b->has_public || a->table_size != b->table_size ||
	    (a->has_public && !addr_eq(&a->public_addr, &b->public_addr));
}

/* Log what changed in words, then tell the owner. */
static void
node_check(struct node *n)
{
	struct node_status st;
	char pub[HN_ADDR_STRLEN];

	node_get_status(n, &st);
	if (!status_differs(&st, &n->last))
		return;
	if (st.bootstrapped && !n->last.bootstrapped)
		log_notice("dht: bootstrapped, %u node%s in the table",
		    st.table_size, st.table_size == 1 ? "" : "s");
	if (st.persistent != n->last.persistent)
		log_notice("dht: now %s", st.persistent ? "persistent" :
		    "ephemeral");
	if (st.firewalled != n->last.firewalled)
		log_info("dht: %s", st.firewalled ? "firewalled" :
		    "reachable (not firewalled)");
	if (st.has_public && (!n->last.has_public ||
	    !addr_eq(&st.public_addr, &n->last.public_addr)))
		log_info("dht: public address %s",
		    addr_format(&st.public_addr, pub));
	n->last = st;
	if (n->on_change)
		n->on_change(n->arg);
}

static void
poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	node_check(container_of(w, struct node, poll));
}

static void
on_ready(struct dht *d, void *arg)
{
	struct node *n = arg;

	/*
	 * From dht_input or a timer; or from dht_new() itself for a node with
	 * nobody to ask, before n->dht is set: then the first poll, as soon as
	 * the loop runs, reports it.
	 */
	node_check(n);
}

/* ------------------------------------------------------------ sockets */

/*
 * Bind the server socket on dht.host:dht.port and the client socket on
 * dht.host:0.  Returns 0 or -errno with err filled.
 */
static int
node_bind(struct node *n, char *err)
{
	struct hn_addr a = n->bind;
	char buf[HN_ADDR_STRLEN];
	int rc;

	if ((rc = evio_udp_bind(n->e, &a, node_recv, n)) < 0) {
		snprintf(err, NODE_ERR_LEN, "dht: cannot bind udp %s: %s",
		    addr_format(&a, buf), strerror(-rc));
		return rc;
	}
	n->ssock = rc;
	a.port = 0;
	if ((rc = evio_udp_bind(n->e, &a, node_recv, n)) < 0) {
		snprintf(err, NODE_ERR_LEN, "dht: cannot bind udp %s: %s",
		    addr_format(&a, buf), strerror(-rc));
		return rc;
	}
	n->csock = rc;
	(void)evio_udp_local(n->e, n->ssock, &n->server);
	(void)evio_udp_local(n->e, n->csock, &a);
	n->client_port = a.port;
	return 0;
}

static int
sock_open(void *arg)
{
	struct node *n = arg;
	struct hn_addr a = n->bind;

	a.port = 0;
	return evio_udp_bind(n->e, &a, node_recv, n);
}

static void
sock_close(void *arg, int sock)
{
	struct node *n = arg;

	evio_udp_close(n->e, sock);
}

/* ------------------------------------------------------------ lifecycle */

/* The dht config from ours; 0 or -EINVAL with err filled. */
static int
node_dht_config(struct node *n, const struct config *cfg,
    struct dht_config *dc, char *err)
{
	size_t i;

	memset(dc, 0, sizeof(*dc));
	dc->server_sock = n->ssock;
	dc->client_sock = n->csock;
	dc->server_port = n->server.port;
	for (i = 0; i < cfg->bootstrap.n && i < DHT_BOOTSTRAP_MAX; i++)
		dc->bootstrap[i] = cfg->bootstrap.addr[i];
	dc->nbootstrap = i;
	if (cfg->bootstrap.n > DHT_BOOTSTRAP_MAX)
		log_warnx("dht: only the first %d bootstrap nodes are used",
		    DHT_BOOTSTRAP_MAX);
	dc->wall_ms = wall_ms;
	dc->on_ready = on_ready;
	dc->arg = n;
	switch (cfg->dht_mode) {
	case DHT_MODE_EPHEMERAL:
		dc->no_adaptive = true;
		n->mode = "ephemeral";
		break;
	case DHT_MODE_PERSISTENT:
		dc->persistent = true;
		n->mode = "persistent";
		if (cfg->dht_port == 0 || cfg->bootstrap.n > 0)
			break;
		/* DESIGN.md §5: the first node of a private network */
		if (ip_any(cfg->dht_host)) {
			snprintf(err, NODE_ERR_LEN, "dht: a bootstrap node "
			    "(mode persistent, port %u, no bootstrap nodes) "
			    "needs dht.host: the address other nodes reach it "
			    "at", cfg->dht_port);
			return -EINVAL;
		}
		dc->bootstrapper = true;
		dc->public_addr = n->server;
		n->mode = "bootstrap";
		break;
	default:
		n->mode = "auto";
		break;
	}
	n->nbootstrap = (uint32_t)dc->nbootstrap;
	return 0;
}

static void	node_set_local(struct node *n, const struct hn_addr *local,
		    size_t nlocal);

struct node *
node_new(struct ev_loop *loop, const struct config *cfg,
    node_change_fn *on_change, void *arg, char *err)
{
	struct hn_addr local[NODE_LOCAL_MAX];
	struct dht_config dc;
	struct node *n;
	char buf[HN_ADDR_STRLEN];

	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto nomem;
	n->loop = loop;
	n->on_change = on_change;
	n->arg = arg;
	n->ssock = n->csock = -1;
	memcpy(n->bind.ip, cfg->dht_host, 4);
	n->bind.port = cfg->dht_port;
	if ((n->e = evio_new(loop)) == NULL)
		goto nomem;
	n->io = evio_io(n->e);
	if ((n->udx = udx_new(n->io)) == NULL)
		goto nomem;
	udx_set_raw_handler(n->udx, node_raw, n);
	evio_set_batch_cb(n->e, node_batch, n->udx);
	if (node_bind(n, err) < 0)
		goto fail;
	if (node_dht_config(n, cfg, &dc, err) < 0)
		goto fail;
	node_set_local(n, local, netmon_local_addrs(local, NODE_LOCAL_MAX));
	if ((n->dht = dht_new(n->io, &dc)) == NULL)
		goto nomem;
	if (dc.nbootstrap == 0 && !dc.bootstrapper)
		log_warnx("dht: no bootstrap nodes: this node stays alone "
		    "until others bootstrap from it");
	log_info("dht: %s node on udp %s (client port %u), %zu bootstrap "
	    "node%s", n->mode, addr_format(&n->server, buf), n->client_port,
	    dc.nbootstrap, dc.nbootstrap == 1 ? "" : "s");
	n->last.firewalled = true;	/* as every node starts */
	/* the first check as soon as the loop runs, after READY=1 */
	ev_timer_init(&n->poll, poll_cb, 0., NODE_POLL_S);
	ev_timer_start(loop, &n->poll);
	return n;
nomem:
	snprintf(err, NODE_ERR_LEN, "dht: out of memory");
fail:
	node_free(n);
	return NULL;
}

void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	if (n->loop)
		ev_timer_stop(n->loop, &n->poll);
	dht_free(n->dht);
	n->dht = NULL;
	if (n->e)
		evio_flush(n->e);
	udx_free(n->udx);
	evio_free(n->e);
	free(n);
}

/* ------------------------------------------------------------ status */

void
node_get_status(const struct node *n, struct node_status *st)
{
	memset(st, 0, sizeof(*st));
	st->mode = n->mode;
	st->server = n->server;
	st->client_port = n->client_port;
	st->nbootstrap = n->nbootstrap;
	if (n->dht == NULL)
		return;
	st->bootstrapped = dht_is_bootstrapped(n->dht);
	st->persistent = dht_is_persistent(n->dht);
	st->firewalled = dht_is_firewalled(n->dht);
	st->has_public = dht_public_addr(n->dht, &st->public_addr);
	st->table_size = (uint32_t)dht_get_table(n->dht)->size;
}

void
node_state_line(const struct node *n, char *buf, size_t cap)
{
	struct node_status st;

	node_get_status(n, &st);
	snprintf(buf, cap, "%s, %u node%s, %s%s",
	    st.bootstrapped ? "bootstrapped" : "bootstrapping",
	    st.table_size, st.table_size == 1 ? "" : "s",
	    st.persistent ? "persistent" : "ephemeral",
	    st.firewalled ? ", firewalled" : "");
}

/* ------------------------------------------------------------ changes */

static bool
addr_listed(const uint8_t ip[4], const struct hn_addr *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].ip, ip, 4) == 0)
			return true;
	return false;
}

/*
 * Our LAN candidates for the connect layer: the machine's addresses with
 * the server socket's port (a peer behind the same NAT connects there, the
 * reference's addresses4), only the bound one when bound to one.
 */
static void
node_set_local(struct node *n, const struct hn_addr *local, size_t nlocal)
{
	size_t i;

	n->nlocal = 0;
	for (i = 0; i < nlocal && n->nlocal < NODE_LOCAL_MAX; i++) {
		if (!ip_any(n->bind.ip) &&
		    memcmp(n->bind.ip, local[i].ip, 4) != 0)
			continue;
		n->local[n->nlocal] = local[i];
		n->local[n->nlocal++].port = n->server.port;
	}
}

void
node_addresses_changed(struct node *n, const struct hn_addr *local,
    size_t nlocal)
{
	if (nlocal > NODE_LOCAL_MAX)
		nlocal = NODE_LOCAL_MAX;
	node_set_local(n, local, nlocal);
	/*
	 * A socket bound to a concrete address that went away receives
	 * nothing more; it comes back when the address does, and the kernel
	 * keeps the binding meanwhile, so there is nothing to rebind: say so.
	 * Sockets on 0.0.0.0 follow every address by themselves.
	 */
	if (!ip_any(n->bind.ip) && n->bind.ip[0] != 127 &&
	    !addr_listed(n->bind.ip, local, nlocal))
		log_warnx("dht: bound address %u.%u.%u.%u is gone; the node "
		    "is unreachable until it comes back", n->bind.ip[0],
		    n->bind.ip[1], n->bind.ip[2], n->bind.ip[3]);
	log_info("dht: local addresses changed (%zu); re-learning the public "
	    "address and re-announcing", nlocal);
	if (n->dht) {
		struct hn_addr pub;

		dht_network_changed(n->dht);
		/* logged again once replies have re-taught it (node_check) */
		if (!dht_public_addr(n->dht, &pub) && n->last.has_public) {
			log_info("dht: public address forgotten until replies "
			    "show it again");
			n->last.has_public = false;
		}
	}
	if (n->addr_fn)
		n->addr_fn(n->addr_arg, n->local, n->nlocal);
}

/* ------------------------------------------------------------ seam */

struct hn_io *
node_io(struct node *n)
{
	return n->io;
}

struct udx *
node_udx(struct node *n)
{
	return n->udx;
}

struct dht *
node_dht(struct node *n)
{
	return n->dht;
}

int
node_server_sock(const struct node *n)
{
	return n->ssock;
}

int
node_client_sock(const struct node *n)
{
	return n->csock;
}

void
node_conn_config(struct node *n, struct conn_node_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->io = n->io;
	c->udx = n->udx;
	c->dht = n->dht;
	c->sock = n->ssock;
	c->sock_open = sock_open;
	c->sock_close = sock_close;
	c->sock_arg = n;
	for (i = 0; i < n->nlocal && i < NODE_LOCAL_MAX; i++)
		c->local_addrs[i] = n->local[i];
	c->nlocal_addrs = i;
}

void
node_set_addr_hook(struct node *n, node_addr_fn *fn, void *arg)
{
	n->addr_fn = fn;
	n->addr_arg = arg;
}

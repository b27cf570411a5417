/*
 * tunnel.c - tcp, udp and tcpudp tunnels on libev and struct conn
 *
 * A struct tunnel is one definition (export or import).  A struct session
 * is one peer connection and the local side it serves: a TCP socket, a
 * connected UDP socket (udp export) or a source address on the import's
 * shared UDP socket (udp import).  Sessions hang off their tunnel in a
 * doubly linked list; libev watchers are embedded and recovered with
 * container_of().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <ev.h>
#include <sodium.h>

#include "daemon/config.h"
#include "base58.h"
#include "log.h"
#include "daemon/connect/conn.h"
#include "tunnel.h"

#define READ_CHUNK	65536
#define DGRAM_MAX	65536

struct tunnel_layer {
	struct tunnel_config	 cfg;
	struct tunnel		*tunnels;
};

struct session;

struct tunnel {
	struct tunnel_layer	*l;
	struct tunnel		*next, *prev;
	struct tundef		 def;
	char			 name[TUN_NAME_LEN];
	char			 keyname[40];
	struct keypair		 kp;		/* export: the service key pair */
	bool			 derived;	/* kp and svc_pk are set */
	uint8_t			 svc_pk[KEYS_PK_LEN];
	/* export */
	struct conn_server	*srv;
	ev_timer		 retry;
	unsigned		 listen_attempts;
	/* import: the local listener (tcp, tcpudp) or socket (udp) */
	int			 lfd;
	ev_io			 lio;
	struct hn_addr		 laddr;
	struct session		*sessions;
	struct tunnel_stats	 st;
};

struct session {
	struct tunnel		*t;
	struct session		*next, *prev;
	struct conn		*c;
	bool			 open;		/* on_open ran, c still alive */
	bool			 secure;	/* datagrams as secure messages */
	enum conn_path		 path;		/* counted in t->st.by_path */
	int			 fd;		/* -1 for udp import sessions */
	bool			 connecting;	/* local TCP connect pending */
	bool			 local_eof, peer_eof, shut_wr;
	ev_io			 rio, wio;
	ev_timer		 retry;		/* import: reconnect */
	ev_timer		 idle;		/* udp import */
	ev_timer		 ka;		/* keep-alive */
	ev_timer		 grace;		/* tcpudp: END after the data */
	bool			 local_end_pending, peer_end_pending;
	ev_tstamp		 last_local;	/* udp import: last datagram */
	bool			 sent_since_ka;
	unsigned		 attempts;
	struct hn_addr		 src;		/* udp import: the local source */
	struct tunq		 tosock;	/* bytes for the local TCP socket */
	struct tunq		 pend;		/* udp import: datagrams before open */
};

static const char *const path_names[TUN_NPATHS] = {
	"none", "lan", "direct", "punched", "relayed",
};

static void	session_close(struct session *s, int err);
static void	session_connect(struct session *s);

static bool
proto_has_dgrams(enum tun_proto p)
{
	return p == TUN_UDP || p == TUN_TCPUDP;
}

static struct ev_loop *
loop_of(const struct tunnel *t)
{
	return t->l->cfg.loop;
}

/* ------------------------------------------------------------ counters */

static void
count_open(struct session *s)
{
	struct tunnel_stats *st = &s->t->st;

	s->path = conn_path(s->c);
	if ((unsigned)s->path >= TUN_NPATHS)
		s->path = CONN_PATH_NONE;
	st->conns_open++;
	st->conns_total++;
	st->by_path[s->path]++;
}

static void
count_closed(struct session *s)
{
	struct tunnel_stats *st = &s->t->st;

	if (!s->open)
		return;
	s->open = false;
	st->conns_open--;
	st->by_path[s->path]--;
}

/* ------------------------------------------------------------ datagrams */

/* One datagram to the peer: never cut, counted when dropped. */
static void
send_dgram(struct session *s, const uint8_t *buf, size_t len)
{
	struct tunnel_stats *st = &s->t->st;
	size_t max;
	int r;

	if (!s->open) {
		if (tunq_push_dgram(&s->pend, buf, len) != 0)
			st->drops_queue++;
		return;
	}
	max = conn_max_datagram(s->c, s->secure);
	if (len > max) {
		st->drops_too_big++;
		return;
	}
	r = s->secure ? conn_send_secure(s->c, buf, len) :
	    conn_send_raw(s->c, buf, len);
	if (r == -EMSGSIZE) {
		st->drops_too_big++;
		return;
	}
	if (r < 0) {
		st->drops_queue++;
		return;
	}
	st->dgrams_out++;
	st->dgrams_out_secure += s->secure;
	st->bytes_out += len;
	s->sent_since_ka = true;
}

/* spec/hypernat-app.md §6 #3: one chunk per message, cut to what fits. */
static void
send_chunks(struct session *s, const uint8_t *buf, size_t len)
{
	size_t max = TUN_TCPUDP_CHUNK, n;

	if (s->open && conn_max_datagram(s->c, s->secure) < max)
		max = conn_max_datagram(s->c, s->secure);
	if (max == 0) {
		s->t->st.drops_too_big++;
		return;
	}
	while (len > 0) {
		n = len < max ? len : max;
		send_dgram(s, buf, n);
		buf += n;
		len -= n;
	}
}

static void
flush_pending(struct session *s)
{
	uint8_t buf[DGRAM_MAX];
	int n;

	while (tunq_len(&s->pend) > 0) {
		n = tunq_pop_dgram(&s->pend, buf, sizeof(buf));
		if (n < 0)
			continue;
		send_dgram(s, buf, (size_t)n);
	}
}

/* ------------------------------------------------------------ local TCP */

static void
sock_maybe_shut(struct session *s)
{
	if (s->peer_eof && !s->shut_wr && tunq_len(&s->tosock) == 0 &&
	    s->fd >= 0 && !s->connecting) {
		shutdown(s->fd, SHUT_WR);
		s->shut_wr = true;
	}
	/* Both halves done and the peer connection gone: finished. */
	if (s->c == NULL && tunq_len(&s->tosock) == 0)
		session_close(s, 0);
}

/* Queue bytes for the local TCP socket and write what it takes now. */
static void
sock_write(struct session *s, const uint8_t *buf, size_t len)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	if (s->shut_wr) {	/* tcpudp data after the END it followed */
		s->t->st.drops_local++;
		return;
	}
	if (tunq_push(&s->tosock, buf, len) != 0) {
		log_warnx("tunnel %s: local socket too slow, closing session",
		    s->t->name);
		s->t->st.drops_queue++;
		session_close(s, -ENOBUFS);
		return;
	}
	if (s->connecting || s->fd < 0)
		return;
	while ((p = tunq_peek(&s->tosock, &n)) != NULL) {
		w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			session_close(s, -errno);
			return;
		}
		tunq_consume(&s->tosock, (size_t)w);
	}
	if (tunq_len(&s->tosock) > 0)
		ev_io_start(loop_of(s->t), &s->wio);
}

static void
start_reading(struct session *s)
{
	if (s->fd >= 0 && !s->connecting && !s->local_eof && s->open)
		ev_io_start(loop_of(s->t), &s->rio);
}

static void
on_sock_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = container_of(w, struct session, wio);
	const uint8_t *p;
	socklen_t sl = sizeof(int);
	int err = 0;
	size_t n;
	ssize_t r;

	if (s->connecting) {
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err != 0) {
			log_info("tunnel %s: local connect: %s", s->t->name,
			    strerror(err));
			session_close(s, -err);
			return;
		}
		s->connecting = false;
		start_reading(s);
	}
	while ((p = tunq_peek(&s->tosock, &n)) != NULL) {
		r = send(s->fd, p, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			session_close(s, -errno);
			return;
		}
		tunq_consume(&s->tosock, (size_t)r);
	}
	ev_io_stop(loop, w);
	sock_maybe_shut(s);
}

/*
 * tcpudp carries data as datagrams and the END on the reliable stream, so
 * an END may arrive before the last datagrams (spec/hypernat-app.md §5.3):
 * both ways, the END is acted on only after a grace of two RTTs (100 ms to
 * 2 s).
 */
static void
grace_start(struct session *s)
{
	double g = s->c ? 2e-6 * conn_rtt_us(s->c) : 0;

	g = g < 0.1 ? 0.1 : g > 2 ? 2 : g;
	ev_timer_stop(loop_of(s->t), &s->grace);
	ev_timer_set(&s->grace, g, 0);
	ev_timer_start(loop_of(s->t), &s->grace);
}

static void
on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, grace);

	if (s->local_end_pending) {
		s->local_end_pending = false;
		if (s->c)
			conn_end(s->c);
	}
	if (s->peer_end_pending) {
		s->peer_end_pending = false;
		s->peer_eof = true;
		sock_maybe_shut(s);	/* may free s */
	}
}

static void
on_sock_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = container_of(w, struct session, rio);
	struct tunnel *t = s->t;
	uint8_t buf[READ_CHUNK];
	ssize_t r;

	if (t->def.proto == TUN_UDP) {
		/* udp export: a connected UDP socket towards the service */
		for (int i = 0; i < 64; i++) {
			r = recv(s->fd, buf, sizeof(buf), MSG_TRUNC);
			if (r < 0) {
				if (errno == ECONNREFUSED)
					t->st.drops_local++;
				break;
			}
			if ((size_t)r > sizeof(buf)) {
				t->st.drops_too_big++;
				continue;
			}
			send_dgram(s, buf, (size_t)r);
		}
		return;
	}
	r = recv(s->fd, buf, sizeof(buf), 0);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug("tunnel %s: local read: %s", t->name,
		    strerror(errno));
		session_close(s, -errno);
		return;
	}
	if (r == 0) {
		s->local_eof = true;
		ev_io_stop(loop, w);
		if (t->def.proto == TUN_TCPUDP) {
			/* spec §5.3: END on the stream overtakes datagrams */
			s->local_end_pending = true;
			grace_start(s);
		} else if (s->c)
			conn_end(s->c);
		return;
	}
	if (t->def.proto == TUN_TCPUDP) {
		send_chunks(s, buf, (size_t)r);
		return;
	}
	if (conn_write(s->c, buf, (size_t)r) < 0) {
		session_close(s, -EPIPE);
		return;
	}
	t->st.bytes_out += (size_t)r;
	s->sent_since_ka = true;
	if (!conn_writable(s->c))
		ev_io_stop(loop, w);	/* on_drain resumes */
}

/* Non-blocking TCP connect to the export's host:port. */
static int
session_connect_local(struct session *s)
{
	struct tunnel *t = s->t;
	struct hn_addr a;
	struct sockaddr_in sin;
	int fd, one = 1;

	memcpy(a.ip, t->def.host, 4);
	a.port = t->def.port;
	addr_to_sockaddr(&a, &sin);
	fd = socket(AF_INET, (t->def.proto == TUN_UDP ? SOCK_DGRAM :
	    SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (t->def.proto != TUN_UDP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	ev_io_init(&s->rio, on_sock_readable, fd, EV_READ);
	ev_io_init(&s->wio, on_sock_writable, fd, EV_WRITE);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		s->connecting = true;
		ev_io_start(loop_of(t), &s->wio);
	}
	return 0;
}

/* ------------------------------------------------------------ sessions */

static void
on_ka(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, ka);

	/* spec/hypernat-app.md §6 #9: an empty frame keeps the path open. */
	if (s->open && !s->sent_since_ka && !s->peer_eof && !s->local_eof)
		conn_write(s->c, "", 0);
	s->sent_since_ka = false;
}

static void
on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, idle);
	struct tunnel_layer *l = s->t->l;
	ev_tstamp idle = (l->cfg.udp_idle_ms ? l->cfg.udp_idle_ms :
	    TUNNEL_UDP_IDLE_MS) / 1000.0;
	ev_tstamp left = s->last_local + idle - ev_now(loop);

	if (left > 0.001) {
		/* not idle long enough yet: fire again when it would be
		 * (ev_timer_again: the watcher may be active here) */
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	log_debug("tunnel %s: udp session idle, closing", s->t->name);
	session_close(s, 0);
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, retry);

	session_connect(s);
}

static struct session *
session_new(struct tunnel *t)
{
	unsigned max = t->l->cfg.max_sessions ? t->l->cfg.max_sessions :
	    TUNNEL_SESSIONS_MAX;
	struct session *s;

	if (t->st.sessions >= max) {
		if (t->st.sessions_refused++ == 0)
			log_warnx("tunnel %s: %u sessions, refusing more",
			    t->name, max);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->t = t;
	s->fd = -1;
	tunq_init(&s->tosock, TUNNEL_SOCK_QUEUE_MAX);
	tunq_init(&s->pend, TUNNEL_DGRAM_QUEUE_MAX);
	ev_timer_init(&s->retry, on_retry, 0, 0);
	ev_timer_init(&s->idle, on_idle, 0, 0);
	ev_timer_init(&s->ka, on_ka, 0, 0);
	ev_timer_init(&s->grace, on_grace, 0, 0);
	s->next = t->sessions;
	if (t->sessions)
		t->sessions->prev = s;
	t->sessions = s;
	t->st.sessions++;
	return s;
}

/* Close everything of `s` and free it; callers return right after. */
static void
session_close(struct session *s, int err)
{
	struct tunnel *t = s->t;
	struct ev_loop *loop = loop_of(t);
	struct conn *c = s->c;

	if (c) {
		s->c = NULL;
		count_closed(s);
		conn_destroy(c);	/* our on_close sees s->c == NULL */
	}
	ev_io_stop(loop, &s->rio);
	ev_io_stop(loop, &s->wio);
	ev_timer_stop(loop, &s->retry);
	ev_timer_stop(loop, &s->idle);
	ev_timer_stop(loop, &s->ka);
	ev_timer_stop(loop, &s->grace);
	if (s->fd >= 0)
		close(s->fd);
	tunq_free(&s->tosock);
	tunq_free(&s->pend);
	if (s->prev)
		s->prev->next = s->next;
	else
		t->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	t->st.sessions--;
	free(s);
}

/* ------------------------------------------------------------ conn ops */

static void
on_conn_open(struct conn *c, void *arg)
{
	struct session *s = arg;
	struct tunnel *t = s->t;
	struct tunnel_layer *l = t->l;
	double ka;

	s->open = true;
	s->attempts = 0;
	count_open(s);
	if (proto_has_dgrams(t->def.proto)) {
		s->secure = l->cfg.secure_dgrams &&
		    (conn_remote_caps(c) & CONN_CAP_SECURE_DGRAM);
		if (!s->secure && l->cfg.plaintext == PLAINTEXT_REFUSE) {
			log_notice("tunnel %s: peer offers no secure "
			    "datagrams, refused (plaintext_datagrams: refuse)",
			    t->name);
			t->st.conns_refused++;
			session_close(s, -EPROTO);
			return;
		}
	}
	log_info("tunnel %s: connection open (%s%s)", t->name,
	    path_names[s->path], !proto_has_dgrams(t->def.proto) ? "" :
	    s->secure ? ", encrypted datagrams" : ", plaintext datagrams");
	ka = (l->cfg.keepalive_ms ? l->cfg.keepalive_ms :
	    TUNNEL_KEEPALIVE_MS) / 1000.0;
	ev_timer_set(&s->ka, ka, ka);
	ev_timer_start(loop_of(t), &s->ka);
	flush_pending(s);
	start_reading(s);
}

static void
on_conn_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	struct session *s = arg;

	/* The reliable stream carries data only for tcp; elsewhere it
	 * carries keep-alives and nothing else. */
	if (s->t->def.proto != TUN_TCP || len == 0)
		return;
	s->t->st.bytes_in += len;
	sock_write(s, buf, len);
}

static void
on_conn_end(struct conn *c, void *arg)
{
	struct session *s = arg;

	if (s->t->def.proto == TUN_TCPUDP) {
		s->peer_end_pending = true;
		grace_start(s);
		return;
	}
	s->peer_eof = true;
	if (s->fd < 0) {	/* udp import: nothing to half-close */
		conn_end(c);
		return;
	}
	if (s->t->def.proto == TUN_UDP) {	/* hyper-nat: end -> close */
		if (!s->local_eof) {
			s->local_eof = true;
			conn_end(c);
		}
		return;
	}
	sock_maybe_shut(s);
}

static void
on_conn_datagram(struct conn *c, const uint8_t *buf, size_t len,
    bool secure, void *arg)
{
	struct session *s = arg;
	struct tunnel *t = s->t;
	struct sockaddr_in sin;

	if (s->secure && !secure) {
		/* Secure peers never send raw: a third party on the path. */
		t->st.drops_plaintext++;
		return;
	}
	switch (t->def.proto) {
	case TUN_TCP:
		t->st.drops_local++;
		return;
	case TUN_TCPUDP:
		t->st.dgrams_in++;
		t->st.bytes_in += len;
		sock_write(s, buf, len);
		return;
	case TUN_UDP:
		break;
	}
	t->st.dgrams_in++;
	t->st.bytes_in += len;
	if (s->fd >= 0) {
		if (send(s->fd, buf, len, MSG_DONTWAIT) < 0)
			t->st.drops_local++;
		return;
	}
	addr_to_sockaddr(&s->src, &sin);
	if (sendto(t->lfd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0)
		t->st.drops_local++;
}

static void
on_conn_drain(struct conn *c, void *arg)
{
	start_reading(arg);
}

static void
on_conn_path(struct conn *c, void *arg)
{
	struct session *s = arg;
	enum conn_path p = conn_path(c);

	if (!s->open || (unsigned)p >= TUN_NPATHS)
		return;
	s->t->st.by_path[s->path]--;
	s->path = p;
	s->t->st.by_path[p]++;
}

static void
schedule_retry(struct session *s)
{
	uint32_t rnd = randombytes_random();
	double d = tun_backoff_ms(s->attempts++, rnd) / 1000.0;

	ev_timer_set(&s->retry, d, 0);
	ev_timer_start(loop_of(s->t), &s->retry);
}

static void
on_conn_close(struct conn *c, int err, void *arg)
{
	struct session *s = arg;
	struct tunnel *t = s->t;
	bool was_open = s->open;

	if (s->c == NULL)	/* session_close() destroyed it */
		return;
	s->c = NULL;
	count_closed(s);
	ev_timer_stop(loop_of(t), &s->ka);
	if (err != 0 && err != -ECANCELED)
		t->st.conns_failed++;
	if (err == -ECONNREFUSED)
		t->st.conns_refused++;
	if (t->def.kind == TUN_IMPORT && err != 0) {
		unsigned max = t->l->cfg.tcp_attempts ?
		    t->l->cfg.tcp_attempts : TUNNEL_TCP_ATTEMPTS;

		/* udp: the session lives on while local datagrams come;
		 * tcp: a stream that never opened may be tried again,
		 * unless the exporter refused us (allow-list, policy). */
		if (t->def.proto == TUN_UDP || (!was_open &&
		    err != -ECONNREFUSED && s->attempts + 1 < max)) {
			log_info("tunnel %s: connection failed (%s), retrying",
			    t->name, strerror(-err));
			schedule_retry(s);
			return;
		}
		log_info("tunnel %s: connection failed (%s)", t->name,
		    strerror(-err));
	}
	if (t->def.kind == TUN_IMPORT && t->def.proto == TUN_UDP) {
		/* a clean close of a udp session: reopen when the next local
		 * datagram comes (import_udp_read()), or now for queued ones */
		if (tunq_len(&s->pend) > 0)
			schedule_retry(s);
		return;
	}
	if (s->peer_end_pending) {	/* nothing more can arrive now */
		s->peer_end_pending = false;
		s->peer_eof = true;
	}
	if (err == 0 && s->fd >= 0 && tunq_len(&s->tosock) > 0) {
		sock_maybe_shut(s);	/* flush first, then close */
		return;
	}
	session_close(s, err);
}

static const struct conn_ops session_ops = {
	.on_open = on_conn_open,
	.on_data = on_conn_data,
	.on_end = on_conn_end,
	.on_datagram = on_conn_datagram,
	.on_drain = on_conn_drain,
	.on_path = on_conn_path,
	.on_close = on_conn_close,
};

/* Import: open (or re-open) the peer connection of `s`. */
static void
session_connect(struct session *s)
{
	struct tunnel *t = s->t;
	struct conn_connect_opts o;

	if (t->l->cfg.node == NULL) {
		/* no node attached yet (tunnel_layer_attach()): wait */
		ev_timer_set(&s->retry, 0.5, 0);
		ev_timer_start(loop_of(t), &s->retry);
		return;
	}
	memset(&o, 0, sizeof(o));
	memcpy(o.remote_pk, t->svc_pk, KEYS_PK_LEN);
	o.kp = t->l->cfg.client;
	o.reusable_socket = t->def.proto == TUN_TCP;	/* spec §4 */
	s->c = conn_connect(t->l->cfg.node, &o, &session_ops, s);
	if (s->c == NULL) {
		log_warnx("tunnel %s: out of memory connecting", t->name);
		if (t->def.proto == TUN_UDP)
			schedule_retry(s);
		else
			session_close(s, -ENOMEM);
	}
}

/* ------------------------------------------------------------ exports */

static int
export_firewall(void *arg, const uint8_t remote_pk[32],
    const struct hn_addr *remote)
{
	struct tunnel *t = arg;
	size_t i;

	if (t->def.nallow == 0)
		return 0;
	for (i = 0; i < t->def.nallow; i++)
		if (sodium_memcmp(t->def.allow[i], remote_pk, 32) == 0)
			return 0;
	t->st.conns_refused++;
	return -1;
}

/* For a connection refused right after accept: nothing to do. */
static void refuse_open(struct conn *c, void *arg) { }
static void refuse_data(struct conn *c, const uint8_t *b, size_t n,
    void *arg) { }
static void refuse_end(struct conn *c, void *arg) { }
static void refuse_dgram(struct conn *c, const uint8_t *b, size_t n,
    bool secure, void *arg) { }
static void refuse_close(struct conn *c, int err, void *arg) { }

static const struct conn_ops refuse_ops = {
	.on_open = refuse_open,
	.on_data = refuse_data,
	.on_end = refuse_end,
	.on_datagram = refuse_dgram,
	.on_drain = refuse_open,
	.on_path = refuse_open,
	.on_close = refuse_close,
};

static void
export_accept(struct conn_server *srv, struct conn *c, void *arg)
{
	struct tunnel *t = arg;
	struct session *s;
	int r;

	if ((s = session_new(t)) == NULL) {
		conn_set_ops(c, &refuse_ops, NULL);
		conn_destroy(c);
		return;
	}
	s->c = c;
	conn_set_ops(c, &session_ops, s);
	if ((r = session_connect_local(s)) != 0) {
		log_info("tunnel %s: local service: %s", t->name,
		    strerror(-r));
		session_close(s, r);
	}
}

static void export_listen(struct tunnel *t);

static void
on_export_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	export_listen(container_of(w, struct tunnel, retry));
}

static void
export_listen(struct tunnel *t)
{
	struct tunnel_layer *l = t->l;

	if (l->cfg.node == NULL || l->cfg.base == NULL)
		return;		/* tunnel_layer_attach() calls again */
	if (!t->derived) {
		if (keys_derive(&t->kp, l->cfg.base, t->keyname,
		    strlen(t->keyname)) != 0) {
			log_warnx("tunnel %s: cannot derive the key", t->name);
			return;
		}
		memcpy(t->svc_pk, t->kp.pk, KEYS_PK_LEN);
		t->derived = true;
	}
	t->srv = conn_listen(l->cfg.node, &t->kp, export_firewall,
	    export_accept, t);
	if (t->srv == NULL) {
		double d = tun_backoff_ms(t->listen_attempts++,
		    randombytes_random()) / 1000.0;

		log_warnx("tunnel %s: listen failed, retrying in %.1f s",
		    t->name, d);
		ev_timer_set(&t->retry, d, 0);
		ev_timer_start(loop_of(t), &t->retry);
		return;
	}
	t->listen_attempts = 0;
}

/* ------------------------------------------------------------ imports */

static void
import_tcp_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel *t = container_of(w, struct tunnel, lio);
	struct session *s;
	int fd, one = 1;

	for (int i = 0; i < 32; i++) {
		fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("tunnel %s: accept", t->name);
			return;
		}
		if ((s = session_new(t)) == NULL) {
			close(fd);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->fd = fd;
		ev_io_init(&s->rio, on_sock_readable, fd, EV_READ);
		ev_io_init(&s->wio, on_sock_writable, fd, EV_WRITE);
		session_connect(s);
	}
}

static struct session *
udp_session_find(struct tunnel *t, const struct hn_addr *src)
{
	struct session *s;

	for (s = t->sessions; s; s = s->next)
		if (addr_eq(&s->src, src))
			return s;
	return NULL;
}

static void
import_udp_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel *t = container_of(w, struct tunnel, lio);
	uint8_t buf[DGRAM_MAX];
	struct sockaddr_in sin;
	socklen_t sl;
	struct hn_addr src;
	struct session *s;
	ssize_t r;
	double idle;

	for (int i = 0; i < 64; i++) {
		sl = sizeof(sin);
		r = recvfrom(t->lfd, buf, sizeof(buf), MSG_TRUNC,
		    (struct sockaddr *)&sin, &sl);
		if (r < 0)
			return;
		addr_from_sockaddr(&src, &sin);
		if ((size_t)r > sizeof(buf)) {
			t->st.drops_too_big++;
			continue;
		}
		/* spec §6 #6: one peer connection per local source */
		if ((s = udp_session_find(t, &src)) == NULL) {
			if ((s = session_new(t)) == NULL) {
				t->st.drops_queue++;
				continue;
			}
			s->src = src;
			idle = (t->l->cfg.udp_idle_ms ? t->l->cfg.udp_idle_ms :
			    TUNNEL_UDP_IDLE_MS) / 1000.0;
			ev_timer_set(&s->idle, idle, idle);
			ev_timer_start(loop, &s->idle);
			session_connect(s);
		}
		s->last_local = ev_now(loop);
		if (s->c == NULL && !ev_is_active(&s->retry)) {
			/* closed cleanly earlier: reopen on demand */
			if (s->attempts == 0)
				session_connect(s);
			else
				schedule_retry(s);
		}
		send_dgram(s, buf, (size_t)r);
	}
}

static int
import_bind(struct tunnel *t)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	bool udp = t->def.proto == TUN_UDP;
	int fd, one = 1, r;

	fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!udp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr_to_sockaddr(&t->def.listen, &sin);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (!udp && listen(fd, 128) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	addr_from_sockaddr(&t->laddr, &sin);
	t->lfd = fd;
	ev_io_init(&t->lio, udp ? import_udp_read : import_tcp_accept, fd,
	    EV_READ);
	ev_io_start(loop_of(t), &t->lio);
	return 0;
}

/* ------------------------------------------------------------ tunnels */

/* "export udp/7913", "import tcp/443 from KEY" (as tundef_name()). */
static void
tunnel_name(const struct tundef *d, char *buf, size_t cap)
{
	char key[BASE58_ENCODED_SIZE(KEYS_PK_LEN)] = "";

	if (d->kind == TUN_IMPORT)
		base58_encode(key, sizeof(key), d->peer, KEYS_PK_LEN);
	snprintf(buf, cap, "%s %s/%u%s%s",
	    d->kind == TUN_EXPORT ? "export" : "import",
	    tunutil_proto_name(d->proto), d->port,
	    d->kind == TUN_IMPORT ? " from " : "", key);
}

int
tunnel_start_named(struct tunnel_layer *l, const struct tundef *def,
    const char *keyname, struct tunnel **out)
{
	struct tunnel *t;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->l = l;
	t->def = *def;
	t->lfd = -1;
	tunnel_name(def, t->name, sizeof(t->name));
	if (keyname)
		r = snprintf(t->keyname, sizeof(t->keyname), "%s", keyname);
	else
		r = snprintf(t->keyname, sizeof(t->keyname), "%s%u",
		    tunutil_proto_name(def->proto), def->port);
	if (r < 0 || (size_t)r >= sizeof(t->keyname)) {
		free(t);
		return -EINVAL;
	}
	ev_timer_init(&t->retry, on_export_retry, 0, 0);
	if (def->kind == TUN_EXPORT) {
		r = 0;
		if (l->cfg.base != NULL) {	/* else at tunnel_layer_attach() */
			r = keys_derive(&t->kp, l->cfg.base, t->keyname,
			    strlen(t->keyname));
			memcpy(t->svc_pk, t->kp.pk, KEYS_PK_LEN);
			t->derived = r == 0;
		}
	} else {
		r = keys_derive_public(t->svc_pk, def->peer, t->keyname,
		    strlen(t->keyname));
		if (r == 0)
			r = import_bind(t);
	}
	if (r != 0) {
		keys_wipe(&t->kp);
		free(t);
		return r;
	}
	if (def->kind == TUN_EXPORT)
		export_listen(t);
	t->next = l->tunnels;
	if (l->tunnels)
		l->tunnels->prev = t;
	l->tunnels = t;
	*out = t;
	return 0;
}

void
tunnel_stop(struct tunnel *t)
{
	struct tunnel_layer *l;

	if (t == NULL)
		return;
	l = t->l;
	if (t->srv)
		conn_server_close(t->srv);
	ev_timer_stop(loop_of(t), &t->retry);
	if (t->lfd >= 0) {
		ev_io_stop(loop_of(t), &t->lio);
		close(t->lfd);
	}
	while (t->sessions)
		session_close(t->sessions, -ECANCELED);
	if (t->prev)
		t->prev->next = t->next;
	else
		l->tunnels = t->next;
	if (t->next)
		t->next->prev = t->prev;
	keys_wipe(&t->kp);
	free(t);
}

void
tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *st)
{
	*st = t->st;
}

const uint8_t *
tunnel_service_key(const struct tunnel *t)
{
	return t->svc_pk;
}

int
tunnel_local_addr(const struct tunnel *t, struct hn_addr *out)
{
	if (t->lfd < 0)
		return -ENOTCONN;
	*out = t->laddr;
	return 0;
}

size_t
tunnel_peers(const struct tunnel *t, struct tunnel_peer *out, size_t cap)
{
	const struct session *s;
	struct conn_stats cs;
	struct sockaddr_in sin;
	socklen_t sl;
	size_t n = 0;

	for (s = t->sessions; s; s = s->next) {
		struct tunnel_peer *p;

		if (!s->open || s->c == NULL)
			continue;
		if (n++ >= cap)
			continue;
		p = &out[n - 1];
		memset(p, 0, sizeof(*p));
		memcpy(p->remote_pk, conn_remote_key(s->c), KEYS_PK_LEN);
		p->path = conn_path(s->c);
		conn_remote_addr(s->c, &p->remote);
		p->rtt_us = conn_rtt_us(s->c);
		p->secure = s->secure;
		conn_get_stats(s->c, &cs);
		p->bytes_in = cs.bytes_in;
		p->bytes_out = cs.bytes_out;
		p->dgrams_in = cs.dgrams_in;
		p->dgrams_out = cs.dgrams_out;
		p->drops = cs.dgram_drops;
		if (s->fd < 0) {
			p->local = s->src;
			continue;
		}
		sl = sizeof(sin);
		if (getpeername(s->fd, (struct sockaddr *)&sin, &sl) == 0)
			addr_from_sockaddr(&p->local, &sin);
	}
	return n;
}

void
tunnel_state(const struct tunnel *t, char *buf, size_t cap)
{
	char head[64], a[HN_ADDR_STRLEN];

	if (t->def.kind == TUN_EXPORT)
		snprintf(head, sizeof(head), "%s", t->srv ? "listening" :
		    t->l->cfg.node == NULL ? "waiting for the node" :
		    "listen failed, retrying");
	else
		snprintf(head, sizeof(head), "listening on %s",
		    addr_format(&t->laddr, a));
	tun_state_format(buf, cap, head, &t->st, path_names);
}

struct tunnel_layer *
tunnel_layer_new(const struct tunnel_config *cfg)
{
	struct tunnel_layer *l = calloc(1, sizeof(*l));

	if (l)
		l->cfg = *cfg;
	return l;
}

void
tunnel_layer_free(struct tunnel_layer *l)
{
	if (l == NULL)
		return;
	while (l->tunnels)
		tunnel_stop(l->tunnels);
	free(l);
}

void
tunnel_layer_attach(struct tunnel_layer *l, struct conn_node *node,
    const struct keypair *base, const struct keypair *client)
{
	struct tunnel *t;

	l->cfg.node = node;
	l->cfg.base = base;
	l->cfg.client = client;
	for (t = l->tunnels; t; t = t->next)
		if (t->def.kind == TUN_EXPORT && t->srv == NULL &&
		    !ev_is_active(&t->retry))
			export_listen(t);
}

void
tunnel_layer_set_policy(struct tunnel_layer *l, int plaintext)
{
	l->cfg.plaintext = plaintext;
}

/* ------------------------------------------------------------ tuntab_ops */

static int
ops_start(void *ctx, const struct tundef *def, void **handle)
{
	struct tunnel *t;
	int r = tunnel_start_named(ctx, def, NULL, &t);

	*handle = t;
	return r;
}

static void
ops_stop(void *ctx, void *handle)
{
	tunnel_stop(handle);
}

static void
ops_state(void *ctx, void *handle, char *buf, size_t cap)
{
	tunnel_state(handle, buf, cap);
}

static void
ops_stats(void *ctx, void *handle, struct tun_stats *out)
{
	struct tunnel_stats st;

	tunnel_get_stats(handle, &st);
	out->bytes_in = st.bytes_in;
	out->bytes_out = st.bytes_out;
	out->dgrams_in = st.dgrams_in;
	out->dgrams_out = st.dgrams_out;
	out->drops = tunnel_stats_drops(&st);
	out->conns_total = st.conns_total;
	out->conns_open = st.conns_open;
}

static size_t
ops_peers(void *ctx, void *handle, struct tun_peer *out, size_t cap)
{
	struct tunnel_peer tp[64];
	size_t n = tunnel_peers(handle, tp, cap < 64 ? cap : 64), i;

	for (i = 0; i < n && i < cap && i < 64; i++) {
		memcpy(out[i].remote_pk, tp[i].remote_pk, KEYS_PK_LEN);
		snprintf(out[i].path, sizeof(out[i].path), "%s",
		    conn_path_name((enum conn_path)tp[i].path));
		out[i].remote = tp[i].remote;
		out[i].local = tp[i].local;
		out[i].rtt_us = tp[i].rtt_us;
		out[i].secure = tp[i].secure;
		out[i].bytes_in = tp[i].bytes_in;
		out[i].bytes_out = tp[i].bytes_out;
		out[i].dgrams_in = tp[i].dgrams_in;
		out[i].dgrams_out = tp[i].dgrams_out;
		out[i].drops = tp[i].drops;
	}
	return n;
}

const struct tuntab_ops tunnel_ops = {
	.start = ops_start,
	.stop = ops_stop,
	.state = ops_state,
	.stats = ops_stats,
	.peers = ops_peers,
};

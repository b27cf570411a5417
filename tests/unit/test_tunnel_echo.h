/*
 * test_tunnel_echo.h - what the tunnel tests run around the tunnels: a
 * libev loop runner, local TCP (with half-close) and UDP echo services on
 * 127.0.0.1, a TCP client that checks an echo by hash, UDP clients that
 * send bursts and collect the echoes (included by test_tunnel*.c)
 */
#ifndef TEST_TUNNEL_ECHO_H
#define TEST_TUNNEL_ECHO_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>
#include <sodium.h>

#include "addr.h"
#include "harness.h"
#include "io.h"

#define TT_FN	static __attribute__((unused))

TT_FN void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

TT_FN void
run_for(double secs, bool (*done)(void *), void *arg)
{
	ev_tstamp end;

	ev_now_update(EV_DEFAULT);
	end = ev_now(EV_DEFAULT) + secs;
	while (ev_now(EV_DEFAULT) < end) {
		ev_timer tick;

		if (done && done(arg))
			return;
		ev_timer_init(&tick, on_tick, 0.01, 0);
		ev_timer_start(EV_DEFAULT, &tick);
		ev_run(EV_DEFAULT, EVRUN_ONCE);
		ev_timer_stop(EV_DEFAULT, &tick);
		ev_now_update(EV_DEFAULT);
	}
}

/* Local echo services: TCP (with half-close) and UDP. */
struct echo_tcp {
	int		 fd;
	ev_io		 rio, wio;
	uint8_t		*buf;
	size_t		 len, off;
	bool		 eof;
};

static int tcp_echo_lfd = -1, udp_echo_fd = -1;
static ev_io tcp_echo_lio, udp_echo_io;
static unsigned tcp_echo_accepted;

TT_FN void
echo_tcp_flush(struct echo_tcp *e)
{
	while (e->off < e->len) {
		ssize_t w = send(e->fd, e->buf + e->off, e->len - e->off,
		    MSG_NOSIGNAL);

		if (w <= 0)
			break;
		e->off += (size_t)w;
	}
	if (e->off < e->len)
		ev_io_start(EV_DEFAULT, &e->wio);
	else {
		ev_io_stop(EV_DEFAULT, &e->wio);
		if (e->eof) {
			shutdown(e->fd, SHUT_WR);
			ev_io_stop(EV_DEFAULT, &e->rio);
			close(e->fd);
			free(e->buf);
			free(e);
		}
	}
}

TT_FN void
echo_tcp_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct echo_tcp *e = container_of(w, struct echo_tcp, rio);
	uint8_t buf[65536];
	ssize_t r = recv(e->fd, buf, sizeof(buf), 0);

	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		e->eof = true;
		ev_io_stop(loop, w);
	} else {
		e->buf = realloc(e->buf, e->len + (size_t)r);
		memcpy(e->buf + e->len, buf, (size_t)r);
		e->len += (size_t)r;
	}
	echo_tcp_flush(e);
}

TT_FN void
echo_tcp_write(struct ev_loop *loop, ev_io *w, int revents)
{
	echo_tcp_flush(container_of(w, struct echo_tcp, wio));
}

TT_FN void
echo_tcp_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	int fd = accept4(tcp_echo_lfd, NULL, NULL, SOCK_NONBLOCK);
	struct echo_tcp *e;

	if (fd < 0)
		return;
	tcp_echo_accepted++;
	e = calloc(1, sizeof(*e));
	e->fd = fd;
	ev_io_init(&e->rio, echo_tcp_read, fd, EV_READ);
	ev_io_init(&e->wio, echo_tcp_write, fd, EV_WRITE);
	ev_io_start(loop, &e->rio);
}

TT_FN void
echo_udp_read(struct ev_loop *loop, ev_io *w, int revents)
{
	uint8_t buf[65536];
	struct sockaddr_in from;
	socklen_t sl = sizeof(from);
	ssize_t r;

	while ((r = recvfrom(udp_echo_fd, buf, sizeof(buf), 0,
	    (struct sockaddr *)&from, &sl)) >= 0) {
		sendto(udp_echo_fd, buf, (size_t)r, 0, (struct sockaddr *)&from,
		    sl);
		sl = sizeof(from);
	}
}

TT_FN uint16_t
bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	getsockname(fd, (struct sockaddr *)&sin, &sl);
	return ntohs(sin.sin_port);
}

TT_FN int
loopback_socket(int type, uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM)
		listen(fd, 16);
	return fd;
}

/* Both echo services on one port number (tcp and udp). */
TT_FN uint16_t
echo_start(void)
{
	uint16_t port;

	tcp_echo_lfd = loopback_socket(SOCK_STREAM, 0);
	port = bound_port(tcp_echo_lfd);
	udp_echo_fd = loopback_socket(SOCK_DGRAM, port);
	ev_io_init(&tcp_echo_lio, echo_tcp_accept, tcp_echo_lfd, EV_READ);
	ev_io_init(&udp_echo_io, echo_udp_read, udp_echo_fd, EV_READ);
	ev_io_start(EV_DEFAULT, &tcp_echo_lio);
	ev_io_start(EV_DEFAULT, &udp_echo_io);
	return port;
}

TT_FN void
echo_stop(void)
{
	ev_io_stop(EV_DEFAULT, &tcp_echo_lio);
	ev_io_stop(EV_DEFAULT, &udp_echo_io);
	close(tcp_echo_lfd);
	close(udp_echo_fd);
}

struct tcp_client {
	int		 fd;
	ev_io		 rio, wio;
	const uint8_t	*data;
	size_t		 len, sent;
	uint8_t		*got;
	size_t		 ngot;
	bool		 eof, err;
};

TT_FN void
tc_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_client *t = container_of(w, struct tcp_client, wio);

	while (t->sent < t->len) {
		size_t n = t->len - t->sent;
		ssize_t r;

		if (n > 7000)
			n = 7000;	/* many writes, odd sizes */
		r = send(t->fd, t->data + t->sent, n, MSG_NOSIGNAL);
		if (r <= 0)
			return;
		t->sent += (size_t)r;
	}
	shutdown(t->fd, SHUT_WR);
	ev_io_stop(loop, w);
}

TT_FN void
tc_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_client *t = container_of(w, struct tcp_client, rio);
	uint8_t buf[65536];
	ssize_t r = recv(t->fd, buf, sizeof(buf), 0);

	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		t->eof = true;
		t->err = r < 0;
		ev_io_stop(loop, w);
		return;
	}
	t->got = realloc(t->got, t->ngot + (size_t)r);
	memcpy(t->got + t->ngot, buf, (size_t)r);
	t->ngot += (size_t)r;
}

TT_FN void
tcp_client_start(struct tcp_client *t, const struct hn_addr *to,
    const uint8_t *data, size_t len)
{
	struct sockaddr_in sin;

	memset(t, 0, sizeof(*t));
	t->data = data;
	t->len = len;
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	addr_to_sockaddr(to, &sin);
	connect(t->fd, (struct sockaddr *)&sin, sizeof(sin));
	ev_io_init(&t->rio, tc_read, t->fd, EV_READ);
	ev_io_init(&t->wio, tc_write, t->fd, EV_WRITE);
	ev_io_start(EV_DEFAULT, &t->rio);
	ev_io_start(EV_DEFAULT, &t->wio);
}

TT_FN void
tcp_client_free(struct tcp_client *t)
{
	ev_io_stop(EV_DEFAULT, &t->rio);
	ev_io_stop(EV_DEFAULT, &t->wio);
	close(t->fd);
	free(t->got);
}

TT_FN bool
tc_done(void *arg)
{
	return ((struct tcp_client *)arg)->eof;
}

TT_FN void
hash(uint8_t out[32], const void *p, size_t n)
{
	crypto_generichash(out, 32, p, n, NULL, 0);
}

/* Echo `len` random bytes to `to`; true if intact. */
TT_FN void
check_tcp_echo(const struct hn_addr *to, size_t len)
{
	struct tcp_client t;
	uint8_t *data = malloc(len), h1[32], h2[32];

	randombytes_buf(data, len);
	tcp_client_start(&t, to, data, len);
	run_for(10, tc_done, &t);
	CHECK(t.eof);
	CHECK(!t.err);
	CHECK_UINT(t.ngot, len);
	hash(h1, data, len);
	hash(h2, t.got, t.ngot);
	CHECK_MEM(h2, h1, 32);
	tcp_client_free(&t);
	free(data);
}

TT_FN int
udp_client(void)
{
	return loopback_socket(SOCK_DGRAM, 0);
}

TT_FN void
udp_send(int fd, const struct hn_addr *to, const void *p, size_t n)
{
	struct sockaddr_in sin;

	addr_to_sockaddr(to, &sin);
	sendto(fd, p, n, 0, (struct sockaddr *)&sin, sizeof(sin));
}

struct udp_wait {
	int		 fd;
	unsigned	 want, got;
	uint8_t		 hash_acc[32];	/* XOR of the hashes of what came */
};

TT_FN bool
udp_drain(void *arg)
{
	struct udp_wait *u = arg;
	uint8_t buf[65536], h[32];
	ssize_t r;

	while ((r = recv(u->fd, buf, sizeof(buf), 0)) >= 0) {
		hash(h, buf, (size_t)r);
		for (int i = 0; i < 32; i++)
			u->hash_acc[i] ^= h[i];
		u->got++;
	}
	return u->got >= u->want;
}

TT_FN bool
udp_drain2(void *arg)
{
	struct udp_wait *u = arg;
	bool a = udp_drain(&u[0]), b = udp_drain(&u[1]);

	return a && b;
}

/* Send n datagrams of sizes 1..maxlen from u->fd, remember their hashes. */
TT_FN void
udp_burst(struct udp_wait *u, const struct hn_addr *to, unsigned n,
    uint8_t acc[32], size_t maxlen)
{
	uint8_t buf[2000], h[32];

	for (unsigned i = 0; i < n; i++) {
		size_t len = 1 + (i * 97) % maxlen;

		randombytes_buf(buf, len);
		hash(h, buf, len);
		for (int k = 0; k < 32; k++)
			acc[k] ^= h[k];
		udp_send(u->fd, to, buf, len);
	}
	u->want += n;
}

#endif

/*
 * test_udx_evio.c - the libev adapter with real UDP sockets on 127.0.0.1:
 * timers, batching, GSO/GRO on and off, and a UDX transfer through it
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "daemon/evio.h"
#include "daemon/udx/udx.h"
#include "harness.h"

struct end {
	struct evio		*e;
	struct udx		*u;
	struct udx_stream	*s;
	int			 sock;
	struct hn_addr		 addr;
	uint64_t		 to_send, sent, got, bad;
	bool			 closed;
	int			 err;
	int			 raw;
};

static struct ev_loop *loop;
static int open_streams;

static uint8_t
pat(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 10));
}

static void
feed(struct end *x)
{
	uint8_t buf[8192];
	size_t n, k;

	while (x->s && x->sent < x->to_send && udx_stream_writable(x->s)) {
		n = sizeof(buf);
		if (n > x->to_send - x->sent)
			n = (size_t)(x->to_send - x->sent);
		for (k = 0; k < n; k++)
			buf[k] = pat(x->sent + k);
		udx_stream_write(x->s, buf, n);
		x->sent += n;
	}
	if (x->s && x->sent == x->to_send)
		udx_stream_end(x->s);
}

static void
on_data(struct udx_stream *s, void *arg, const uint8_t *b, size_t len)
{
	struct end *x = arg;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pat(x->got + i) && !x->bad)
			x->bad = x->got + i + 1;
	x->got += len;
}

static void
on_drain(struct udx_stream *s, void *arg)
{
	feed(arg);
}

static void
on_end(struct udx_stream *s, void *arg)
{
	struct end *x = arg;

	if (x->to_send == 0)
		udx_stream_end(s);
}

static void
on_close(struct udx_stream *s, void *arg, int err)
{
	struct end *x = arg;

	x->closed = true;
	x->err = err;
	x->s = NULL;
	if (--open_streams == 0)
		ev_break(loop, EVBREAK_ALL);
}

static const struct udx_stream_ops ops = {
	.on_data = on_data, .on_drain = on_drain, .on_end = on_end,
	.on_close = on_close,
};

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct end *x = arg;

	udx_socket_input(x->u, sock, from, buf, len);
}

static void
on_raw(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct end *x = arg;

	x->raw++;
}

static void
on_batch(void *arg)
{
	struct end *x = arg;

	udx_flush(x->u);
}

static void
on_guard(struct ev_loop *l, ev_timer *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

static void
end_init(struct end *x, bool offload)
{
	struct hn_addr lo = { { 127, 0, 0, 1 }, 0 };

	memset(x, 0, sizeof(*x));
	x->e = evio_new(loop);
	evio_set_offload(x->e, offload, offload);
	x->u = udx_new(evio_io(x->e));
	udx_set_raw_handler(x->u, on_raw, x);
	evio_set_batch_cb(x->e, on_batch, x);
	x->sock = evio_udp_bind(x->e, &lo, on_recv, x);
	CHECK(x->sock >= 0);
	CHECK_INT(evio_udp_local(x->e, x->sock, &x->addr), 0);
	CHECK(x->addr.port != 0);
}

static void
end_free(struct end *x)
{
	udx_free(x->u);
	evio_free(x->e);
}

static void
transfer(bool offload, uint64_t bytes)
{
	struct end a, b;
	ev_timer guard;

	loop = ev_loop_new(0);
	end_init(&a, offload);
	end_init(&b, offload);
	CHECK_INT(udx_stream_new(a.u, 1, &ops, &a, &a.s), 0);
	CHECK_INT(udx_stream_new(b.u, 2, &ops, &b, &b.s), 0);
	CHECK_INT(udx_stream_connect(a.s, a.sock, 2, &b.addr), 0);
	CHECK_INT(udx_stream_connect(b.s, b.sock, 1, &a.addr), 0);
	open_streams = 2;
	a.to_send = bytes;
	feed(&a);
	ev_timer_init(&guard, on_guard, 30, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	CHECK(a.closed && b.closed);
	CHECK_UINT(b.got, bytes);
	CHECK_UINT(b.bad, 0);
	CHECK_INT(a.err, 0);
	CHECK_INT(b.err, 0);
	printf("  offload %d: %llu bytes; a: %llu tx syscalls, %llu gso "
	    "sends; b: %llu datagrams in %llu rx syscalls\n", offload,
	    (unsigned long long)b.got,
	    (unsigned long long)evio_stats(a.e)->tx_syscalls,
	    (unsigned long long)evio_stats(a.e)->tx_gso_sends,
	    (unsigned long long)evio_stats(b.e)->rx_datagrams,
	    (unsigned long long)evio_stats(b.e)->rx_syscalls);
	ev_timer_stop(loop, &guard);
	end_free(&a);
	end_free(&b);
	ev_loop_destroy(loop);
}

static void
transfer_with_offload(void)
{
	transfer(true, 32u << 20);
}

static void
transfer_without_offload(void)
{
	transfer(false, 32u << 20);
}

/* Non-UDX datagrams reach the raw handler; hn_send copies the buffer. */
static void
raw_datagrams(void)
{
	struct end a, b;
	uint8_t msg[5] = "hello";
	ev_timer guard;
	int i;

	loop = ev_loop_new(0);
	end_init(&a, true);
	end_init(&b, true);
	for (i = 0; i < 300; i++) {	/* more than one queue's worth */
		CHECK_INT(hn_send(evio_io(a.e), a.sock, &b.addr, msg, 5), 0);
		msg[0] = 'x';
	}
	ev_timer_init(&guard, on_guard, 0.3, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	CHECK_INT(b.raw, 300);
	CHECK_INT(hn_send(evio_io(a.e), 9, &b.addr, msg, 5), -EBADF);
	end_free(&a);
	end_free(&b);
	ev_loop_destroy(loop);
}

struct tick {
	struct hn_timer	 t;
	struct hn_io	*io;
	int		 n;
};

static void
on_tick(struct hn_timer *t)
{
	struct tick *k = container_of(t, struct tick, t);

	if (++k->n < 3)
		hn_timer_after(k->io, &k->t, 10);
	else
		ev_break(loop, EVBREAK_ALL);
}

static void
timers_fire(void)
{
	struct evio *e;
	struct tick k;
	ev_timer guard;

	loop = ev_loop_new(0);
	e = evio_new(loop);
	k.io = evio_io(e);
	k.n = 0;
	hn_timer_init(&k.t, on_tick);
	hn_timer_after(k.io, &k.t, 10);
	ev_timer_init(&guard, on_guard, 2, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	CHECK_INT(k.n, 3);
	ev_timer_stop(loop, &guard);
	evio_free(e);
	ev_loop_destroy(loop);
}

int
main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(timers_fire),
		TEST(raw_datagrams),
		TEST(transfer_with_offload),
		TEST(transfer_without_offload),
	};

	return harness_main("udx_evio", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

/*
 * io.h - the protocol stack's only view of the world
 *
 * Protocol cores (UDX, DHT, Noise, tunnels) are sans-I/O: they never call
 * the clock, a socket or the event loop themselves.  They are handed a
 * struct hn_io and use it for the current time, sending datagrams, timers
 * and random bytes.  daemon/evio.c implements it on libev; tests/sim/
 * implements it on a virtual clock and an in-memory network, so the same
 * code runs in the daemon and in a deterministic simulation.
 *
 * Received datagrams travel the other way: the adapter calls the core's
 * input function (e.g. udx_socket_input()) with the bytes, source address
 * and socket.
 */
#ifndef HN_IO_H
#define HN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct hn_io;

/*
 * A one-shot timer, embedded in its owner and recovered with container_of().
 * The owner sets `cb` once (hn_timer_init) and arms it with hn_timer_arm();
 * the io implementation owns `due`, `armed` and `slot`.  Arming an armed
 * timer moves it.  The callback runs from the event loop, never from inside
 * hn_timer_arm() or hn_timer_cancel(), and the timer is disarmed by then.
 */
struct hn_timer {
	void		(*cb)(struct hn_timer *t);
	uint64_t	 due;		/* absolute time in ms, while armed */
	size_t		 slot;		/* implementation's bookkeeping */
	bool		 armed;
};

/*
 * The operations.  `ctx` is the implementation's own state.
 *
 * now_ms:       monotonic milliseconds; never goes back.
 * now_us:       the same clock in microseconds (RTT, pacing).
 * send:         send one datagram from socket `sock` (an index the adapter
 *               gave the core) to `to`.  May queue and flush later (sendmmsg)
 *               but copies `buf` before returning.  Returns 0, or -errno;
 *               -EAGAIN/-ENOBUFS mean "dropped, try later", like a lossy
 *               link.
 * timer_arm:    arm `t` to fire at absolute time `due_ms`.
 * timer_cancel: disarm `t`; a no-op when it is not armed.
 * random:       fill `buf` with `len` cryptographically strong (in the
 *               simulation: seeded, reproducible) bytes.
 */
struct hn_io_ops {
	uint64_t	(*now_ms)(void *ctx);
	uint64_t	(*now_us)(void *ctx);
	int		(*send)(void *ctx, int sock, const struct hn_addr *to,
			    const uint8_t *buf, size_t len);
	void		(*timer_arm)(void *ctx, struct hn_timer *t,
			    uint64_t due_ms);
	void		(*timer_cancel)(void *ctx, struct hn_timer *t);
	void		(*random)(void *ctx, void *buf, size_t len);
};

struct hn_io {
	const struct hn_io_ops	*ops;
	void			*ctx;
};

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

static inline uint64_t
hn_now_ms(const struct hn_io *io)
{
	return io->ops->now_ms(io->ctx);
}

static inline uint64_t
hn_now_us(const struct hn_io *io)
{
	return io->ops->now_us(io->ctx);
}

static inline int
hn_send(const struct hn_io *io, int sock, const struct hn_addr *to,
    const uint8_t *buf, size_t len)
{
	return io->ops->send(io->ctx, sock, to, buf, len);
}

static inline void
hn_timer_init(struct hn_timer *t, void (*cb)(struct hn_timer *))
{
	t->cb = cb;
	t->due = 0;
	t->slot = 0;
	t->armed = false;
}

static inline void
hn_timer_arm(const struct hn_io *io, struct hn_timer *t, uint64_t due_ms)
{
	io->ops->timer_arm(io->ctx, t, due_ms);
}

/* Arm `t` to fire `delay_ms` from now. */
static inline void
hn_timer_after(const struct hn_io *io, struct hn_timer *t, uint64_t delay_ms)
{
	io->ops->timer_arm(io->ctx, t, io->ops->now_ms(io->ctx) + delay_ms);
}

static inline void
hn_timer_cancel(const struct hn_io *io, struct hn_timer *t)
{
	io->ops->timer_cancel(io->ctx, t);
}

static inline void
hn_random(const struct hn_io *io, void *buf, size_t len)
{
	io->ops->random(io->ctx, buf, len);
}

#endif

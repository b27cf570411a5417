/*
 * evio.h - struct hn_io on libev, with batched UDP sockets
 *
 * One struct evio per event loop.  Time is libev's loop time (refreshed
 * after every receive batch, spec/udx.md pitfall 18); timers live in a
 * timerq driven by one ev_timer; random bytes come from libsodium.
 *
 * UDP sockets (IPv4) read with recvmmsg (UDP_GRO coalesced buffers are
 * split by their segment size) and write through a per-socket queue that
 * is flushed with sendmmsg at the end of each loop iteration, when it
 * fills, and after every receive batch; runs of equal-size datagrams to
 * one destination go out as one UDP_SEGMENT (GSO) send when the kernel
 * offers it.  hn_send() copies the datagram; when the queue is full and the
 * socket will not take more it returns -ENOBUFS (the datagram is dropped,
 * like a lossy link).
 */
#ifndef HN_EVIO_H
#define HN_EVIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"

struct ev_loop;
struct evio;

#define EVIO_MAX_SOCKS	320	/* birthday punching opens 256 */

/* A datagram arrived on socket `sock`. */
typedef void	evio_recv_fn(void *arg, int sock, const struct hn_addr *from,
		    const uint8_t *buf, size_t len);
/* A receive batch ended (e.g. udx_flush()). */
typedef void	evio_batch_fn(void *arg);

struct evio_stats {
	uint64_t	rx_datagrams;
	uint64_t	rx_syscalls;
	uint64_t	tx_datagrams;
	uint64_t	tx_syscalls;
	uint64_t	tx_gso_sends;
	uint64_t	tx_dropped;
};

/* A new adapter on `loop`; NULL on ENOMEM. */
struct evio	*evio_new(struct ev_loop *loop);
/* Close every socket, stop the watchers and free.  NULL is a no-op. */
void		 evio_free(struct evio *e);
struct hn_io	*evio_io(struct evio *e);
void		 evio_set_batch_cb(struct evio *e, evio_batch_fn *fn, void *arg);
/*
 * Bind a UDP socket to `addr` (port 0: any) and start reading.  Returns the
 * socket index for hn_send(), or -errno.
 */
int		 evio_udp_bind(struct evio *e, const struct hn_addr *addr,
		    evio_recv_fn *fn, void *arg);
/* The address socket `sock` is bound to; 0 or -EBADF. */
int		 evio_udp_local(struct evio *e, int sock, struct hn_addr *out);
void		 evio_udp_close(struct evio *e, int sock);
/* Turn UDP GSO / GRO off (for tests and comparisons). */
void		 evio_set_offload(struct evio *e, bool gso, bool gro);
/* Send everything queued now. */
void		 evio_flush(struct evio *e);
const struct evio_stats *evio_stats(const struct evio *e);

#endif

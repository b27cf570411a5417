/*
 * evio.c - struct hn_io on libev, with recvmmsg/sendmmsg and UDP GSO/GRO
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evio.h"
#include "timerq.h"

#define EVIO_RX_BATCH		32
#define EVIO_RX_BUF_GRO		65536
#define EVIO_RX_BUF		2048	/* what libudx reads (§23) */
#define EVIO_RX_ROUNDS		8	/* batches per readiness event */
#define EVIO_TX_QUEUE		256	/* datagrams queued per socket */
#define EVIO_TX_SLOT		2048
#define EVIO_GSO_MAX_SEGS	64
#define EVIO_GSO_MAX_BYTES	65000

struct evio_sock {
	struct evio	*e;
	int		 fd;
	int		 index;
	ev_io		 rw;
	ev_io		 ww;
	evio_recv_fn	*fn;
	void		*arg;
	bool		 gro;
	bool		 gso;
	/* send queue */
	size_t		 qlen;
	uint16_t	 qsize[EVIO_TX_QUEUE];
	struct hn_addr	 qto[EVIO_TX_QUEUE];
	uint8_t		*qbuf;		/* EVIO_TX_QUEUE x EVIO_TX_SLOT */
	uint8_t		*qspare;	/* the same size, for compaction */
	/* receive buffers */
	uint8_t		*rbuf;
	size_t		 rbuf_size;
};

struct evio {
	struct ev_loop		*loop;
	struct hn_io		 io;
	struct timerq		 q;
	ev_timer		 timer;
	ev_prepare		 prep;
	evio_batch_fn		*batch_fn;
	void			*batch_arg;
	bool			 want_gso;
	bool			 want_gro;
	struct evio_sock	*socks[EVIO_MAX_SOCKS];
	/*
	 * The socket whose datagrams are being delivered, and one closed from
	 * inside that delivery: it is detached at once and freed when the
	 * delivery loop is done with it.
	 */
	struct evio_sock	*reading;
	struct evio_sock	*doomed;
	struct evio_stats	 st;
};

static void	evio_sock_flush(struct evio_sock *k);

/* ------------------------------------------------------------ hn_io */

static uint64_t
e_now_ms(void *ctx)
{
	struct evio *e = ctx;

	return (uint64_t)(ev_now(e->loop) * 1000.0);
}

static uint64_t
e_now_us(void *ctx)
{
	struct evio *e = ctx;

	return (uint64_t)(ev_now(e->loop) * 1000000.0);
}

static int
e_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	struct evio *e = ctx;
	struct evio_sock *k;

	if (sock < 0 || sock >= EVIO_MAX_SOCKS || (k = e->socks[sock]) == NULL)
		return -EBADF;
	if (len > EVIO_TX_SLOT)
		return -EMSGSIZE;
	if (k->qlen == EVIO_TX_QUEUE) {
		evio_sock_flush(k);
		if (k->qlen == EVIO_TX_QUEUE) {
			e->st.tx_dropped++;
			return -ENOBUFS;
		}
	}
	memcpy(k->qbuf + k->qlen * EVIO_TX_SLOT, buf, len);
	k->qsize[k->qlen] = (uint16_t)len;
	k->qto[k->qlen] = *to;
	k->qlen++;
	return 0;
}

static void
e_timer_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	struct evio *e = ctx;

	timerq_arm(&e->q, t, due);
}

static void
e_timer_cancel(void *ctx, struct hn_timer *t)
{
	struct evio *e = ctx;

	timerq_cancel(&e->q, t);
}

static void
e_random(void *ctx, void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static const struct hn_io_ops evio_ops = {
	.now_ms = e_now_ms,
	.now_us = e_now_us,
	.send = e_send,
	.timer_arm = e_timer_arm,
	.timer_cancel = e_timer_cancel,
	.random = e_random,
};

/* ------------------------------------------------------------ sending */

/* How many queued datagrams from `i` can go as one GSO send. */
static size_t
evio_gso_run(const struct evio_sock *k, size_t i)
{
	size_t n = 1, bytes = k->qsize[i];

	if (!k->gso)
		return 1;
	while (i + n < k->qlen && n < EVIO_GSO_MAX_SEGS &&
	    addr_eq(&k->qto[i + n], &k->qto[i]) &&
	    k->qsize[i + n] <= k->qsize[i] &&
	    bytes + k->qsize[i + n] <= EVIO_GSO_MAX_BYTES) {
		bytes += k->qsize[i + n];
		/* only the last segment may be shorter */
		if (k->qsize[i + n++] < k->qsize[i])
			break;
	}
	return n;
}

/*
 * Send queued datagrams with sendmmsg, equal-size runs as GSO messages.
 * On EAGAIN what is left stays queued and the write watcher waits.
 */
static void
evio_sock_flush(struct evio_sock *k)
{
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	} ctl[EVIO_TX_QUEUE];
	struct mmsghdr msgs[EVIO_TX_QUEUE];
	struct iovec iov[EVIO_TX_QUEUE];
	struct sockaddr_in sin[EVIO_TX_QUEUE];
	size_t first[EVIO_TX_QUEUE], count[EVIO_TX_QUEUE];
	size_t i = 0, m = 0, j, done, sent_dgrams;
	struct evio *e = k->e;
	struct cmsghdr *c;
	int r;

	if (k->qlen == 0)
		return;
	while (i < k->qlen) {
		size_t n = evio_gso_run(k, i);
		size_t bytes = 0;

		for (j = i; j < i + n; j++)
			bytes += k->qsize[j];
		memset(&msgs[m], 0, sizeof(msgs[m]));
		addr_to_sockaddr(&k->qto[i], &sin[m]);
		/* the queue slots are contiguous: one iovec spans the run
		 * only when every datagram fills its slot, so GSO runs are
		 * packed first */
		iov[m].iov_base = k->qbuf + i * EVIO_TX_SLOT;
		iov[m].iov_len = k->qsize[i];
		if (n > 1) {
			uint8_t *dst = k->qbuf + i * EVIO_TX_SLOT + k->qsize[i];

			for (j = i + 1; j < i + n; j++) {
				memmove(dst, k->qbuf + j * EVIO_TX_SLOT,
				    k->qsize[j]);
				dst += k->qsize[j];
			}
			iov[m].iov_len = bytes;
			msgs[m].msg_hdr.msg_control = ctl[m].buf;
			msgs[m].msg_hdr.msg_controllen = sizeof(ctl[m].buf);
			c = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			memcpy(CMSG_DATA(c), &k->qsize[i], sizeof(uint16_t));
			e->st.tx_gso_sends++;
		}
		msgs[m].msg_hdr.msg_name = &sin[m];
		msgs[m].msg_hdr.msg_namelen = sizeof(sin[m]);
		msgs[m].msg_hdr.msg_iov = &iov[m];
		msgs[m].msg_hdr.msg_iovlen = 1;
		first[m] = i;
		count[m] = n;
		m++;
		i += n;
	}
	done = 0;
	sent_dgrams = 0;
	while (done < m) {
		r = sendmmsg(k->fd, msgs + done, (unsigned)(m - done), 0);
		e->st.tx_syscalls++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			if ((errno == EIO || errno == EINVAL) && k->gso &&
			    count[done] > 1) {
				/* no GSO here after all: unpack and retry */
				k->gso = false;
				break;
			}
			/* §23: other errors drop the datagram */
			sent_dgrams += count[done];
			done++;
			continue;
		}
		for (j = done; j < done + (size_t)r; j++)
			sent_dgrams += count[j];
		done += (size_t)r;
	}
	e->st.tx_datagrams += sent_dgrams;
	if (done == m) {
		k->qlen = 0;
		return;
	}
	/* keep the rest, unpacked again into slots of the spare buffer */
	{
		size_t keep = 0;
		uint8_t *tmp;

		for (j = done; j < m; j++) {
			uint8_t *src = iov[j].iov_base;

			for (i = 0; i < count[j]; i++) {
				size_t sz = k->qsize[first[j] + i];

				memcpy(k->qspare + keep * EVIO_TX_SLOT, src, sz);
				k->qto[keep] = k->qto[first[j]];
				k->qsize[keep] = (uint16_t)sz;
				src += sz;
				keep++;
			}
		}
		k->qlen = keep;
		tmp = k->qbuf;
		k->qbuf = k->qspare;
		k->qspare = tmp;
	}
	if (!ev_is_active(&k->ww))
		ev_io_start(e->loop, &k->ww);
}

void
evio_flush(struct evio *e)
{
	int i;

	for (i = 0; i < EVIO_MAX_SOCKS; i++)
		if (e->socks[i] != NULL)
			evio_sock_flush(e->socks[i]);
}

static void
evio_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct evio_sock *k = container_of(w, struct evio_sock, ww);

	ev_io_stop(loop, w);
	evio_sock_flush(k);
}

/* ------------------------------------------------------------ receiving */

static void
evio_deliver(struct evio_sock *k, const struct sockaddr_in *sin,
    const uint8_t *buf, size_t len, int seg)
{
	struct hn_addr from;
	size_t n;

	addr_from_sockaddr(&from, sin);
	if (seg <= 0)
		seg = (int)len;
	while (len > 0) {
		n = len < (size_t)seg ? len : (size_t)seg;
		k->e->st.rx_datagrams++;
		k->fn(k->arg, k->index, &from, buf, n > EVIO_RX_BUF ?
		    EVIO_RX_BUF : n);
		buf += n;
		len -= n;
		/* the callback may have closed the socket */
		if (k->e->socks[k->index] != k)
			return;
	}
}

static void	evio_sock_free(struct evio_sock *k);

static void
evio_read_batches(struct evio *e, struct evio_sock *k, struct ev_loop *loop);

static void
evio_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct evio_sock *k = container_of(w, struct evio_sock, rw);
	struct evio *e = k->e;

	e->reading = k;
	evio_read_batches(e, k, loop);
	e->reading = NULL;
	if (e->doomed != NULL) {
		evio_sock_free(e->doomed);
		e->doomed = NULL;
	}
}

static void
evio_read_batches(struct evio *e, struct evio_sock *k, struct ev_loop *loop)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} ctl[EVIO_RX_BATCH];
	struct mmsghdr msgs[EVIO_RX_BATCH];
	struct iovec iov[EVIO_RX_BATCH];
	struct sockaddr_in sin[EVIO_RX_BATCH];
	struct cmsghdr *c;
	int r, i, round, seg, index = k->index;

	for (round = 0; round < EVIO_RX_ROUNDS; round++) {
		for (i = 0; i < EVIO_RX_BATCH; i++) {
			iov[i].iov_base = k->rbuf + (size_t)i * k->rbuf_size;
			iov[i].iov_len = k->rbuf_size;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &sin[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(sin[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
		r = recvmmsg(k->fd, msgs, EVIO_RX_BATCH, MSG_DONTWAIT, NULL);
		e->st.rx_syscalls++;
		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			seg = 0;
			for (c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
				if (c->cmsg_level == SOL_UDP &&
				    c->cmsg_type == UDP_GRO)
					memcpy(&seg, CMSG_DATA(c), sizeof(int));
			evio_deliver(k, &sin[i], iov[i].iov_base,
			    msgs[i].msg_len, seg);
			if (e->socks[index] != k)
				return;
		}
		/* end of batch: acks and coalesced data go out now */
		ev_now_update(loop);
		if (e->batch_fn)
			e->batch_fn(e->batch_arg);
		evio_flush(e);
		if (e->socks[index] != k || r < EVIO_RX_BATCH)
			break;
	}
}

/* ------------------------------------------------------------ timers */

static void
evio_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct evio *e = container_of(w, struct evio, timer);

	timerq_run(&e->q, e_now_ms(e));
}

/* Before the loop sleeps: flush sends, aim the ev_timer at the next due. */
static void
evio_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct evio *e = container_of(w, struct evio, prep);
	struct hn_timer *t;
	double delay;

	evio_flush(e);
	t = timerq_peek(&e->q);
	ev_timer_stop(loop, &e->timer);
	if (t == NULL)
		return;
	delay = ((double)t->due - ev_now(loop) * 1000.0) / 1000.0;
	if (delay < 0)
		delay = 0;
	ev_timer_set(&e->timer, delay, 0);
	ev_timer_start(loop, &e->timer);
}

/* ------------------------------------------------------------ sockets */

static void
evio_sock_free(struct evio_sock *k)
{
	ev_io_stop(k->e->loop, &k->rw);
	ev_io_stop(k->e->loop, &k->ww);
	close(k->fd);
	free(k->qbuf);
	free(k->qspare);
	free(k->rbuf);
	free(k);
}

static void
evio_sockopts(struct evio_sock *k)
{
	int one = 1, v, sizes[] = { 4 << 20, 1 << 20, 512 << 10, 256 << 10 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = sizes[i];
		if (setsockopt(k->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v,
		    sizeof(v)) == 0 || setsockopt(k->fd, SOL_SOCKET,
		    SO_RCVBUF, &v, sizeof(v)) == 0)
			break;
	}
	v = 1 << 20;
	if (setsockopt(k->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
		(void)setsockopt(k->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	v = IP_PMTUDISC_PROBE;	/* §23: DF set, PMTU cache ignored */
	(void)setsockopt(k->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	v = 64;
	(void)setsockopt(k->fd, IPPROTO_IP, IP_TTL, &v, sizeof(v));
	k->gro = k->e->want_gro && setsockopt(k->fd, SOL_UDP, UDP_GRO, &one,
	    sizeof(one)) == 0;
	k->gso = k->e->want_gso;
}

int
evio_udp_bind(struct evio *e, const struct hn_addr *addr, evio_recv_fn *fn,
    void *arg)
{
	struct sockaddr_in sin;
	struct evio_sock *k;
	int i, err;

	for (i = 0; i < EVIO_MAX_SOCKS && e->socks[i] != NULL; i++)
		;
	if (i == EVIO_MAX_SOCKS)
		return -EMFILE;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->e = e;
	k->index = i;
	k->fn = fn;
	k->arg = arg;
	k->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		err = -errno;
		free(k);
		return err;
	}
	evio_sockopts(k);
	addr_to_sockaddr(addr, &sin);
	if (bind(k->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		err = -errno;
		goto out_close;
	}
	k->rbuf_size = k->gro ? EVIO_RX_BUF_GRO : EVIO_RX_BUF;
	k->rbuf = malloc(k->rbuf_size * EVIO_RX_BATCH);
	k->qbuf = malloc((size_t)EVIO_TX_QUEUE * EVIO_TX_SLOT);
	k->qspare = malloc((size_t)EVIO_TX_QUEUE * EVIO_TX_SLOT);
	if (k->rbuf == NULL || k->qbuf == NULL || k->qspare == NULL) {
		err = -ENOMEM;
		goto out_close;
	}
	ev_io_init(&k->rw, evio_read_cb, k->fd, EV_READ);
	ev_io_init(&k->ww, evio_write_cb, k->fd, EV_WRITE);
	ev_io_start(e->loop, &k->rw);
	e->socks[i] = k;
	return i;

out_close:
	close(k->fd);
	free(k->rbuf);
	free(k->qbuf);
	free(k->qspare);
	free(k);
	return err;
}

int
evio_udp_local(struct evio *e, int sock, struct hn_addr *out)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (sock < 0 || sock >= EVIO_MAX_SOCKS || e->socks[sock] == NULL)
		return -EBADF;
	if (getsockname(e->socks[sock]->fd, (struct sockaddr *)&sin, &len) != 0)
		return -errno;
	addr_from_sockaddr(out, &sin);
	return 0;
}

void
evio_udp_close(struct evio *e, int sock)
{
	struct evio_sock *k;

	if (sock < 0 || sock >= EVIO_MAX_SOCKS || (k = e->socks[sock]) == NULL)
		return;
	evio_sock_flush(k);
	e->socks[sock] = NULL;
	if (k == e->reading && e->doomed == NULL) {
		/* closed from its own receive callback: free it afterwards */
		ev_io_stop(e->loop, &k->rw);
		ev_io_stop(e->loop, &k->ww);
		e->doomed = k;
		return;
	}
	evio_sock_free(k);
}

void
evio_set_offload(struct evio *e, bool gso, bool gro)
{
	e->want_gso = gso;
	e->want_gro = gro;
}

/* ------------------------------------------------------------ adapter */

struct evio *
evio_new(struct ev_loop *loop)
{
	struct evio *e;

	if (sodium_init() < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->loop = loop;
	e->io.ops = &evio_ops;
	e->io.ctx = e;
	e->want_gso = true;
	e->want_gro = true;
	timerq_init(&e->q);
	ev_timer_init(&e->timer, evio_timer_cb, 0, 0);
	ev_prepare_init(&e->prep, evio_prepare_cb);
	ev_prepare_start(loop, &e->prep);
	ev_unref(loop);		/* the prepare watcher alone keeps nothing alive */
	return e;
}

void
evio_free(struct evio *e)
{
	int i;

	if (e == NULL)
		return;
	for (i = 0; i < EVIO_MAX_SOCKS; i++)
		if (e->socks[i] != NULL)
			evio_udp_close(e, i);
	ev_ref(e->loop);
	ev_prepare_stop(e->loop, &e->prep);
	ev_timer_stop(e->loop, &e->timer);
	timerq_free(&e->q);
	free(e);
}

struct hn_io *
evio_io(struct evio *e)
{
	return &e->io;
}

void
evio_set_batch_cb(struct evio *e, evio_batch_fn *fn, void *arg)
{
	e->batch_fn = fn;
	e->batch_arg = arg;
}

const struct evio_stats *
evio_stats(const struct evio *e)
{
	return &e->st;
}

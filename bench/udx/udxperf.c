/*
 * udxperf.c - one UDX endpoint on 127.0.0.1 over the libev adapter, for
 * interop tests against udx-native and for benchmarks
 *
 *   udxperf --bind PORT --peer PORT --id N --remote-id N [options]
 *     --send BYTES         write BYTES of a fixed pattern, then end
 *     --no-end             do not end after sending
 *     --message TEXT       send TEXT as a MESSAGE 800 ms after start, when
 *                          the peer surely runs (repeatable); data then
 *                          starts after 1 s
 *     --empty-message      send an empty MESSAGE
 *     --expect-messages N  wait for N messages before finishing
 *     --destroy-after B    destroy once B bytes were received or sent
 *     --change-remote BIND:PEER:ID:AFTER  after AFTER bytes (sent or
 *                          received) switch to peer port PEER, stream ID,
 *                          from a second socket bound on BIND (0: the
 *                          same socket)
 *     --timeout MS         give up (exit 3) after MS (default 120000)
 *     --no-gso, --no-gro   turn offloads off
 *     --no-hash            no sha256 and a constant fill (benchmarks)
 *
 * Prints one line of JSON when the stream closes and exits 0.  The peer is
 * always 127.0.0.1.  Both ends connect at start; the first packet goes
 * from whichever side writes first.
 */
#include <errno.h>
#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "daemon/evio.h"
#include "daemon/udx/udx.h"

struct perf {
	struct ev_loop			*loop;
	struct evio			*e;
	struct udx			*u;
	struct udx_stream		*s;
	int				 sock, sock2;
	struct hn_addr			 peer;
	uint64_t			 to_send, sent, recv;
	bool				 end;
	bool				 eof;
	bool				 closed;
	int				 close_err;
	uint64_t			 destroy_after;
	uint64_t			 change_after;
	uint32_t			 change_id;
	struct hn_addr			 change_peer;
	bool				 changed;
	int				 remote_changed;
	int				 messages, expect_messages;
	size_t				 msg_lens[64];
	crypto_hash_sha256_state	 hs, hr;
	double				 t0;
	const char			*msgs[16];
	int				 nmsgs, empty;
	struct udx_stream_info		 info;
	bool				 info_set;
	bool				 hash;
};

/* The test byte at offset i (< 2^31); peer.js computes the same. */
static uint8_t
pattern(uint64_t i)
{
	uint32_t x = (uint32_t)i * 0x9e3779b1u;

	return (uint8_t)((x >> 24) ^ (uint32_t)(i >> 11));
}

static void	maybe_change(struct perf *p);

static void
maybe_finish(struct perf *p)
{
	if (p->closed && p->messages >= p->expect_messages)
		ev_break(p->loop, EVBREAK_ALL);
}

static void
maybe_destroy(struct perf *p)
{
	if (p->s && p->destroy_after &&
	    (p->recv >= p->destroy_after || p->sent >= p->destroy_after)) {
		udx_stream_get_info(p->s, &p->info);
		p->info_set = true;
		udx_stream_destroy(p->s);
	}
}

static void
feed(struct perf *p)
{
	static uint8_t buf[65536];
	uint64_t n, k;

	while (p->s && p->sent < p->to_send && udx_stream_writable(p->s)) {
		n = sizeof(buf);
		if (n > p->to_send - p->sent)
			n = p->to_send - p->sent;
		if (p->hash) {
			for (k = 0; k < n; k++)
				buf[k] = pattern(p->sent + k);
			crypto_hash_sha256_update(&p->hs, buf, n);
		}
		udx_stream_write(p->s, buf, n);
		p->sent += n;
		maybe_change(p);
		maybe_destroy(p);
	}
	/* a pure receiver ends when the peer has (half-close echo) */
	if (p->s && p->sent == p->to_send && p->end &&
	    (p->to_send > 0 || p->eof)) {
		p->end = false;
		udx_stream_end(p->s);
	}
}

static void
maybe_change(struct perf *p)
{
	if (p->s && p->change_after && !p->changed &&
	    (p->recv >= p->change_after || p->sent >= p->change_after)) {
		p->changed = true;
		udx_stream_change_remote(p->s, p->sock2 >= 0 ? p->sock2 :
		    p->sock, p->change_id, &p->change_peer);
	}
}

static void
on_data(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct perf *p = arg;

	if (p->hash)
		crypto_hash_sha256_update(&p->hr, buf, len);
	p->recv += len;
	maybe_change(p);
	maybe_destroy(p);
}

static void
on_end(struct udx_stream *s, void *arg)
{
	struct perf *p = arg;

	p->eof = true;
	feed(p);
}

static void
on_drain(struct udx_stream *s, void *arg)
{
	feed(arg);
}

static void
on_message(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct perf *p = arg;

	if (p->messages < 64)
		p->msg_lens[p->messages] = len;
	p->messages++;
	maybe_finish(p);
}

static void
on_remote_changed(struct udx_stream *s, void *arg)
{
	struct perf *p = arg;

	p->remote_changed++;
}

static void
on_close(struct udx_stream *s, void *arg, int err)
{
	struct perf *p = arg;

	if (!p->info_set) {
		udx_stream_get_info(s, &p->info);
		p->info_set = true;
	}
	p->closed = true;
	p->close_err = err;
	p->s = NULL;
	maybe_finish(p);
}

static int
firewall(struct udx_stream *s, void *arg, int sock, const struct hn_addr *from)
{
	return 0;	/* the peer is on loopback: accept its other sockets */
}

static const struct udx_stream_ops ops = {
	.on_data = on_data,
	.on_end = on_end,
	.on_message = on_message,
	.on_drain = on_drain,
	.on_remote_changed = on_remote_changed,
	.on_close = on_close,
	.firewall = firewall,
};

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct perf *p = arg;

	udx_socket_input(p->u, sock, from, buf, len);
}

static void
on_batch(void *arg)
{
	struct perf *p = arg;

	udx_flush(p->u);
}

static void	report(struct perf *p);

static void
on_msg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct perf *p = w->data;
	int i;

	for (i = 0; p->s && i < p->nmsgs; i++)
		udx_stream_send(p->s, p->msgs[i], strlen(p->msgs[i]));
	for (i = 0; p->s && i < p->empty; i++)
		udx_stream_send(p->s, NULL, 0);
}

static void
on_start_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	feed(w->data);
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct perf *p = w->data;

	fprintf(stderr, "udxperf: timeout\n");
	if (p->s) {
		udx_stream_get_info(p->s, &p->info);
		p->info_set = true;
	}
	report(p);
	exit(3);
}

static void
hex(const uint8_t *h, char *out)
{
	sodium_bin2hex(out, 65, h, 32);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
report(struct perf *p)
{
	uint8_t hs[32], hr[32];
	char xs[65], xr[65];
	struct rusage ru;
	double cpu, secs = now_s() - p->t0;
	const struct evio_stats *es = evio_stats(p->e);
	int i;

	crypto_hash_sha256_final(&p->hs, hs);
	crypto_hash_sha256_final(&p->hr, hr);
	hex(hs, xs);
	hex(hr, xr);
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"sent\":%llu,\"sentSha\":\"%s\",\"recv\":%llu,"
	    "\"recvSha\":\"%s\",\"eof\":%s,\"close\":%d,\"remoteChanged\":%d,"
	    "\"seconds\":%.3f,\"cpu\":%.3f,\"mtu\":%u,\"retransmits\":%llu,"
	    "\"rto\":%llu,\"packetsTx\":%llu,\"acksTx\":%llu,"
	    "\"txSyscalls\":%llu,\"rxSyscalls\":%llu,\"gsoSends\":%llu,"
	    "\"messages\":[",
	    (unsigned long long)p->sent, xs, (unsigned long long)p->recv, xr,
	    p->eof ? "true" : "false", p->close_err, p->remote_changed, secs,
	    cpu, p->info.mtu, (unsigned long long)p->info.retransmits,
	    (unsigned long long)p->info.rto_count,
	    (unsigned long long)p->info.packets_tx,
	    (unsigned long long)p->info.acks_tx,
	    (unsigned long long)es->tx_syscalls,
	    (unsigned long long)es->rx_syscalls,
	    (unsigned long long)es->tx_gso_sends);
	for (i = 0; i < p->messages && i < 64; i++)
		printf("%s%zu", i ? "," : "", p->msg_lens[i]);
	printf("]}\n");
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: udxperf --bind PORT --peer PORT --id N "
	    "--remote-id N [--send BYTES] [--no-end] [--message TEXT] "
	    "[--empty-message] [--expect-messages N] [--destroy-after B] "
	    "[--change-remote BIND:PEER:ID:AFTER] [--timeout MS] [--no-gso] "
	    "[--no-gro] [--no-hash]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct hn_addr bind_addr = { { 127, 0, 0, 1 }, 0 };
	struct hn_addr bind2 = { { 127, 0, 0, 1 }, 0 };
	int i;
	uint32_t id = 0, rid = 0;
	double timeout = 120;
	bool gso = true, gro = true;
	struct perf p;
	ev_timer to, mt, st;

	memset(&p, 0, sizeof(p));
	p.end = true;
	p.hash = true;
	p.sock2 = -1;
	p.peer = (struct hn_addr){ { 127, 0, 0, 1 }, 0 };
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-end") == 0) {
			p.end = false;
			continue;
		} else if (strcmp(a, "--empty-message") == 0) {
			p.empty++;
			continue;
		} else if (strcmp(a, "--no-gso") == 0) {
			gso = false;
			continue;
		} else if (strcmp(a, "--no-gro") == 0) {
			gro = false;
			continue;
		} else if (strcmp(a, "--no-hash") == 0) {
			p.hash = false;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--bind") == 0)
			bind_addr.port = (uint16_t)atoi(v);
		else if (strcmp(a, "--peer") == 0)
			p.peer.port = (uint16_t)atoi(v);
		else if (strcmp(a, "--id") == 0)
			id = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--remote-id") == 0)
			rid = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--send") == 0)
			p.to_send = strtoull(v, NULL, 0);
		else if (strcmp(a, "--message") == 0 && p.nmsgs < 16)
			p.msgs[p.nmsgs++] = v;
		else if (strcmp(a, "--expect-messages") == 0)
			p.expect_messages = atoi(v);
		else if (strcmp(a, "--destroy-after") == 0)
			p.destroy_after = strtoull(v, NULL, 0);
		else if (strcmp(a, "--timeout") == 0)
			timeout = atof(v) / 1000.0;
		else if (strcmp(a, "--change-remote") == 0) {
			unsigned long b, pp, cid;
			unsigned long long after;

			if (sscanf(v, "%lu:%lu:%lu:%llu", &b, &pp, &cid,
			    &after) != 4)
				usage();
			bind2.port = (uint16_t)b;
			p.change_peer = (struct hn_addr){ { 127, 0, 0, 1 },
			    (uint16_t)pp };
			p.change_id = (uint32_t)cid;
			p.change_after = after;
		} else
			usage();
	}
	if (!bind_addr.port || !p.peer.port || !id || !rid)
		usage();
	p.loop = EV_DEFAULT;
	p.e = evio_new(p.loop);
	p.u = p.e ? udx_new(evio_io(p.e)) : NULL;
	if (p.u == NULL)
		return 1;
	evio_set_offload(p.e, gso, gro);
	evio_set_batch_cb(p.e, on_batch, &p);
	crypto_hash_sha256_init(&p.hs);
	crypto_hash_sha256_init(&p.hr);
	p.sock = evio_udp_bind(p.e, &bind_addr, on_recv, &p);
	if (p.sock < 0) {
		fprintf(stderr, "udxperf: bind: %s\n", strerror(-p.sock));
		return 1;
	}
	if (bind2.port) {
		p.sock2 = evio_udp_bind(p.e, &bind2, on_recv, &p);
		if (p.sock2 < 0) {
			fprintf(stderr, "udxperf: bind: %s\n",
			    strerror(-p.sock2));
			return 1;
		}
	}
	if (udx_stream_new(p.u, id, &ops, &p, &p.s) != 0 ||
	    udx_stream_connect(p.s, p.sock, rid, &p.peer) != 0)
		return 1;
	p.t0 = now_s();
	ev_timer_init(&mt, on_msg_timer, 0.8, 0);
	mt.data = &p;
	ev_timer_init(&st, on_start_timer, 1.0, 0);
	st.data = &p;
	if (p.nmsgs + p.empty > 0) {
		ev_timer_start(p.loop, &mt);
		ev_timer_start(p.loop, &st);
	} else {
		feed(&p);
	}
	ev_timer_init(&to, on_timeout, timeout, 0);
	to.data = &p;
	ev_timer_start(p.loop, &to);
	ev_unref(p.loop);
	ev_run(p.loop, 0);
	report(&p);
	udx_free(p.u);
	evio_free(p.e);
	return 0;
}

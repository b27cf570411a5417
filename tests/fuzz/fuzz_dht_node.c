/*
 * fuzz_dht_node.c - a persistent node (storage, router and all internal
 * commands enabled) fed arbitrary datagrams
 *
 * The input is a sequence of records: 1 byte source selector, 2 bytes
 * length, then the datagram.  Sources are a few fixed addresses so tokens
 * and records from one datagram meet later ones.  Time advances between
 * records so timers (delayed pings, retries, token rotation) run too.
 * Nothing may crash, leak or read out of bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "keys.h"
#include "timerq.h"
#include "daemon/dht/dht.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fio {
	struct timerq	 q;
	uint64_t	 now;
	uint64_t	 rnd;
	size_t		 sent;
};

static uint64_t
f_now_ms(void *ctx)
{
	return ((struct fio *)ctx)->now;
}

static uint64_t
f_now_us(void *ctx)
{
	return ((struct fio *)ctx)->now * 1000;
}

static int
f_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	((struct fio *)ctx)->sent++;
	return 0;
}

static void
f_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	(void)timerq_arm(&((struct fio *)ctx)->q, t, due);
}

static void
f_cancel(void *ctx, struct hn_timer *t)
{
	timerq_cancel(&((struct fio *)ctx)->q, t);
}

static void
f_random(void *ctx, void *buf, size_t len)
{
	struct fio *f = ctx;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		f->rnd = f->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(f->rnd >> 56);
	}
}

static const struct hn_io_ops fops = {
	f_now_ms, f_now_us, f_send, f_arm, f_cancel, f_random
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hn_addr srcs[4] = {
		{ { 10, 0, 0, 2 }, 49737 }, { { 10, 0, 0, 3 }, 49738 },
		{ { 192, 168, 1, 20 }, 50000 }, { { 10, 0, 0, 2 }, 40000 },
	};
	struct fio f;
	struct hn_io io = { &fops, &f };
	struct dht_config cfg;
	struct dht *d;
	size_t off = 0, len;
	static int inited;

	if (!inited) {
		if (keys_init() != 0)
			abort();
		inited = 1;
	}
	memset(&f, 0, sizeof(f));
	timerq_init(&f.q);
	f.now = 1000;
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = 0;
	cfg.client_sock = 1;
	cfg.server_port = 49737;
	cfg.bootstrapper = true;
	cfg.public_addr = (struct hn_addr){ { 10, 0, 0, 1 }, 49737 };
	if ((d = dht_new(&io, &cfg)) == NULL)
		abort();
	timerq_run(&f.q, f.now);	/* bootstrap: becomes persistent */
	while (off + 3 <= size) {
		uint8_t sel = data[off];

		len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		dht_input(d, sel & 1, &srcs[(sel >> 1) & 3], data + off, len);
		off += len;
		f.now += (sel >> 3) * 500;
		timerq_run(&f.q, f.now);
	}
	f.now += 20000;
	timerq_run(&f.q, f.now);
	dht_free(d);
	timerq_free(&f.q);
	return 0;
}

/*
 * fuzz_udx_stream.c - a connected UDX stream fed arbitrary packet
 * sequences, interleaved with time passing and application calls
 *
 * Input: records of [op][len][len bytes].  op & 7:
 *   0  a datagram from the peer (bytes 0-1 forced to ff 01 and the id to
 *      the stream's when op & 8, so most inputs reach the stream)
 *   1  time passes: len * 7 ms, timers fire
 *   2  the application writes len bytes
 *   3  end()            4  send a message of len bytes
 *   5  destroy()        6  changeRemote to another address
 *   7  a datagram on a second socket (firewall path)
 * A private io (virtual clock, timer heap, sends discarded) drives it.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/udx/packet.h"
#include "daemon/udx/udx.h"
#include "timerq.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fio {
	uint64_t	now_us;
	struct timerq	q;
	size_t		sent;
};

static uint64_t
f_now_ms(void *ctx)
{
	return ((struct fio *)ctx)->now_us / 1000;
}

static uint64_t
f_now_us(void *ctx)
{
	return ((struct fio *)ctx)->now_us;
}

static int
f_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	struct fio *f = ctx;
	struct udx_packet p;

	/* whatever we send must be well-formed UDX or a relay copy */
	if (len > 2048 || udx_packet_decode(buf, len, &p) != 0)
		abort();
	f->sent++;
	return 0;
}

static void
f_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	timerq_arm(&((struct fio *)ctx)->q, t, due);
}

static void
f_cancel(void *ctx, struct hn_timer *t)
{
	timerq_cancel(&((struct fio *)ctx)->q, t);
}

static void
f_random(void *ctx, void *buf, size_t len)
{
	memset(buf, 7, len);
}

static const struct hn_io_ops fops = {
	f_now_ms, f_now_us, f_send, f_arm, f_cancel, f_random,
};

static struct udx_stream *stream;
static size_t delivered;

static void
on_data(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		delivered += buf[i];
}

static void
on_close(struct udx_stream *s, void *arg, int err)
{
	stream = NULL;
}

static int
firewall(struct udx_stream *s, void *arg, int sock, const struct hn_addr *from)
{
	return from->port & 1;
}

static const struct udx_stream_ops ops = {
	.on_data = on_data,
	.on_close = on_close,
	.firewall = firewall,
};

#define ID	0x01020304u

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hn_addr peer = { { 10, 0, 0, 2 }, 5000 };
	struct hn_addr other = { { 10, 0, 0, 3 }, 5001 };
	static uint8_t buf[4096];
	struct hn_io io = { &fops, NULL };
	struct udx *u;
	struct fio f;
	size_t off = 0, len;
	uint8_t op;

	memset(&f, 0, sizeof(f));
	timerq_init(&f.q);
	io.ctx = &f;
	u = udx_new(&io);
	if (u == NULL || udx_stream_new(u, ID, &ops, NULL, &stream) != 0)
		abort();
	udx_stream_connect(stream, 0, 0x0a0b0c0d, &peer);
	while (off + 3 <= size) {
		op = data[off];
		len = data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(buf))
			len = sizeof(buf);
		memcpy(buf, data + off, len);
		off += len;
		switch (op & 7) {
		case 0:
		case 7:
			if ((op & 8) && len >= UDX_HEADER_SIZE) {
				buf[0] = UDX_MAGIC;
				buf[1] = UDX_VERSION;
			}
			if ((op & 24) && len >= 8) {
				buf[4] = ID & 0xff;
				buf[5] = (ID >> 8) & 0xff;
				buf[6] = (ID >> 16) & 0xff;
				buf[7] = ID >> 24;
			}
			udx_socket_input(u, (op & 7) == 7, (op & 7) == 7 ?
			    &other : &peer, buf, len);
			break;
		case 1:
			f.now_us += (uint64_t)len * 7000 + 1;
			timerq_run(&f.q, f.now_us / 1000);
			break;
		case 2:
			if (stream)
				udx_stream_write(stream, buf, len);
			break;
		case 3:
			if (stream)
				udx_stream_end(stream);
			break;
		case 4:
			if (stream)
				udx_stream_send(stream, buf, len);
			break;
		case 5:
			if (stream)
				udx_stream_destroy(stream);
			break;
		case 6:
			if (stream)
				udx_stream_change_remote(stream, 1, 77, &other);
			break;
		}
		udx_flush(u);
	}
	/* let every timer run out: retransmissions, give-up */
	for (int i = 0; i < 64 && timerq_peek(&f.q) != NULL; i++) {
		f.now_us = timerq_peek(&f.q)->due * 1000 + 1000;
		timerq_run(&f.q, f.now_us / 1000);
	}
	udx_free(u);
	timerq_free(&f.q);
	stream = NULL;
	return 0;
}

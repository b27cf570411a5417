/*
 * test_secretstream.c - SecretStream against connect.json#secret_stream
 * (via tests/unit/noise_vectors.kv), C-to-C round trips with the byte
 * stream split and coalesced everywhere, invalid input, keep-alive on a
 * fake clock, unordered messages
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/noise/noise.h"
#include "daemon/noise/secretstream.h"
#include "harness.h"
#include "io.h"
#include "keys.h"
#include "noise_vectors.h"

/* ------------------------------------------------------------ fixtures */

/* Everything one end wrote, and every message it received. */
struct sink {
	uint8_t	*out;
	size_t	 outlen;
	size_t	 nmsg;
	size_t	 msglen[256];
	uint8_t	*msg[256];
	int	 opened;
	int	 write_err;
};

static int
sink_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct sink *s = ctx;

	if (s->write_err)
		return s->write_err;
	s->out = realloc(s->out, s->outlen + len);
	memcpy(s->out + s->outlen, buf, len);
	s->outlen += len;
	return 0;
}

static void
sink_message(void *ctx, const uint8_t *buf, size_t len)
{
	struct sink *s = ctx;

	if (s->nmsg >= 256) {
		harness_fail(__FILE__, __LINE__, "too many messages");
		return;
	}
	s->msg[s->nmsg] = malloc(len + 1);
	memcpy(s->msg[s->nmsg], buf, len);
	s->msglen[s->nmsg++] = len;
}

static void
sink_open(void *ctx)
{
	((struct sink *)ctx)->opened++;
}

static const struct secretstream_ops sink_ops = {
	.write = sink_write,
	.message = sink_message,
	.open = sink_open,
};

static void
sink_free(struct sink *s)
{
	size_t i;

	for (i = 0; i < s->nmsg; i++)
		free(s->msg[i]);
	free(s->out);
	memset(s, 0, sizeof(*s));
}

/* The handshake results of the vector, for either role. */
static void
vec_result(struct noise_result *r, bool initiator)
{
	memset(r, 0, sizeof(*r));
	r->initiator = initiator;
	nv_fixed("ss.hash", r->hash, 64);
	nv_fixed(initiator ? "ss.initiator_tx" : "ss.initiator_rx", r->tx, 32);
	nv_fixed(initiator ? "ss.initiator_rx" : "ss.initiator_tx", r->rx, 32);
}

/* A fresh C-to-C pair of handshake results (a real Noise IK run). */
static void
live_results(struct noise_result *ri, struct noise_result *rr)
{
	struct keypair a, b;
	struct noise_ik i, r;
	uint8_t m1[128], m2[128], pl[64];
	size_t n1, n2, pn;

	keys_generate(&a);
	keys_generate(&b);
	noise_ik_init(&i, true, &a, b.pk);
	noise_ik_init(&r, false, &b, NULL);
	CHECK_INT(noise_ik_write(&i, NULL, 0, m1, sizeof(m1), &n1), 0);
	CHECK_INT(noise_ik_read(&r, m1, n1, pl, sizeof(pl), &pn), 0);
	CHECK_INT(noise_ik_write(&r, NULL, 0, m2, sizeof(m2), &n2), 0);
	CHECK_INT(noise_ik_read(&i, m2, n2, pl, sizeof(pl), &pn), 0);
	CHECK_INT(noise_ik_split(&i, ri), 0);
	CHECK_INT(noise_ik_split(&r, rr), 0);
}

static const char *
role(bool initiator)
{
	return initiator ? "initiator" : "responder";
}

static const char *
rkey(bool initiator, const char *field)
{
	static char k[128];

	snprintf(k, sizeof(k), "ss.%s.%s", role(initiator), field);
	return k;
}

static const char *
rkeyi(bool initiator, long i, const char *field)
{
	static char k[128];

	snprintf(k, sizeof(k), "ss.%s.%ld.%s", role(initiator), i, field);
	return k;
}

/* -------------------------------------------------------------- vectors */

static void
ids_and_keys(void)
{
	struct noise_result r;
	struct secretstream *ss;
	struct sink s = { 0 };
	uint8_t want[32], id[32];

	vec_result(&r, true);
	secretstream_stream_id(id, r.hash, true);
	nv_fixed("ss.initiator.stream_id", want, 32);
	CHECK_MEM(id, want, 32);
	secretstream_stream_id(id, r.hash, false);
	nv_fixed("ss.responder.stream_id", want, 32);
	CHECK_MEM(id, want, 32);
	ss = secretstream_new(&r, &sink_ops, &s);
	nv_fixed("ss.initiator.stream_id", want, 32);
	CHECK_MEM(secretstream_local_id(ss), want, 32);
	nv_fixed("ss.responder.stream_id", want, 32);
	CHECK_MEM(secretstream_remote_id(ss), want, 32);
	secretstream_free(ss);
	sink_free(&s);
}

/* Header frame and data frames byte for byte, from the fixed header. */
static void
frames_vector(bool initiator)
{
	struct noise_result r;
	struct secretstream *ss;
	struct sink s = { 0 };
	uint8_t header[24], counter[8], *want, *plain;
	size_t wlen, plen, off;
	long n, i;

	vec_result(&r, initiator);
	nv_fixed(rkey(initiator, "header"), header, 24);
	nv_fixed(rkey(initiator, "send.initial_counter"), counter, 8);
	ss = secretstream_new_fixed(&r, &sink_ops, &s, header, counter);
	CHECK(ss != NULL);
	CHECK_INT(secretstream_write(ss, (const uint8_t *)"x", 1), -ENOTCONN);
	CHECK_INT(secretstream_start(ss), 0);
	CHECK_INT(secretstream_start(ss), -EALREADY);
	want = nv_hex(rkey(initiator, "header_frame"), &wlen);
	CHECK_UINT(s.outlen, wlen);
	CHECK_MEM(s.out, want, wlen);
	CHECK_HEX(s.out, 3, "380000");
	free(want);

	n = nv_long(rkey(initiator, "frames"));
	CHECK(n >= 1);
	for (i = 0; i < n; i++) {
		plain = nv_hex(rkeyi(initiator, i, "plain"), &plen);
		want = nv_hex(rkeyi(initiator, i, "frame"), &wlen);
		off = s.outlen;
		CHECK_INT(secretstream_write(ss, plain, plen), 0);
		CHECK_UINT(s.outlen - off, wlen);
		CHECK_UINT(wlen, plen + 3 + 17);
		CHECK_MEM(s.out + off, want, wlen);
		free(plain), free(want);
	}
	secretstream_free(ss);
	sink_free(&s);
}

static void
initiator_frames_vector(void)
{
	frames_vector(true);
}

static void
responder_frames_vector(void)
{
	frames_vector(false);
}

/* The vector's whole byte stream for one direction. */
static uint8_t *
vector_stream(bool initiator, size_t *len)
{
	uint8_t *all, *f;
	size_t flen;
	long n, i;

	all = nv_hex(rkey(initiator, "header_frame"), len);
	n = nv_long(rkey(initiator, "frames"));
	for (i = 0; i < n; i++) {
		f = nv_hex(rkeyi(initiator, i, "frame"), &flen);
		all = realloc(all, *len + flen);
		memcpy(all + *len, f, flen);
		*len += flen;
		free(f);
	}
	return all;
}

static void
check_vector_messages(const struct sink *s, bool initiator, bool filtered)
{
	long n = nv_long(rkey(initiator, "frames")), i;
	size_t got = 0;

	for (i = 0; i < n; i++) {
		uint8_t *plain;
		size_t plen;

		plain = nv_hex(rkeyi(initiator, i, "plain"), &plen);
		if (plen == 0 && filtered) {
			free(plain);
			continue;
		}
		if (got < s->nmsg) {
			CHECK_UINT(s->msglen[got], plen);
			CHECK_MEM(s->msg[got], plain, plen);
		}
		got++;
		free(plain);
	}
	CHECK_UINT(s->nmsg, got);
}

/*
 * A C receiver decrypts the reference's byte stream, fed in two pieces
 * split at every possible point, and byte by byte.
 */
static void
decrypt_vector_every_split(bool initiator)
{
	struct noise_result r;
	uint8_t *all;
	size_t len, k;
	int bad = 0;

	vec_result(&r, !initiator);	/* the receiving side */
	all = vector_stream(initiator, &len);
	for (k = 0; k <= len; k++) {
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);

		if (secretstream_input(ss, all, k) != 0 ||
		    secretstream_input(ss, all + k, len - k) != 0)
			bad++;
		if (k == len / 2)
			check_vector_messages(&s, initiator, false);
		if (s.opened != 1 || !secretstream_is_open(ss))
			bad++;
		secretstream_free(ss);
		sink_free(&s);
	}
	CHECK_INT(bad, 0);
	{
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);

		for (k = 0; k < len; k++)
			CHECK_INT(secretstream_input(ss, all + k, 1), 0);
		check_vector_messages(&s, initiator, false);
		secretstream_free(ss);
		sink_free(&s);
	}
	free(all);
}

static void
decrypt_initiator_vector(void)
{
	decrypt_vector_every_split(true);
}

static void
decrypt_responder_vector(void)
{
	decrypt_vector_every_split(false);
}

static void
filter_empty_frames(void)
{
	struct noise_result r;
	struct sink s = { 0 };
	struct secretstream *ss;
	uint8_t *all;
	size_t len;

	vec_result(&r, false);
	all = vector_stream(true, &len);	/* has a keep-alive frame */
	ss = secretstream_new(&r, &sink_ops, &s);
	secretstream_set_filter_empty(ss, true);
	CHECK_INT(secretstream_input(ss, all, len), 0);
	check_vector_messages(&s, true, true);
	secretstream_free(ss);
	sink_free(&s);
	free(all);
}

static void
send_message_vector(bool initiator)
{
	struct noise_result r, o;
	struct secretstream *ss, *peer;
	struct sink s = { 0 }, t = { 0 };
	uint8_t header[24], counter[8], key[32], *plain, *want, out[256];
	uint8_t back[256];
	size_t plen, wlen, n, bn;

	vec_result(&r, initiator);
	vec_result(&o, !initiator);
	nv_fixed(rkey(initiator, "header"), header, 24);
	nv_fixed(rkey(initiator, "send.initial_counter"), counter, 8);
	nv_fixed(rkey(initiator, "send.key"), key, 32);
	nv_fixed(initiator ? "ik.initiator_send_key" : "ik.responder_send_key",
	    back, 32);
	CHECK_MEM(key, back, 32);
	plain = nv_hex(rkey(initiator, "send.plain"), &plen);
	want = nv_hex(rkey(initiator, "send.payload"), &wlen);
	ss = secretstream_new_fixed(&r, &sink_ops, &s, header, counter);
	CHECK_INT(secretstream_box_message(ss, plain, plen, out, sizeof(out),
	    &n), 0);
	CHECK_UINT(n, wlen);
	if (initiator) {
		/*
		 * connect.json's initiator payload was hexed after the
		 * reference NoiseSecretStream had opened it, and its
		 * _onmessage decrypts in place: bytes 8.. hold the plaintext
		 * where the wire has the MAC and the first ciphertext bytes.
		 * The counter and the last 16 bytes are the wire's.
		 */
		CHECK_MEM(out, want, 8);
		CHECK_MEM(want + 8, plain, plen);
		CHECK_MEM(out + 8 + plen, want + 8 + plen, 16);
	} else {
		CHECK_MEM(out, want, wlen);
	}
	nv_fixed(rkey(initiator, "send.counter_used"), counter, 8);
	CHECK_MEM(out, counter, 8);
	/* the other side opens it; we cannot (different key per direction) */
	peer = secretstream_new(&o, &sink_ops, &t);
	CHECK_INT(secretstream_unbox_message(peer, out, n, back, sizeof(back),
	    &bn), 0);
	CHECK(bn == plen && memcmp(back, plain, plen) == 0);
	CHECK_INT(secretstream_unbox_message(ss, out, n, back, sizeof(back),
	    &bn), -EBADMSG);
	CHECK_INT(secretstream_unbox_message(peer, out, n, back, plen - 1,
	    &bn), -ENOSPC);
	/* the next message uses the next counter */
	CHECK_INT(secretstream_box_message(ss, plain, plen, out, sizeof(out),
	    &n), 0);
	CHECK_UINT(out[0], counter[0] + 1);
	CHECK_INT(secretstream_unbox_message(peer, out, n, back, sizeof(back),
	    &bn), 0);
	secretstream_free(ss);
	secretstream_free(peer);
	sink_free(&s), sink_free(&t);
	free(plain), free(want);
}

static void
initiator_send_message_vector(void)
{
	send_message_vector(true);
}

static void
responder_send_message_vector(void)
{
	send_message_vector(false);
}

/* ---------------------------------------------------------- round trips */

struct pair {
	struct noise_result	ri, rr;
	struct sink		si, sr;
	struct secretstream	*i, *r;
};

static void
pair_new(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	live_results(&p->ri, &p->rr);
	p->i = secretstream_new(&p->ri, &sink_ops, &p->si);
	p->r = secretstream_new(&p->rr, &sink_ops, &p->sr);
	CHECK_INT(secretstream_start(p->i), 0);
	CHECK_INT(secretstream_start(p->r), 0);
}

static void
pair_free(struct pair *p)
{
	secretstream_free(p->i);
	secretstream_free(p->r);
	sink_free(&p->si);
	sink_free(&p->sr);
}

/* Message k: length from a fixed pattern, bytes from k. */
static size_t
msg_len(size_t k)
{
	static const size_t lens[] = { 0, 1, 16, 17, 255, 256, 1000, 1200,
	    4096, 65535, 65536, 70001 };

	return lens[k % (sizeof(lens) / sizeof(lens[0]))];
}

static void
msg_fill(uint8_t *buf, size_t len, size_t k)
{
	size_t j;

	for (j = 0; j < len; j++)
		buf[j] = (uint8_t)(k * 31 + j * 7);
}

static void
round_trip_chunked(void)
{
	enum { NMSG = 120 };
	uint32_t seed = 12345;
	struct pair p;
	uint8_t *buf = malloc(80000);
	size_t k, off, chunk, total;
	int bad = 0, mode;

	for (mode = 0; mode < 3; mode++) {
		pair_new(&p);
		for (k = 0; k < NMSG; k++) {
			msg_fill(buf, msg_len(k), k);
			CHECK_INT(secretstream_write(p.i, buf, msg_len(k)), 0);
		}
		total = p.si.outlen;
		/* 0: one byte at a time, 1: random chunks, 2: all at once */
		for (off = 0; off < total; off += chunk) {
			seed = seed * 1103515245 + 12345;
			chunk = mode == 0 ? 1 : mode == 1 ?
			    1 + (seed >> 8) % 3000 : total;
			if (chunk > total - off)
				chunk = total - off;
			if (secretstream_input(p.r, p.si.out + off, chunk) != 0)
				bad++;
		}
		CHECK_INT(bad, 0);
		CHECK_UINT(p.sr.nmsg, NMSG);
		for (k = 0; k < NMSG && k < p.sr.nmsg; k++) {
			msg_fill(buf, msg_len(k), k);
			if (p.sr.msglen[k] != msg_len(k) ||
			    memcmp(p.sr.msg[k], buf, msg_len(k)) != 0)
				bad++;
		}
		CHECK_INT(bad, 0);
		/* and the other direction, interleaved with replies */
		CHECK_INT(secretstream_input(p.i, p.sr.out, p.sr.outlen), 0);
		CHECK(secretstream_is_open(p.i));
		CHECK_INT(secretstream_write(p.r, (const uint8_t *)"pong", 4), 0);
		CHECK_INT(secretstream_input(p.i, p.sr.out + 59, p.sr.outlen - 59),
		    0);
		CHECK_UINT(p.si.nmsg, 1);
		pair_free(&p);
	}
	free(buf);
}

/* Every split point of a stream of small frames, in three pieces. */
static void
round_trip_every_boundary(void)
{
	struct pair p;
	uint8_t buf[64];
	size_t k, a, b, total;
	int bad = 0;

	pair_new(&p);
	for (k = 0; k < 6; k++) {
		msg_fill(buf, k * 5, k);
		secretstream_write(p.i, buf, k * 5);
	}
	total = p.si.outlen;
	for (a = 0; a <= total; a += 1) {
		for (b = a; b <= total; b += 7) {
			struct sink s = { 0 };
			struct secretstream *r = secretstream_new(&p.rr,
			    &sink_ops, &s);

			if (secretstream_input(r, p.si.out, a) ||
			    secretstream_input(r, p.si.out + a, b - a) ||
			    secretstream_input(r, p.si.out + b, total - b))
				bad++;
			if (s.nmsg != 6 || s.msglen[5] != 25)
				bad++;
			secretstream_free(r);
			sink_free(&s);
		}
	}
	CHECK_INT(bad, 0);
	pair_free(&p);
}

/* ------------------------------------------------------------- failures */

static void
invalid_header(void)
{
	struct noise_result r;
	uint8_t *all, frame[80];
	size_t len;

	vec_result(&r, false);
	all = vector_stream(true, &len);
	/* wrong stream id */
	{
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);

		all[3] ^= 1;
		CHECK_INT(secretstream_input(ss, all, len), -EBADMSG);
		all[3] ^= 1;
		CHECK(secretstream_failed(ss) && !secretstream_is_open(ss));
		CHECK_UINT(s.nmsg, 0);
		CHECK_INT(secretstream_input(ss, all, len), -EPIPE);
		secretstream_free(ss);
		sink_free(&s);
	}
	/* our own header back (the id of the wrong role) */
	{
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);

		secretstream_start(ss);
		CHECK_INT(secretstream_input(ss, s.out, s.outlen), -EBADMSG);
		secretstream_free(ss);
		sink_free(&s);
	}
	/* right id, wrong lengths */
	{
		size_t l;

		for (l = 0; l < 80; l++) {
			struct sink s = { 0 };
			struct secretstream *ss;

			if (l == 56)
				continue;
			ss = secretstream_new(&r, &sink_ops, &s);
			memset(frame, 0, sizeof(frame));
			frame[0] = (uint8_t)l;
			memcpy(frame + 3, all + 3, l < 56 ? l : 56);
			CHECK_INT(secretstream_input(ss, frame, 3 + l), -EBADMSG);
			secretstream_free(ss);
			sink_free(&s);
		}
	}
	free(all);
}

static void
invalid_data_frames(void)
{
	struct noise_result r;
	uint8_t *all, *copy;
	size_t len, i;
	int bad = 0;

	vec_result(&r, false);
	all = vector_stream(true, &len);
	copy = malloc(len);
	/* every byte after the header frame, flipped */
	for (i = 59; i < len; i++) {
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);
		size_t f, before = 0;
		bool lenbyte = false;
		int err;

		/* where the frames start, and how many end before byte i */
		for (f = 59; f < len; f += 3 + (size_t)(all[f] |
		    all[f + 1] << 8 | all[f + 2] << 16)) {
			if (i >= f && i < f + 3)
				lenbyte = true;
			if (f + 3 + (size_t)(all[f] | all[f + 1] << 8 |
			    all[f + 2] << 16) <= i)
				before++;
		}
		memcpy(copy, all, len);
		copy[i] ^= 0x04;
		err = secretstream_input(ss, copy, len);
		/*
		 * A length made larger makes the stream wait for more bytes
		 * instead; either way only the frames before the change may
		 * have been delivered.
		 */
		if (err != -EBADMSG && !(err == 0 && lenbyte))
			bad++;
		if (s.nmsg != before)
			bad++;
		secretstream_free(ss);
		sink_free(&s);
	}
	CHECK_INT(bad, 0);
	/* a data frame shorter than 17 bytes */
	{
		static const uint8_t shortf[] = { 16, 0, 0 };
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);
		uint8_t body[16] = { 0 };

		CHECK_INT(secretstream_input(ss, all, 59), 0);
		CHECK_INT(secretstream_input(ss, shortf, 3), 0);
		CHECK_INT(secretstream_input(ss, body, 16), -EBADMSG);
		secretstream_free(ss);
		sink_free(&s);
	}
	/* frames out of order: the second frame first */
	{
		struct sink s = { 0 };
		struct secretstream *ss = secretstream_new(&r, &sink_ops, &s);

		CHECK_INT(secretstream_input(ss, all, 59), 0);
		CHECK_INT(secretstream_input(ss, all + 59 + 34, 65), -EBADMSG);
		CHECK_UINT(s.nmsg, 0);
		secretstream_free(ss);
		sink_free(&s);
	}
	free(all), free(copy);
}

static void
write_limits(void)
{
	struct pair p;
	uint8_t b = 0;

	pair_new(&p);
	CHECK_INT(secretstream_write(p.i, &b, SECRETSTREAM_MESSAGE_MAX + 1),
	    -EMSGSIZE);
	p.si.write_err = -ENOBUFS;
	CHECK_INT(secretstream_write(p.i, &b, 1), -ENOBUFS);
	p.si.write_err = 0;
	secretstream_end(p.i);
	CHECK_INT(secretstream_write(p.i, &b, 1), -EPIPE);
	/* ended for writing, still reading */
	CHECK_INT(secretstream_input(p.i, p.sr.out, p.sr.outlen), 0);
	CHECK(secretstream_is_open(p.i));
	pair_free(&p);
}

static void
unordered_rejects(void)
{
	struct pair p;
	uint8_t raw[64], out[64];
	size_t n, i;

	pair_new(&p);
	/* a raw (plaintext) MESSAGE is not ours: dropped */
	memset(raw, 'r', sizeof(raw));
	CHECK_INT(secretstream_unbox_message(p.r, raw, sizeof(raw), out,
	    sizeof(out), &n), -EBADMSG);
	for (i = 0; i < 24; i++)
		CHECK_INT(secretstream_unbox_message(p.r, raw, i, out,
		    sizeof(out), &n), -EBADMSG);
	/* empty plaintext is fine both ways */
	CHECK_INT(secretstream_box_message(p.i, NULL, 0, raw, 24, &n), 0);
	CHECK_UINT(n, 24);
	CHECK_INT(secretstream_unbox_message(p.r, raw, n, out, sizeof(out), &n),
	    0);
	CHECK_UINT(n, 0);
	CHECK_INT(secretstream_box_message(p.i, out, 10, raw, 33, &n), -ENOSPC);
	pair_free(&p);
}

static void
unordered_counter_little_endian(void)
{
	struct noise_result r;
	struct sink s = { 0 };
	struct secretstream *ss;
	uint8_t ctr[8], hdr[24] = { 0 }, out[32];
	size_t n;

	/* sodium_increment is little endian: ff..ff wraps to 00..00 */
	vec_result(&r, true);
	memset(ctr, 0xff, sizeof(ctr));
	ss = secretstream_new_fixed(&r, &sink_ops, &s, hdr, ctr);
	CHECK_INT(secretstream_box_message(ss, NULL, 0, out, sizeof(out), &n),
	    0);
	CHECK_HEX(out, 8, "0000000000000000");
	secretstream_free(ss);
	sink_free(&s);
}

/* ------------------------------------------------------------ keep-alive */

struct fake_io {
	uint64_t		now;
	struct hn_timer		*t;
};

static uint64_t
fake_now_ms(void *ctx)
{
	return ((struct fake_io *)ctx)->now;
}

static uint64_t
fake_now_us(void *ctx)
{
	return ((struct fake_io *)ctx)->now * 1000;
}

static void
fake_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	struct fake_io *f = ctx;

	t->due = due;
	t->armed = true;
	f->t = t;
}

static void
fake_cancel(void *ctx, struct hn_timer *t)
{
	t->armed = false;
}

static void
fake_advance(struct fake_io *f, uint64_t ms)
{
	uint64_t end = f->now + ms;

	while (f->t != NULL && f->t->armed && f->t->due <= end) {
		f->now = f->t->due;
		f->t->armed = false;
		f->t->cb(f->t);
	}
	f->now = end;
}

static const struct hn_io_ops fake_ops = {
	.now_ms = fake_now_ms,
	.now_us = fake_now_us,
	.timer_arm = fake_arm,
	.timer_cancel = fake_cancel,
};

static void
keepalive(void)
{
	struct fake_io f = { .now = 1000 };
	struct hn_io io = { &fake_ops, &f };
	struct pair p;
	size_t base;

	pair_new(&p);
	/* receiving side: the peer's empty frames are eaten */
	secretstream_set_keepalive(p.r, &io, 0);
	secretstream_set_filter_empty(p.r, true);
	secretstream_set_keepalive(p.i, &io, SECRETSTREAM_KEEPALIVE_MS);
	CHECK(f.t != NULL && f.t->armed && f.t->due == 6000);
	base = p.si.outlen;
	fake_advance(&f, 4999);
	CHECK_UINT(p.si.outlen, base);
	fake_advance(&f, 1);
	CHECK_UINT(p.si.outlen, base + 20);		/* one empty frame */
	CHECK_HEX(p.si.out + base, 3, "110000");
	/* a write at 8000 moves the next keep-alive to 13000 */
	fake_advance(&f, 2000);
	CHECK_INT(secretstream_write(p.i, (const uint8_t *)"data", 4), 0);
	base = p.si.outlen;
	fake_advance(&f, 4999);
	CHECK_UINT(p.si.outlen, base);
	fake_advance(&f, 1);
	CHECK_UINT(p.si.outlen, base + 20);
	fake_advance(&f, 15000);			/* three more */
	CHECK_UINT(p.si.outlen, base + 80);
	/* the receiver sees only "data" */
	CHECK_INT(secretstream_input(p.r, p.si.out, p.si.outlen), 0);
	CHECK_UINT(p.sr.nmsg, 1);
	CHECK(p.sr.nmsg == 1 && p.sr.msglen[0] == 4);
	/* ending stops it */
	secretstream_end(p.i);
	CHECK(!f.t->armed);
	base = p.si.outlen;
	fake_advance(&f, 60000);
	CHECK_UINT(p.si.outlen, base);
	pair_free(&p);
}

static void
keepalive_before_start(void)
{
	struct fake_io f = { .now = 0 };
	struct hn_io io = { &fake_ops, &f };
	struct noise_result ri, rr;
	struct sink s = { 0 };
	struct secretstream *ss;

	live_results(&ri, &rr);
	ss = secretstream_new(&ri, &sink_ops, &s);
	secretstream_set_keepalive(ss, &io, 100);
	CHECK(f.t == NULL || !f.t->armed);	/* nothing before start */
	CHECK_INT(secretstream_start(ss), 0);
	CHECK(f.t != NULL && f.t->armed && f.t->due == 100);
	fake_advance(&f, 100);
	CHECK_UINT(s.outlen, 59 + 20);
	secretstream_set_keepalive(ss, NULL, 0);	/* off again */
	CHECK(!f.t->armed);
	fake_advance(&f, 1000);
	CHECK_UINT(s.outlen, 59 + 20);
	secretstream_free(ss);
	sink_free(&s);
}

static const struct test tests[] = {
	TEST(ids_and_keys),
	TEST(initiator_frames_vector),
	TEST(responder_frames_vector),
	TEST(decrypt_initiator_vector),
	TEST(decrypt_responder_vector),
	TEST(filter_empty_frames),
	TEST(initiator_send_message_vector),
	TEST(responder_send_message_vector),
	TEST(round_trip_chunked),
	TEST(round_trip_every_boundary),
	TEST(invalid_header),
	TEST(invalid_data_frames),
	TEST(write_limits),
	TEST(unordered_rejects),
	TEST(unordered_counter_little_endian),
	TEST(keepalive),
	TEST(keepalive_before_start),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("secretstream", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}

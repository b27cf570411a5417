/*
 * secretstream.c - @hyperswarm/secret-stream framing and crypto
 * (spec/secretstream.md)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cursor.h"
#include "io.h"
#include "keys.h"
#include "secretstream.h"

struct secretstream {
	const struct secretstream_ops	*ops;
	void				*ctx;
	bool				 initiator;
	bool				 started;
	bool				 ended;
	bool				 failed;
	bool				 remote_open;
	bool				 filter_empty;

	uint8_t				 rx[32];
	uint8_t				 local_id[32];
	uint8_t				 remote_id[32];
	uint8_t				 header[SECRETSTREAM_HEADER_LEN];
	crypto_secretstream_xchacha20poly1305_state push;
	crypto_secretstream_xchacha20poly1305_state pull;

	/* unordered messages (§5) */
	uint8_t				 send_key[32];
	uint8_t				 recv_key[32];
	uint8_t				 counter[8];
	uint8_t				 counter_init[8];

	/* frame parser */
	uint8_t				 lenbuf[3];
	size_t				 lenhave;
	size_t				 flen;
	size_t				 fhave;
	uint8_t				*rbuf;		/* partial frame body */
	size_t				 rcap;
	uint8_t				*pbuf;		/* plaintext */
	size_t				 pcap;
	uint8_t				*wbuf;		/* outgoing frame */
	size_t				 wcap;

	/* keep-alive */
	const struct hn_io		*io;
	uint32_t			 keepalive_ms;
	struct hn_timer			 keepalive;
};

/*
 * Make *buf hold at least `need` bytes, keeping the first `keep` bytes.
 * Grows geometrically, so a peer announcing a 16 MB frame costs memory
 * only as its bytes arrive.
 */
static int
grow(uint8_t **buf, size_t *cap, size_t need, size_t keep)
{
	size_t ncap;
	uint8_t *p;

	if (*cap >= need && *buf != NULL)
		return 0;
	ncap = *cap * 2;
	if (ncap < need)
		ncap = need;
	if (ncap < 256)
		ncap = 256;
	if ((p = malloc(ncap)) == NULL)
		return -ENOMEM;
	if (*buf != NULL) {
		memcpy(p, *buf, keep);
		sodium_memzero(*buf, *cap);
		free(*buf);
	}
	*buf = p;
	*cap = ncap;
	return 0;
}

static void
namespace(uint8_t out[32], int idx)
{
	keys_namespace(out, "hyperswarm/secret-stream", (uint8_t)idx);
}

void
secretstream_stream_id(uint8_t out[SECRETSTREAM_ID_LEN],
    const uint8_t hash[NOISE_HASH_LEN], bool initiator)
{
	uint8_t ns[32];

	namespace(ns, initiator ? 0 : 1);
	crypto_generichash(out, 32, ns, sizeof(ns), hash, NOISE_HASH_LEN);
}

/* BLAKE2b-256(NS_role || NS_SEND; key = hash) (§5) */
static void
send_key(uint8_t out[32], const uint8_t hash[NOISE_HASH_LEN], bool initiator)
{
	uint8_t in[64];

	namespace(in, initiator ? 0 : 1);
	namespace(in + 32, 2);
	crypto_generichash(out, 32, in, sizeof(in), hash, NOISE_HASH_LEN);
}

/*
 * init_push with a chosen header, exactly as libsodium builds the state
 * from its random one: k = HChaCha20(key, header[0..16]), counter 1,
 * inonce = header[16..24].
 */
static void
init_push_fixed(crypto_secretstream_xchacha20poly1305_state *st,
    const uint8_t header[24], const uint8_t key[32])
{
	memset(st, 0, sizeof(*st));
	crypto_core_hchacha20(st->k, header, key, NULL);
	st->nonce[0] = 1;
	memcpy(st->nonce + 4, header + 16, 8);
}

static struct secretstream *
ss_new(const struct noise_result *r, const struct secretstream_ops *ops,
    void *ctx, const uint8_t *header, const uint8_t *counter)
{
	struct secretstream *ss;

	if (r == NULL || ops == NULL || ops->write == NULL)
		return NULL;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	ss->ops = ops;
	ss->ctx = ctx;
	ss->initiator = r->initiator;
	memcpy(ss->rx, r->rx, 32);
	secretstream_stream_id(ss->local_id, r->hash, r->initiator);
	secretstream_stream_id(ss->remote_id, r->hash, !r->initiator);
	if (header != NULL) {
		memcpy(ss->header, header, SECRETSTREAM_HEADER_LEN);
		init_push_fixed(&ss->push, header, r->tx);
	} else {
		crypto_secretstream_xchacha20poly1305_init_push(&ss->push,
		    ss->header, r->tx);
	}
	send_key(ss->send_key, r->hash, r->initiator);
	send_key(ss->recv_key, r->hash, !r->initiator);
	if (counter != NULL)
		memcpy(ss->counter, counter, 8);
	else
		randombytes_buf(ss->counter, 8);
	memcpy(ss->counter_init, ss->counter, 8);
	hn_timer_init(&ss->keepalive, NULL);
	return ss;
}

struct secretstream *
secretstream_new(const struct noise_result *r,
    const struct secretstream_ops *ops, void *ctx)
{
	return ss_new(r, ops, ctx, NULL, NULL);
}

struct secretstream *
secretstream_new_fixed(const struct noise_result *r,
    const struct secretstream_ops *ops, void *ctx,
    const uint8_t header[SECRETSTREAM_HEADER_LEN], const uint8_t counter[8])
{
	return ss_new(r, ops, ctx, header, counter);
}

static void
keepalive_stop(struct secretstream *ss)
{
	if (ss->io != NULL && ss->keepalive.armed)
		hn_timer_cancel(ss->io, &ss->keepalive);
}

static void
keepalive_arm(struct secretstream *ss)
{
	if (ss->io != NULL && ss->keepalive_ms > 0 && ss->started &&
	    !ss->ended && !ss->failed)
		hn_timer_after(ss->io, &ss->keepalive, ss->keepalive_ms);
}

void
secretstream_free(struct secretstream *ss)
{
	if (ss == NULL)
		return;
	keepalive_stop(ss);
	if (ss->rbuf != NULL)
		sodium_memzero(ss->rbuf, ss->rcap);
	if (ss->pbuf != NULL)
		sodium_memzero(ss->pbuf, ss->pcap);
	if (ss->wbuf != NULL)
		sodium_memzero(ss->wbuf, ss->wcap);
	free(ss->rbuf);
	free(ss->pbuf);
	free(ss->wbuf);
	sodium_memzero(ss, sizeof(*ss));
	free(ss);
}

static void
store_u24le(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

int
secretstream_start(struct secretstream *ss)
{
	uint8_t frame[SECRETSTREAM_HEADER_FRAME_LEN];

	if (ss->started)
		return -EALREADY;
	ss->started = true;
	store_u24le(frame, 32 + SECRETSTREAM_HEADER_LEN);
	memcpy(frame + 3, ss->local_id, 32);
	memcpy(frame + 3 + 32, ss->header, SECRETSTREAM_HEADER_LEN);
	keepalive_arm(ss);
	return ss->ops->write(ss->ctx, frame, sizeof(frame));
}

static int
write_frame(struct secretstream *ss, const uint8_t *msg, size_t len)
{
	size_t flen = len + SECRETSTREAM_ABYTES;
	int err;

	if ((err = grow(&ss->wbuf, &ss->wcap, 3 + flen, 0)) != 0)
		return err;
	store_u24le(ss->wbuf, flen);
	crypto_secretstream_xchacha20poly1305_push(&ss->push, ss->wbuf + 3,
	    NULL, msg, len, NULL, 0,
	    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	keepalive_arm(ss);	/* every write resets the timer */
	/* ciphertext only: nothing to wipe */
	return ss->ops->write(ss->ctx, ss->wbuf, 3 + flen);
}

int
secretstream_write(struct secretstream *ss, const uint8_t *msg, size_t len)
{
	if (!ss->started)
		return -ENOTCONN;
	if (ss->ended || ss->failed)
		return -EPIPE;
	if (len > SECRETSTREAM_MESSAGE_MAX)
		return -EMSGSIZE;
	return write_frame(ss, msg, len);
}

static void
keepalive_fire(struct hn_timer *t)
{
	struct secretstream *ss = container_of(t, struct secretstream,
	    keepalive);

	if (!ss->started || ss->ended || ss->failed)
		return;
	(void)write_frame(ss, NULL, 0);	/* re-arms */
}

void
secretstream_set_keepalive(struct secretstream *ss, const struct hn_io *io,
    uint32_t ms)
{
	keepalive_stop(ss);
	ss->io = io;
	ss->keepalive_ms = io != NULL ? ms : 0;
	ss->filter_empty = ss->keepalive_ms > 0;
	hn_timer_init(&ss->keepalive, keepalive_fire);
	keepalive_arm(ss);
}

void
secretstream_set_filter_empty(struct secretstream *ss, bool on)
{
	ss->filter_empty = on;
}

void
secretstream_end(struct secretstream *ss)
{
	ss->ended = true;
	keepalive_stop(ss);
}

bool
secretstream_is_open(const struct secretstream *ss)
{
	return ss->remote_open;
}

bool
secretstream_failed(const struct secretstream *ss)
{
	return ss->failed;
}

const uint8_t *
secretstream_local_id(const struct secretstream *ss)
{
	return ss->local_id;
}

const uint8_t *
secretstream_remote_id(const struct secretstream *ss)
{
	return ss->remote_id;
}

/* One complete frame body (§3.1, §3.2). */
static int
handle_frame(struct secretstream *ss, const uint8_t *body, size_t len)
{
	unsigned long long mlen;
	unsigned char tag;
	int err;

	if (!ss->remote_open) {
		/* "Invalid header message received" / "Invalid header received" */
		if (len != 32 + SECRETSTREAM_HEADER_LEN ||
		    sodium_memcmp(body, ss->remote_id, 32) != 0)
			return -EBADMSG;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&ss->pull,
		    body + 32, ss->rx) != 0)
			return -EBADMSG;
		ss->remote_open = true;
		if (ss->ops->open != NULL)
			ss->ops->open(ss->ctx);
		return 0;
	}
	if (len < SECRETSTREAM_ABYTES)
		return -EBADMSG;	/* "Invalid message received" */
	if ((err = grow(&ss->pbuf, &ss->pcap, len - SECRETSTREAM_ABYTES + 1,
	    0)) != 0)
		return err;
	/* the tag is not inspected, as in the reference */
	if (crypto_secretstream_xchacha20poly1305_pull(&ss->pull, ss->pbuf,
	    &mlen, &tag, body, len, NULL, 0) != 0)
		return -EBADMSG;
	if (mlen == 0 && ss->filter_empty)
		return 0;
	if (ss->ops->message != NULL)
		ss->ops->message(ss->ctx, ss->pbuf, (size_t)mlen);
	sodium_memzero(ss->pbuf, (size_t)mlen);
	return 0;
}

static int
fail(struct secretstream *ss, int err)
{
	ss->failed = true;
	keepalive_stop(ss);
	return err;
}

int
secretstream_input(struct secretstream *ss, const uint8_t *buf, size_t len)
{
	const uint8_t *frame;
	size_t off = 0, n;
	int err;

	if (ss->failed)
		return -EPIPE;
	while (!ss->failed) {
		if (ss->lenhave < 3) {
			if (off == len)
				break;
			ss->lenbuf[ss->lenhave++] = buf[off++];
			if (ss->lenhave == 3) {
				ss->flen = (size_t)ss->lenbuf[0] |
				    (size_t)ss->lenbuf[1] << 8 |
				    (size_t)ss->lenbuf[2] << 16;
				ss->fhave = 0;
			}
			continue;
		}
		if (ss->fhave == 0 && len - off >= ss->flen) {
			/* the whole body is in this chunk: no copy */
			frame = buf + off;
			off += ss->flen;
		} else {
			if (off == len)
				break;
			n = ss->flen - ss->fhave;
			if (n > len - off)
				n = len - off;
			if ((err = grow(&ss->rbuf, &ss->rcap, ss->fhave + n,
			    ss->fhave)) != 0)
				return fail(ss, err);
			memcpy(ss->rbuf + ss->fhave, buf + off, n);
			ss->fhave += n;
			off += n;
			if (ss->fhave < ss->flen)
				break;
			frame = ss->rbuf;
		}
		ss->lenhave = 0;
		ss->fhave = 0;
		if ((err = handle_frame(ss, frame, ss->flen)) != 0)
			return fail(ss, err);
	}
	return 0;
}

int
secretstream_box_message(struct secretstream *ss, const uint8_t *msg,
    size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];

	if (ss->failed)
		return -EPIPE;
	if (cap < len + SECRETSTREAM_BOX_OVERHEAD)
		return -ENOSPC;
	sodium_increment(ss->counter, sizeof(ss->counter));
	if (sodium_memcmp(ss->counter, ss->counter_init, 8) == 0)
		return fail(ss, -EPIPE);	/* "udp send nonce exhausted" */
	memset(nonce, 0, sizeof(nonce));
	memcpy(nonce, ss->counter, 8);
	crypto_secretbox_easy(out + 8, len ? msg : nonce, len, nonce,
	    ss->send_key);
	memcpy(out, ss->counter, 8);
	*outlen = len + SECRETSTREAM_BOX_OVERHEAD;
	return 0;
}

int
secretstream_unbox_message(const struct secretstream *ss, const uint8_t *in,
    size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];

	if (len < SECRETSTREAM_BOX_OVERHEAD)
		return -EBADMSG;
	if (cap < len - SECRETSTREAM_BOX_OVERHEAD)
		return -ENOSPC;
	memset(nonce, 0, sizeof(nonce));
	memcpy(nonce, in, 8);
	if (crypto_secretbox_open_easy(out, in + 8, len - 8, nonce,
	    ss->recv_key) != 0)
		return -EBADMSG;
	*outlen = len - SECRETSTREAM_BOX_OVERHEAD;
	return 0;
}

/*
 * secretstream.h - @hyperswarm/secret-stream on a hyperdht connection
 * (spec/secretstream.md)
 *
 * Sans-I/O.  The owner feeds the bytes of the reliable UDX stream to
 * secretstream_input() and gets decrypted messages through ops->message;
 * everything that must go on the stream (the header frame, data frames,
 * keep-alives) leaves through ops->write, in order.  Unordered messages
 * (`send()`) are boxed and opened here but travel as UDX MESSAGE packets
 * that the owner sends and receives itself.  Raw messages
 * (`rawStream.send`, the only kind hyper-nat uses) never pass through here:
 * a MESSAGE payload is plaintext for the raw path and a candidate for
 * secretstream_unbox_message() for the secret path (§7).
 *
 * Frames on the stream: uint24 LE length, then the body.  The first frame
 * each way is streamId (32) || xchacha20poly1305 secretstream header (24);
 * every later one is crypto_secretstream_xchacha20poly1305_push(msg,
 * TAG_MESSAGE) (msg + 17 bytes).  An empty message is the keep-alive.
 * There is no FINAL frame: end of stream is a UDX END.
 *
 * Callbacks run from inside secretstream_input() / _start() / _write() and
 * the keep-alive timer.  `message` and `open` may call secretstream_write()
 * and secretstream_end(); `write` must not call back into the stream; none
 * may free it.
 */
#ifndef HN_SECRETSTREAM_H
#define HN_SECRETSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "noise.h"

#define SECRETSTREAM_ID_LEN		32
#define SECRETSTREAM_HEADER_LEN		24
#define SECRETSTREAM_HEADER_FRAME_LEN	(3 + 32 + 24)
#define SECRETSTREAM_ABYTES		17	/* tag byte + 16-byte MAC */
#define SECRETSTREAM_FRAME_MAX		0xffffff
/* Largest message one write may carry (one write = one frame). */
#define SECRETSTREAM_MESSAGE_MAX	(SECRETSTREAM_FRAME_MAX - SECRETSTREAM_ABYTES)
/* Unordered messages: counter (8) || secretbox MAC (16) || ciphertext. */
#define SECRETSTREAM_BOX_OVERHEAD	24
/* hyperdht 6.34 default; @hyperswarm/dht 6.5.1 sends none (§4). */
#define SECRETSTREAM_KEEPALIVE_MS	5000

struct secretstream;

struct secretstream_ops {
	/*
	 * Queue `len` bytes on the reliable stream; copy them before
	 * returning.  Returns 0 or -errno (passed back to the caller of the
	 * function that wrote).
	 */
	int	(*write)(void *ctx, const uint8_t *buf, size_t len);
	/* One received message; `buf` is valid during the call only. */
	void	(*message)(void *ctx, const uint8_t *buf, size_t len);
	/* Optional: the peer's header frame arrived and matched. */
	void	(*open)(void *ctx);
};

/*
 * A SecretStream for a finished handshake (`r`: role, tx, rx, hash are
 * used).  The push header and the unordered-message counter are random.
 * Returns NULL if out of memory.  Nothing is written until
 * secretstream_start().
 */
struct secretstream *secretstream_new(const struct noise_result *r,
	    const struct secretstream_ops *ops, void *ctx);
/*
 * The same with a fixed push header (24 bytes) and initial counter (8
 * bytes): for vectors and tests only.
 */
struct secretstream *secretstream_new_fixed(const struct noise_result *r,
	    const struct secretstream_ops *ops, void *ctx,
	    const uint8_t header[SECRETSTREAM_HEADER_LEN],
	    const uint8_t counter[8]);
/* Wipe and free; cancels the keep-alive timer.  NULL is a no-op. */
void	secretstream_free(struct secretstream *ss);

/*
 * Write the header frame (call once, when the stream connects; the
 * reference never waits for the peer's header) and start the keep-alive
 * timer if one is set.  Returns 0, -EALREADY, or the write error.
 */
int	secretstream_start(struct secretstream *ss);

/*
 * Encrypt `len` bytes as one frame and write it.  Returns 0, -ENOTCONN
 * (not started), -EPIPE (ended or failed), -EMSGSIZE (len >
 * SECRETSTREAM_MESSAGE_MAX), -ENOMEM or the write error.  Resets the
 * keep-alive timer.
 */
int	secretstream_write(struct secretstream *ss, const uint8_t *msg,
	    size_t len);

/*
 * Feed bytes read from the stream, split anywhere.  Complete frames are
 * handled in order: the first must be the peer's header frame (length 56,
 * the expected stream id), the rest data frames (length >= 17, must
 * authenticate).  Returns 0; -EBADMSG when the peer sent something invalid
 * (the reference destroys the connection: so should the caller); -EPIPE
 * if the stream had already failed; -ENOMEM.
 */
int	secretstream_input(struct secretstream *ss, const uint8_t *buf,
	    size_t len);

/*
 * Keep-alive (§4): with ms > 0, an empty frame is written whenever ms
 * milliseconds pass without a write, using `io` for the clock and the
 * timer, and empty frames received are dropped instead of delivered (as
 * the reference does when its own keep-alive is on).  ms = 0 turns both
 * off.  `io` must outlive the stream.
 */
void	secretstream_set_keepalive(struct secretstream *ss,
	    const struct hn_io *io, uint32_t ms);
/* Drop (true) or deliver (false, the default) empty received frames. */
void	secretstream_set_filter_empty(struct secretstream *ss, bool on);

/* No more writes (the caller ends the UDX stream); stops the keep-alive. */
void	secretstream_end(struct secretstream *ss);

bool	secretstream_is_open(const struct secretstream *ss);	/* header in */
bool	secretstream_failed(const struct secretstream *ss);
const uint8_t *secretstream_local_id(const struct secretstream *ss);
const uint8_t *secretstream_remote_id(const struct secretstream *ss);

/*
 * Unordered message (§5): out = counter (8) || secretbox(msg) with the
 * send key; `out` needs len + SECRETSTREAM_BOX_OVERHEAD bytes.  Returns 0,
 * -ENOSPC, or -EPIPE when the counter wrapped (the stream fails, as the
 * reference destroys it).
 */
int	secretstream_box_message(struct secretstream *ss, const uint8_t *msg,
	    size_t len, uint8_t *out, size_t cap, size_t *outlen);
/*
 * Open a received MESSAGE payload with the receive key into `out` (len -
 * 24 bytes).  Returns 0 or -EBADMSG (too short, or not ours: a raw
 * message, a forgery), which the reference ignores silently; -ENOSPC.
 */
int	secretstream_unbox_message(const struct secretstream *ss,
	    const uint8_t *in, size_t len, uint8_t *out, size_t cap,
	    size_t *outlen);

/* streamId(role) = BLAKE2b-256(NS_role; key = hash) (§2). */
void	secretstream_stream_id(uint8_t out[SECRETSTREAM_ID_LEN],
	    const uint8_t hash[NOISE_HASH_LEN], bool initiator);

#endif

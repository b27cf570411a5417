/*
 * fuzz_ss.c - the SecretStream frame parser on arbitrary bytes after a
 * valid header
 *
 * A responder with connect.json's keys reads the reference initiator's
 * header frame, then the input.  The first input byte sets the chunk size
 * (1..256) the rest is fed in, so frames are split at every kind of
 * boundary.  Nothing may crash, errors must be -EBADMSG and sticky, and a
 * message can only come out of a frame that authenticated.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/noise/noise.h"
#include "daemon/noise/secretstream.h"
#include "hex.h"
#include "keys.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct noise_result res;
static uint8_t header_frame[SECRETSTREAM_HEADER_FRAME_LEN];
static size_t delivered;

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	check(keys_init() == 0);
	/* connect.json#secret_stream, responder side */
	res.initiator = false;
	check(hex_decode(res.hash, 64, "a636bf53f613790b22b5f76bacc2c803ed8a41"
	    "9d43ff7487730cb1a2ac44945356ff9c609a571bd6a374d9986d9f3cb54b15faf1"
	    "3b6c93121a7372041d2f9552") == 64);
	check(hex_decode(res.tx, 32, "26e118d572c74344d8ecbf0a20e7eb57bb5726"
	    "98aabeacd6607b31e025568526") == 32);
	check(hex_decode(res.rx, 32, "a8f539df0d91635df098a7fa8a9f45a1907c8d"
	    "ad1680f6bf5a780aa4e1e89865") == 32);
	check(hex_decode(header_frame, sizeof(header_frame), "38000036baf2c39f"
	    "2455cdeaa0a95495fda61f78f726d4893336829b70ac3ecdf895c4a0a1a2a3a4"
	    "a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7") ==
	    SECRETSTREAM_HEADER_FRAME_LEN);
}

static int
on_write(void *ctx, const uint8_t *buf, size_t len)
{
	return 0;
}

static void
on_message(void *ctx, const uint8_t *buf, size_t len)
{
	volatile uint8_t sink = 0;
	size_t i;

	for (i = 0; i < len; i++)	/* touch every byte for ASan */
		sink ^= buf[i];
	(void)sink;
	delivered++;
}

static const struct secretstream_ops ops = {
	.write = on_write,
	.message = on_message,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secretstream *ss;
	size_t chunk, off, n;
	int err = 0;

	setup();
	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++, size--;
	check((ss = secretstream_new(&res, &ops, NULL)) != NULL);
	check(secretstream_start(ss) == 0);
	check(secretstream_input(ss, header_frame, sizeof(header_frame)) == 0);
	check(secretstream_is_open(ss));
	delivered = 0;
	for (off = 0; off < size && err == 0; off += n) {
		n = size - off < chunk ? size - off : chunk;
		err = secretstream_input(ss, data + off, n);
		check(err == 0 || err == -EBADMSG);
	}
	if (err != 0) {
		check(secretstream_failed(ss));
		check(secretstream_input(ss, data, size) == -EPIPE);
	}
	/* each message needs a frame of at least 3 + 17 bytes */
	check(delivered * 20 <= size);
	secretstream_free(ss);
	return 0;
}

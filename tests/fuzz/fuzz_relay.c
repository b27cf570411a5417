/*
 * fuzz_relay.c - the blind relay's decoders (daemon/connect/relay.h)
 *
 * First byte selects: 0 pair (a decoded message must encode back to a
 * message that decodes the same), 1 unpair, 2 a relay server session, 3 a
 * relay client; for 2 and 3 the rest is split into Protomux frames at
 * 0xa5 0x5a markers and fed in order.  Paired relay streams are counted
 * and every one must be destroyed by the time the server is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/connect/relay.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int	live_streams;
static int	stream_ids;

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
sink(void *arg, const uint8_t *msg, size_t len)
{
	check(len > 0 && len <= 128);
	return 0;
}

static int
create_stream(void *arg, struct relay_session *sess, uint64_t remote_id,
    void **stream, uint64_t *local_id)
{
	live_streams++;
	*stream = &live_streams;
	*local_id = (uint64_t)++stream_ids;
	return 0;
}

static void
link_streams(void *arg, void *a, void *b)
{
	check(a != NULL && b != NULL);
}

static void
destroy_stream(void *arg, void *stream)
{
	check(stream == &live_streams);
	live_streams--;
}

static void
on_pair(struct relay_client *c, const uint8_t token[32], uint64_t id,
    void *arg)
{
}

static void
feed(const uint8_t *p, size_t n, struct relay_session *s,
    struct relay_client *c)
{
	size_t start = 0;

	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != 0xa5 || p[i + 1] != 0x5a)
			continue;
		if (s != NULL)
			(void)relay_session_input(s, p + start, i - start);
		else
			(void)relay_client_input(c, p + start, i - start);
		start = i + 2;
	}
	if (s != NULL)
		(void)relay_session_input(s, p + start, n - start);
	else
		(void)relay_client_input(c, p + start, n - start);
}

static void
pair_round_trip(const uint8_t *p, size_t n)
{
	struct relay_pair m, m2;
	uint8_t out[RELAY_PAIR_MAX_SIZE];
	size_t len;

	if (relay_pair_decode(&m, p, n) != 0)
		return;
	check(relay_pair_encode(&m, out, sizeof(out), &len) == 0);
	check(relay_pair_decode(&m2, out, len) == 0);
	check(m.is_initiator == m2.is_initiator && m.id == m2.id &&
	    m.seq == m2.seq && memcmp(m.token, m2.token, 32) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pk[32] = { 0xa0 };
	struct relay_server_cbs scbs = { create_stream, link_streams,
	    destroy_stream, NULL };
	struct relay_client_cbs ccbs = { sink, on_pair, NULL, NULL };
	uint8_t tok[32];

	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0:
		pair_round_trip(data + 1, size - 1);
		break;
	case 1:
		(void)relay_unpair_decode(tok, data + 1, size - 1);
		break;
	case 2: {
		struct relay_server *s = relay_server_new(&scbs);
		struct relay_session *a, *b;

		check(s != NULL);
		a = relay_server_accept(s, pk, sink, NULL);
		b = relay_server_accept(s, pk, sink, NULL);
		feed(data + 1, size - 1, (data[0] & 4) ? b : a, NULL);
		feed(data + 1, size - 1, (data[0] & 4) ? a : b, NULL);
		if (data[0] & 8)
			relay_session_free(a);
		relay_server_free(s);
		check(live_streams == 0);
		break;
	}
	default: {
		struct relay_client *c = relay_client_new(pk, &ccbs);

		check(c != NULL);
		memset(tok, 0x11, sizeof(tok));
		(void)relay_client_pair(c, true, tok, 7);
		feed(data + 1, size - 1, NULL, c);
		relay_client_free(c);
		break;
	}
	}
	return 0;
}

/*
 * ids.c - node ids, XOR distance and tokens (spec/dht.md §4-§6)
 */
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "ids.h"
#include "keys.h"

void
dht_node_id(uint8_t out[32], const struct hn_addr *addr)
{
	uint8_t enc[CENC_IPV4_SIZE];
	struct cur c;

	cur_init_write(&c, enc, sizeof(enc));
	cenc_put_ipv4(&c, addr);
	keys_hash(out, enc, sizeof(enc));
}

bool
dht_id_valid(const uint8_t id[32], const struct hn_addr *from)
{
	uint8_t want[32];

	dht_node_id(want, from);
	return sodium_memcmp(want, id, 32) == 0;
}

int
dht_id_cmp(const uint8_t target[32], const uint8_t a[32], const uint8_t b[32])
{
	int i;

	for (i = 0; i < 32; i++) {
		if (a[i] == b[i])
			continue;
		return (int)(target[i] ^ a[i]) - (int)(target[i] ^ b[i]);
	}
	return 0;
}

int
dht_id_bucket(const uint8_t own[32], const uint8_t id[32])
{
	int i, bit;
	uint8_t x;

	for (i = 0; i < 32; i++) {
		if ((x = own[i] ^ id[i]) == 0)
			continue;
		for (bit = 0; !(x & 0x80); bit++)
			x <<= 1;
		return i * 8 + bit;
	}
	return 255;
}

void
dht_token(uint8_t out[32], const uint8_t ip[4], const uint8_t secret[32])
{
	char host[16];
	int n;

	/* §5, pitfall 2: the input is the dotted-quad text, no port */
	n = addr_format_ip(ip, host);
	keys_hash_keyed(out, host, (size_t)n, secret);
}

void
dht_tokens_init(struct dht_tokens *t, const uint8_t prev[32],
    const uint8_t cur[32])
{
	memcpy(t->secrets[0], prev, 32);
	memcpy(t->secrets[1], cur, 32);
}

void
dht_tokens_issue(const struct dht_tokens *t, const uint8_t ip[4],
    uint8_t out[32])
{
	dht_token(out, ip, t->secrets[1]);
}

bool
dht_tokens_check(const struct dht_tokens *t, const uint8_t ip[4],
    const uint8_t token[32])
{
	uint8_t want[32];
	int i;

	for (i = 1; i >= 0; i--) {
		dht_token(want, ip, t->secrets[i]);
		if (sodium_memcmp(want, token, 32) == 0)
			return true;
	}
	return false;
}

void
dht_tokens_rotate(struct dht_tokens *t)
{
	uint8_t old0[32];

	memcpy(old0, t->secrets[0], 32);
	memcpy(t->secrets[0], t->secrets[1], 32);
	keys_hash(t->secrets[1], old0, 32);
	sodium_memzero(old0, sizeof(old0));
}

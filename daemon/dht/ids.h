/*
 * ids.h - node ids, XOR distance and write tokens (spec/dht.md §4, §5, §6)
 */
#ifndef HN_DHT_IDS_H
#define HN_DHT_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* id = H(ipv4Address(addr)) (§4). */
void	dht_node_id(uint8_t out[32], const struct hn_addr *addr);
/* True when `id` is the id of `from` (§3.5 rule 2). */
bool	dht_id_valid(const uint8_t id[32], const struct hn_addr *from);

/*
 * XOR ordering towards `target`: <0 when a is closer than b, 0 when equal,
 * >0 when farther (§6, dht-rpc Query._compare).
 */
int	dht_id_cmp(const uint8_t target[32], const uint8_t a[32],
	    const uint8_t b[32]);
/* Row of `id` in a table owned by `own`: first differing bit, 255 if equal. */
int	dht_id_bucket(const uint8_t own[32], const uint8_t id[32]);

/*
 * Tokens (§5): token(host, secret) = H_secret(ascii dotted host).  A node
 * issues token(host, current) and accepts current or previous.  rotate():
 * previous <- current, current <- H(old previous), every 7.5 s.
 */
struct dht_tokens {
	uint8_t		secrets[2][32];	/* [0] previous, [1] current */
};

void	dht_token(uint8_t out[32], const uint8_t ip[4], const uint8_t secret[32]);
void	dht_tokens_init(struct dht_tokens *t, const uint8_t prev[32],
	    const uint8_t cur[32]);
void	dht_tokens_issue(const struct dht_tokens *t, const uint8_t ip[4],
	    uint8_t out[32]);
bool	dht_tokens_check(const struct dht_tokens *t, const uint8_t ip[4],
	    const uint8_t token[32]);
void	dht_tokens_rotate(struct dht_tokens *t);

#endif

/*
 * identity.h - the key pair this node is known by (DESIGN.md §3)
 *
 * The base key pair comes from identity.secret (hyper-nat compatible:
 * seed = BLAKE2b-256(secret)) or from a key file holding a random 32-byte
 * seed as 64 hex digits and a newline, created on first start with mode
 * 0600 (written to a temporary file, synced, then linked into place so a
 * crash never leaves half a key and two starts never overwrite each
 * other).  A key file that others may read or write is refused.
 *
 * Each export is served under keys_derive(base, proto + port), as
 * hyper-nat does; the key hypernatd connects with as a client is
 * keys_derive(base, "client"): stable across restarts, so an exporter can
 * allow-list it, and unrelated to any export key ("client" is no proto +
 * port name).
 */
#ifndef HN_IDENTITY_H
#define HN_IDENTITY_H

#include <stdint.h>

#include "keys.h"
#include "base58.h"

#define IDENTITY_B58_LEN	BASE58_ENCODED_SIZE(KEYS_PK_LEN)
#define IDENTITY_ERR_LEN	512

struct identity {
	struct keypair	base;
	struct keypair	client;
	char		base_b58[IDENTITY_B58_LEN];
	char		client_b58[IDENTITY_B58_LEN];
	bool		from_secret;
};

/*
 * Load from `secret` when not NULL, else from the key file at `key_file`
 * (created when missing; its directory must exist).  Returns 0 or -errno
 * with a message in err (IDENTITY_ERR_LEN bytes): -EPERM for a key file
 * others can access, -EINVAL for a malformed one.
 */
int	identity_load(struct identity *id, const char *secret,
	    const char *key_file, char *err);
/* Wipe every secret part. */
void	identity_wipe(struct identity *id);

/* The export key for proto + port, e.g. ("udp", 7913); 0 or -EINVAL. */
int	identity_export_key(const struct identity *id, const char *proto,
	    uint16_t port, uint8_t pk[KEYS_PK_LEN]);
/* The same from only a base public key (what an importer computes). */
int	identity_export_key_of(const uint8_t base_pk[KEYS_PK_LEN],
	    const char *proto, uint16_t port, uint8_t pk[KEYS_PK_LEN]);

#endif

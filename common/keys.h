/*
 * keys.h - hashes and key pairs as HyperDHT, keypear and hyper-nat use them
 *
 * spec/hypernat-app.md §3 (secret -> base key -> keypear service key, raw
 * scalar signatures), spec/dht.md §0 (BLAKE2b-256), connect.md (namespaces).
 * Secret fields are wiped by keys_wipe(); nothing here logs.
 */
#ifndef HN_KEYS_H
#define HN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_PK_LEN	32
#define KEYS_SEED_LEN	32
#define KEYS_SCALAR_LEN	32
#define KEYS_SIG_LEN	64
#define KEYS_HASH_LEN	32

/*
 * An Ed25519 key pair.  `scalar` is the private scalar a (a·B = pk), clamped
 * for a seed key pair, the keypear sum for a derived one.  A seed key pair
 * (has_seed) signs with standard Ed25519; a derived one has no seed and
 * signs from the scalar (keys_sign()).
 */
struct keypair {
	uint8_t		pk[KEYS_PK_LEN];
	uint8_t		scalar[KEYS_SCALAR_LEN];
	uint8_t		seed[KEYS_SEED_LEN];	/* valid if has_seed */
	bool		has_seed;
};

/* Call once before anything else here; returns 0 or -EIO. */
int	keys_init(void);

/* BLAKE2b-256 without a key: H(x) in spec/dht.md. */
void	keys_hash(uint8_t out[KEYS_HASH_LEN], const void *in, size_t len);
/* BLAKE2b-256 of the concatenation of two inputs. */
void	keys_hash2(uint8_t out[KEYS_HASH_LEN], const void *a, size_t alen,
	    const void *b, size_t blen);
/* Keyed BLAKE2b-256 with a 32-byte key: H_k(x). */
void	keys_hash_keyed(uint8_t out[KEYS_HASH_LEN], const void *in, size_t len,
	    const uint8_t key[32]);
/* hypercore-crypto namespace: H( H(utf8 name) || byte idx ). */
void	keys_namespace(uint8_t out[KEYS_HASH_LEN], const char *name,
	    uint8_t idx);

/* Key pair from a 32-byte seed (crypto_sign_seed_keypair). */
int	keys_from_seed(struct keypair *kp, const uint8_t seed[KEYS_SEED_LEN]);
/* hyper-nat: seed = BLAKE2b-256(utf8 secret), then keys_from_seed(). */
int	keys_from_secret(struct keypair *kp, const char *secret, size_t len);
/* A fresh random key pair. */
int	keys_generate(struct keypair *kp);

/*
 * keypear Keychain(base).get(name): the derived key pair, with no seed.
 * Returns 0 or -EINVAL.
 */
int	keys_derive(struct keypair *out, const struct keypair *base,
	    const char *name, size_t namelen);
/* The same derived public key from the base public key alone. */
int	keys_derive_public(uint8_t out[KEYS_PK_LEN],
	    const uint8_t base_pk[KEYS_PK_LEN], const char *name, size_t namelen);

/*
 * Sign `msg`: standard Ed25519 for a seed key pair, the keypear raw-scalar
 * scheme (spec/hypernat-app.md §3.3) otherwise.  Both verify with
 * keys_verify().  Returns 0 or -EINVAL.
 */
int	keys_sign(uint8_t sig[KEYS_SIG_LEN], const void *msg, size_t len,
	    const struct keypair *kp);
/* The raw-scalar scheme alone, for any scalar a with a·B = the verifier's key. */
int	keys_sign_scalar(uint8_t sig[KEYS_SIG_LEN], const void *msg, size_t len,
	    const uint8_t scalar[KEYS_SCALAR_LEN]);
bool	keys_verify(const uint8_t sig[KEYS_SIG_LEN], const void *msg,
	    size_t len, const uint8_t pk[KEYS_PK_LEN]);

/* Wipe the secret parts of kp. */
void	keys_wipe(struct keypair *kp);

#endif

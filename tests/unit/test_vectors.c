/*
 * test_vectors.c - common/ against known answers from the real JS packages
 *
 * Reads a vector file written by tests/interop/gen-vectors.js (one record a
 * line: TYPE FIELD...; `-` for empty) and checks every row with the C code.
 * Run with no argument it reads the checked-in copy tests/unit/vectors.kv;
 * `make check` also runs it on a file the script generated in the same run
 * ("test_vectors -- FILE").  Every record type must have rows, so a missing
 * or truncated file fails instead of passing empty.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base58.h"
#include "cenc.h"
#include "harness.h"
#include "hex.h"
#include "keys.h"

#define MAX_FIELDS	8

struct row {
	int	 nf;
	char	*f[MAX_FIELDS];
	int	 lineno;
};

static struct row *rows;
static size_t nrows;
static const char *path;

static void
load(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	FILE *fp;

	if (rows != NULL)
		return;
	path = harness_arg(0) ? harness_arg(0) : "tests/unit/vectors.kv";
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		struct row r = { .lineno = ++lineno };
		char *save, *tok;

		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (tok = strtok_r(line, " ", &save); tok && r.nf < MAX_FIELDS;
		    tok = strtok_r(NULL, " ", &save))
			r.f[r.nf++] = strdup(tok);
		rows = realloc(rows, (nrows + 1) * sizeof(*rows));
		if (rows == NULL)
			exit(2);
		rows[nrows++] = r;
	}
	free(line);
	fclose(fp);
}

/* Hex field to bytes; "-" is empty.  Caller frees. */
static uint8_t *
field_bytes(const char *f, size_t *len)
{
	if (strcmp(f, "-") == 0) {
		*len = 0;
		return calloc(1, 1);
	}
	return harness_unhex(f, len);
}

/* Call fn for every row of `type` with `nf` fields; fail if there are none. */
static void
each(const char *type, int nf, void (*fn)(const struct row *))
{
	size_t i, seen = 0;
	int before;

	load();
	for (i = 0; i < nrows; i++) {
		if (strcmp(rows[i].f[0], type) != 0)
			continue;
		seen++;
		if (rows[i].nf != nf) {
			harness_fail(__FILE__, __LINE__, "%s:%d: %d fields, want %d",
			    path, rows[i].lineno, rows[i].nf, nf);
			continue;
		}
		before = harness_failures();
		fn(&rows[i]);
		if (harness_failures() != before)
			fprintf(stderr, "    at %s:%d (%s)\n", path,
			    rows[i].lineno, type);
	}
	if (seen == 0)
		harness_fail(__FILE__, __LINE__, "%s: no \"%s\" rows", path, type);
}

/* Encode with `put` into a scratch buffer and compare with hex field. */
#define ENCODE_CHECK(hexfield, stmt) do {				\
	uint8_t buf_[80000];						\
	struct cur c_;							\
									\
	cur_init_write(&c_, buf_, sizeof(buf_));			\
	{ struct cur *w = &c_; stmt; }					\
	CHECK(cur_ok(&c_));						\
	if (strcmp((hexfield), "-") == 0)				\
		CHECK_UINT(c_.off, 0);					\
	else								\
		CHECK_HEX(buf_, c_.off, (hexfield));			\
} while (0)

static void
row_uint(const struct row *r)
{
	uint64_t v = strtoull(r->f[1], NULL, 10);
	size_t n;
	uint8_t *enc = field_bytes(r->f[2], &n);
	struct cur c;

	ENCODE_CHECK(r->f[2], cenc_put_uint(w, v));
	CHECK_UINT(cenc_uint_size(v), n);
	cur_init_read(&c, enc, n);
	CHECK_UINT(cenc_get_uint(&c), v);
	CHECK(cur_ok(&c) && cur_left(&c) == 0);
	free(enc);
}

static void
row_uint_decode(const struct row *r)
{
	size_t n;
	uint8_t *enc = field_bytes(r->f[1], &n);
	struct cur c;

	cur_init_read(&c, enc, n);
	CHECK_UINT(cenc_get_uint(&c), strtoull(r->f[2], NULL, 10));
	CHECK(cur_ok(&c));
	free(enc);
}

static void
row_fixed_int(const struct row *r, int width)
{
	uint64_t v = strtoull(r->f[1], NULL, 10);
	size_t n;
	uint8_t *enc = field_bytes(r->f[2], &n);
	struct cur c;

	switch (width) {
	case 16:
		ENCODE_CHECK(r->f[2], cur_put_u16le(w, (uint16_t)v));
		cur_init_read(&c, enc, n);
		CHECK_UINT(cur_get_u16le(&c), v);
		break;
	case 32:
		ENCODE_CHECK(r->f[2], cur_put_u32le(w, (uint32_t)v));
		cur_init_read(&c, enc, n);
		CHECK_UINT(cur_get_u32le(&c), v);
		break;
	default:
		ENCODE_CHECK(r->f[2], cur_put_u64le(w, v));
		cur_init_read(&c, enc, n);
		CHECK_UINT(cur_get_u64le(&c), v);
		break;
	}
	CHECK(cur_ok(&c) && cur_left(&c) == 0);
	free(enc);
}

static void row_uint16(const struct row *r) { row_fixed_int(r, 16); }
static void row_uint32(const struct row *r) { row_fixed_int(r, 32); }
static void row_uint64(const struct row *r) { row_fixed_int(r, 64); }

static void
row_buffer(const struct row *r)
{
	size_t n, en, got_n;
	uint8_t *content = field_bytes(r->f[1], &n);
	uint8_t *enc = field_bytes(r->f[2], &en);
	const uint8_t *got;
	struct cur c;

	ENCODE_CHECK(r->f[2], cenc_put_buffer(w, n ? content : NULL, n));
	CHECK_UINT(cenc_buffer_size(n), en);
	cur_init_read(&c, enc, en);
	got = cenc_get_buffer(&c, &got_n);
	CHECK(cur_ok(&c) && cur_left(&c) == 0);
	CHECK_UINT(got_n, n);
	if (n && CHECK(got != NULL))
		CHECK_MEM(got, content, n);
	if (n == 0)
		CHECK(got == NULL);
	free(content);
	free(enc);
}

static void
row_buffer_decode(const struct row *r)
{
	size_t en, n, got_n;
	uint8_t *enc = field_bytes(r->f[1], &en);
	uint8_t *content = field_bytes(r->f[2], &n);
	const uint8_t *got;
	struct cur c;

	cur_init_read(&c, enc, en);
	got = cenc_get_buffer(&c, &got_n);
	CHECK(cur_ok(&c));
	CHECK_UINT(got_n, n);
	if (n && CHECK(got != NULL))
		CHECK_MEM(got, content, n);
	free(enc);
	free(content);
}

static void
row_string(const struct row *r)
{
	size_t n;
	uint8_t *s = field_bytes(r->f[1], &n);

	ENCODE_CHECK(r->f[2], cenc_put_string(w, (const char *)s, n));
	free(s);
}

static void
row_fixed(const struct row *r, size_t width)
{
	size_t n, en;
	uint8_t *v = field_bytes(r->f[1], &n);
	uint8_t *enc = field_bytes(r->f[2], &en);
	uint8_t out[64];
	struct cur c;

	if (!CHECK(n == width))
		goto out;
	if (width == 32)
		ENCODE_CHECK(r->f[2], cenc_put_fixed32(w, v));
	else
		ENCODE_CHECK(r->f[2], cenc_put_fixed64(w, v));
	cur_init_read(&c, enc, en);
	if (width == 32)
		cenc_get_fixed32(&c, out);
	else
		cenc_get_fixed64(&c, out);
	CHECK(cur_ok(&c));
	CHECK_MEM(out, v, width);
out:
	free(v);
	free(enc);
}

static void row_fixed32(const struct row *r) { row_fixed(r, 32); }
static void row_fixed64(const struct row *r) { row_fixed(r, 64); }

/* Parse "a:p,b:q" or "-" into out; returns the count or -1. */
static int
parse_addrs(const char *f, struct hn_addr *out, int max)
{
	char *dup, *tok, *save;
	int n = 0;

	if (strcmp(f, "-") == 0)
		return 0;
	dup = strdup(f);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max || addr_parse(tok, &out[n]) != 0) {
			free(dup);
			return -1;
		}
		n++;
	}
	free(dup);
	return n;
}

static void
row_ipv4(const struct row *r)
{
	struct hn_addr a, b;
	size_t en;
	uint8_t *enc = field_bytes(r->f[2], &en);
	struct cur c;

	if (!CHECK(addr_parse(r->f[1], &a) == 0))
		goto out;
	ENCODE_CHECK(r->f[2], cenc_put_ipv4(w, &a));
	cur_init_read(&c, enc, en);
	cenc_get_ipv4(&c, &b);
	CHECK(cur_ok(&c) && addr_eq(&a, &b));
out:
	free(enc);
}

static void
row_ipv4_array(const struct row *r)
{
	struct hn_addr a[64], b[64];
	int n = parse_addrs(r->f[1], a, 64), i;
	size_t en, got;
	uint8_t *enc = field_bytes(r->f[2], &en);
	struct cur c;

	if (!CHECK(n >= 0))
		goto out;
	ENCODE_CHECK(r->f[2], cenc_put_ipv4_array(w, a, (size_t)n));
	cur_init_read(&c, enc, en);
	got = cenc_get_ipv4_array(&c, b, 64);
	CHECK(cur_ok(&c));
	CHECK_UINT(got, n);
	for (i = 0; i < n && (size_t)i < got; i++)
		CHECK(addr_eq(&a[i], &b[i]));
out:
	free(enc);
}

static void
row_peer(const struct row *r)
{
	struct cenc_peer p, q;
	size_t n, en, i;
	uint8_t *pk = field_bytes(r->f[1], &n);
	uint8_t *enc = field_bytes(r->f[3], &en);
	int nr = parse_addrs(r->f[2], p.relays, CENC_PEER_RELAYS_MAX);
	struct cur c;

	if (!CHECK(n == 32) || !CHECK(nr >= 0))
		goto out;
	memcpy(p.publicKey, pk, 32);
	p.nrelays = (size_t)nr;
	ENCODE_CHECK(r->f[3], cenc_put_peer(w, &p));
	cur_init_read(&c, enc, en);
	cenc_get_peer(&c, &q);
	CHECK(cur_ok(&c));
	CHECK_MEM(q.publicKey, p.publicKey, 32);
	CHECK_UINT(q.nrelays, p.nrelays);
	for (i = 0; i < p.nrelays && i < q.nrelays; i++)
		CHECK(addr_eq(&p.relays[i], &q.relays[i]));
out:
	free(pk);
	free(enc);
}

static void
row_decode_error(const struct row *r)
{
	const char *type = r->f[1];
	size_t en, n;
	uint8_t *enc = field_bytes(r->f[2], &en);
	uint8_t out[32];
	struct hn_addr addrs[16];
	struct cenc_peer peer;
	struct cur c;

	cur_init_read(&c, enc, en);
	if (strcmp(type, "uint") == 0)
		(void)cenc_get_uint(&c);
	else if (strcmp(type, "buffer") == 0)
		(void)cenc_get_buffer(&c, &n);
	else if (strcmp(type, "fixed32") == 0)
		cenc_get_fixed32(&c, out);
	else if (strcmp(type, "ipv4") == 0)
		cenc_get_ipv4(&c, &addrs[0]);
	else if (strcmp(type, "ipv4_array") == 0)
		(void)cenc_get_ipv4_array(&c, addrs, 16);
	else if (strcmp(type, "peer") == 0)
		cenc_get_peer(&c, &peer);
	else
		harness_fail(__FILE__, __LINE__, "unknown decode_error type %s",
		    type);
	CHECK(!cur_ok(&c));
	free(enc);
}

static void
row_base58(const struct row *r)
{
	size_t n;
	uint8_t *bytes = field_bytes(r->f[1], &n);
	const char *want = strcmp(r->f[2], "-") == 0 ? "" : r->f[2];
	char out[BASE58_MAX_CHARS + 1];
	uint8_t back[BASE58_MAX_BYTES];
	int len;

	len = base58_encode(out, sizeof(out), bytes, n);
	CHECK(len >= 0);
	if (len >= 0)
		CHECK_STR(out, want);
	len = base58_decode(back, sizeof(back), want, strlen(want));
	CHECK_INT(len, n);
	if (len == (int)n)
		CHECK_MEM(back, bytes, n);
	free(bytes);
}

static void
row_base58_bad(const struct row *r)
{
	uint8_t out[BASE58_MAX_BYTES];

	CHECK_INT(base58_decode(out, sizeof(out), r->f[1], strlen(r->f[1])),
	    -EINVAL);
}

static void
row_blake2b(const struct row *r)
{
	size_t n;
	uint8_t *in = field_bytes(r->f[1], &n), out[32];

	keys_hash(out, in, n);
	CHECK_HEX(out, 32, r->f[2]);
	free(in);
}

static void
row_blake2b_keyed(const struct row *r)
{
	size_t kn, n;
	uint8_t *key = field_bytes(r->f[1], &kn);
	uint8_t *in = field_bytes(r->f[2], &n), out[32];

	if (CHECK(kn == 32)) {
		keys_hash_keyed(out, in, n, key);
		CHECK_HEX(out, 32, r->f[3]);
	}
	free(key);
	free(in);
}

static void
row_namespace(const struct row *r)
{
	uint8_t out[32];

	keys_namespace(out, r->f[1], (uint8_t)atoi(r->f[2]));
	CHECK_HEX(out, 32, r->f[3]);
}

/* Key pair from a hex seed field; false (and a failed check) if bad. */
static bool
seed_keypair(struct keypair *kp, const char *hexseed)
{
	uint8_t seed[32];

	if (!CHECK(hex_decode(seed, sizeof(seed), hexseed) == 32))
		return false;
	return CHECK(keys_from_seed(kp, seed) == 0);
}

static void
row_keypair(const struct row *r)
{
	struct keypair kp;

	if (seed_keypair(&kp, r->f[1]))
		CHECK_HEX(kp.pk, 32, r->f[2]);
}

static void
row_secret(const struct row *r)
{
	struct keypair kp;
	char b58[64];

	if (!CHECK(keys_from_secret(&kp, r->f[1], strlen(r->f[1])) == 0))
		return;
	CHECK_HEX(kp.seed, 32, r->f[2]);
	CHECK_HEX(kp.pk, 32, r->f[3]);
	CHECK(base58_encode(b58, sizeof(b58), kp.pk, 32) > 0);
	CHECK_STR(b58, r->f[4]);
}

static void
row_keypear(const struct row *r)
{
	struct keypair base, d;
	uint8_t pub[32];

	if (!seed_keypair(&base, r->f[1]))
		return;
	if (!CHECK(keys_derive(&d, &base, r->f[2], strlen(r->f[2])) == 0))
		return;
	CHECK_HEX(d.pk, 32, r->f[3]);
	CHECK_HEX(d.scalar, 32, r->f[4]);
	CHECK(!d.has_seed);
	/* the scalar really is the private key of the derived point */
	CHECK(crypto_scalarmult_ed25519_base_noclamp(pub, d.scalar) == 0);
	CHECK_MEM(pub, d.pk, 32);
}

static void
row_keypear_public(const struct row *r)
{
	uint8_t base[32], out[32];

	if (!CHECK(hex_decode(base, 32, r->f[1]) == 32))
		return;
	CHECK(keys_derive_public(out, base, r->f[2], strlen(r->f[2])) == 0);
	CHECK_HEX(out, 32, r->f[3]);
}

static void
row_keypear_sign(const struct row *r)
{
	struct keypair base, d;
	uint8_t sig[64];
	size_t n;
	uint8_t *msg = field_bytes(r->f[3], &n);

	if (!seed_keypair(&base, r->f[1]) ||
	    !CHECK(keys_derive(&d, &base, r->f[2], strlen(r->f[2])) == 0))
		goto out;
	CHECK(keys_sign(sig, msg, n, &d) == 0);
	CHECK_HEX(sig, 64, r->f[4]);
	CHECK(crypto_sign_verify_detached(sig, msg, n, d.pk) == 0);
	CHECK(keys_verify(sig, msg, n, d.pk));
	sig[5] ^= 1;
	CHECK(!keys_verify(sig, msg, n, d.pk));
out:
	free(msg);
}

static void
row_sign(const struct row *r)
{
	struct keypair kp;
	uint8_t sig[64];
	size_t n;
	uint8_t *msg = field_bytes(r->f[2], &n);

	if (seed_keypair(&kp, r->f[1])) {
		CHECK(keys_sign(sig, msg, n, &kp) == 0);
		CHECK_HEX(sig, 64, r->f[3]);
		CHECK(keys_verify(sig, msg, n, kp.pk));
	}
	free(msg);
}

#define VEC(name, nf) \
	static void vec_##name(void) { each(#name, nf, row_##name); }

VEC(uint, 3)
VEC(uint_decode, 3)
VEC(uint16, 3)
VEC(uint32, 3)
VEC(uint64, 3)
VEC(buffer, 3)
VEC(buffer_decode, 3)
VEC(string, 3)
VEC(fixed32, 3)
VEC(fixed64, 3)
VEC(ipv4, 3)
VEC(ipv4_array, 3)
VEC(peer, 4)
VEC(decode_error, 3)
VEC(base58, 3)
VEC(base58_bad, 2)
VEC(blake2b, 3)
VEC(blake2b_keyed, 4)
VEC(namespace, 4)
VEC(keypair, 3)
VEC(secret, 5)
VEC(keypear, 5)
VEC(keypear_public, 4)
VEC(keypear_sign, 5)
VEC(sign, 4)

/* The named known answers, each looked for explicitly. */
static void
vec_required(void)
{
	static const char *const want[][2] = {
		{ "secret", "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w" },
		{ "keypear_public",
		  "4161fefaa9deba1efb1278b3abeeed18d9eb604c50442e673a2e8e95da2930fd" },
		{ "keypear_sign",
		  "1893ea4948737cc0e458d7f2f9fccd43210cdf919d01a4d6e8851836b5bf1c77"
		  "ad34dde568d17e77a395833e02ae37ad651f4d85dbc1628387f042535d2e6c0f" },
	};
	size_t i, j;

	load();
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (j = 0; j < nrows && !found; j++)
			found = strcmp(rows[j].f[0], want[i][0]) == 0 &&
			    strcmp(rows[j].f[rows[j].nf - 1], want[i][1]) == 0;
		if (!found)
			harness_fail(__FILE__, __LINE__, "%s: no %s row ending %s",
			    path, want[i][0], want[i][1]);
	}
}

static const struct test tests[] = {
	TEST(vec_uint), TEST(vec_uint_decode), TEST(vec_uint16),
	TEST(vec_uint32), TEST(vec_uint64), TEST(vec_buffer),
	TEST(vec_buffer_decode), TEST(vec_string), TEST(vec_fixed32),
	TEST(vec_fixed64), TEST(vec_ipv4), TEST(vec_ipv4_array), TEST(vec_peer),
	TEST(vec_decode_error), TEST(vec_base58), TEST(vec_base58_bad),
	TEST(vec_blake2b), TEST(vec_blake2b_keyed), TEST(vec_namespace),
	TEST(vec_keypair), TEST(vec_secret), TEST(vec_keypear),
	TEST(vec_keypear_public), TEST(vec_keypear_sign), TEST(vec_sign),
	TEST(vec_required),
};

int
main(int argc, char **argv)
{
	const char *suite = getenv("HN_SUITE_NAME");

	if (keys_init() != 0)
		return 2;
	return harness_main(suite ? suite : "vectors", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}

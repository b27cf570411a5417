/*
 * test_common.c - cursor, compact-encoding, base58, hex, addresses, timers,
 * logging: edge cases the known-answer file does not reach
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "base58.h"
#include "cenc.h"
#include "cursor.h"
#include "harness.h"
#include "hex.h"
#include "keys.h"
#include "log.h"
#include "timerq.h"

static void
cursor_sticky_error(void)
{
	uint8_t buf[3] = { 1, 2, 3 };
	struct cur c;

	cur_init_read(&c, buf, sizeof(buf));
	CHECK_UINT(cur_get_u16le(&c), 0x0201);
	CHECK_UINT(cur_get_u16le(&c), 0);	/* only one byte left */
	CHECK_INT(c.err, -EBADMSG);
	CHECK_UINT(cur_get_u8(&c), 0);		/* sticky: the 3 is not read */
	CHECK_UINT(cur_left(&c), 0);
	CHECK(cur_take(&c, 0) == NULL);
}

static void
cursor_write_bounds(void)
{
	uint8_t buf[5];
	struct cur c;

	cur_init_write(&c, buf, sizeof(buf));
	cur_put_u32le(&c, 0x04030201);
	CHECK(cur_ok(&c));
	cur_put_u16le(&c, 7);
	CHECK_INT(c.err, -ENOSPC);
	CHECK_UINT(c.off, 4);
	CHECK_HEX(buf, 4, "01020304");
	cur_init_write(&c, NULL, 0);
	cur_put_u8(&c, 1);
	CHECK(!cur_ok(&c));
}

static void
cursor_big_endian(void)
{
	uint8_t buf[6];
	struct cur c;

	cur_init_write(&c, buf, sizeof(buf));
	cur_put_u16be(&c, 0x0102);
	cur_put_u32be(&c, 0x03040506);
	CHECK_HEX(buf, 6, "010203040506");
	cur_init_read(&c, buf, sizeof(buf));
	CHECK_UINT(cur_get_u16be(&c), 0x0102);
	CHECK_UINT(cur_get_u32be(&c), 0x03040506);
	CHECK(cur_ok(&c));
}

static void
cenc_truncated(void)
{
	static const char *const bad[] = { "", "fd", "fd01", "fe010203",
	    "ff01020304050607" };
	size_t i, n;
	struct cur c;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *b = harness_unhex(bad[i], &n);

		cur_init_read(&c, b, n);
		(void)cenc_get_uint(&c);
		if (!CHECK(!cur_ok(&c)))
			fprintf(stderr, "    accepted %s\n", bad[i]);
		free(b);
	}
}

static void
cenc_buffer_bounds(void)
{
	/* a length larger than what follows must fail, not read past */
	uint8_t b[] = { 0x05, 1, 2, 3 };
	uint8_t big[] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0 };
	size_t n = 99;
	struct cur c;

	cur_init_read(&c, b, sizeof(b));
	CHECK(cenc_get_buffer(&c, &n) == NULL);
	CHECK(!cur_ok(&c));
	CHECK_UINT(n, 0);
	cur_init_read(&c, big, sizeof(big));
	CHECK(cenc_get_buffer(&c, &n) == NULL);
	CHECK(!cur_ok(&c));
}

static void
cenc_array_limits(void)
{
	struct hn_addr a[2];
	uint8_t three[] = { 3, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4,
	    5, 6 };
	uint8_t huge[] = { 0xfe, 0x01, 0x00, 0x10, 0x00 };	/* 0x100001 */
	struct cur c;

	/* more entries than the caller has room for */
	cur_init_read(&c, three, sizeof(three));
	CHECK_UINT(cenc_get_ipv4_array(&c, a, 2), 0);
	CHECK(!cur_ok(&c));
	/* a count that cannot fit in what follows */
	cur_init_read(&c, three, 10);
	CHECK_UINT(cenc_get_array_len(&c, 100, CENC_IPV4_SIZE), 0);
	CHECK(!cur_ok(&c));
	cur_init_read(&c, huge, sizeof(huge));
	CHECK_UINT(cenc_get_array_len(&c, SIZE_MAX, 0), 0);
	CHECK(!cur_ok(&c));
}

static void
cenc_peer_many_relays(void)
{
	/* a JS reader accepts any number of relays; we keep the first three */
	uint8_t buf[32 + 1 + 5 * 6];
	struct cenc_peer p;
	struct cur c;
	int i;

	memset(buf, 0xab, 32);
	buf[32] = 5;
	for (i = 0; i < 5; i++) {
		uint8_t *e = buf + 33 + 6 * i;

		e[0] = 10; e[1] = 0; e[2] = 0; e[3] = (uint8_t)i;
		store_u16le(e + 4, (uint16_t)(1000 + i));
	}
	cur_init_read(&c, buf, sizeof(buf));
	cenc_get_peer(&c, &p);
	CHECK(cur_ok(&c));
	CHECK_UINT(cur_left(&c), 0);
	CHECK_UINT(p.nrelays, 3);
	CHECK_UINT(p.relays[2].port, 1002);
}

static void
base58_roundtrip(void)
{
	uint8_t in[64], out[64];
	char enc[BASE58_ENCODED_SIZE(64)];
	int i, len, n;

	for (len = 0; len <= 64; len++) {
		for (i = 0; i < len; i++)
			in[i] = (uint8_t)(len < 8 && i < 3 ? 0 : i * 37 + len);
		n = base58_encode(enc, sizeof(enc), in, (size_t)len);
		if (!CHECK(n >= 0))
			continue;
		CHECK_INT(base58_decode(out, sizeof(out), enc, (size_t)n), len);
		CHECK_MEM(out, in, (size_t)len);
	}
}

static void
base58_errors(void)
{
	uint8_t out[32], key[32];
	char small[4];

	memset(key, 0xff, sizeof(key));
	CHECK_INT(base58_encode(small, sizeof(small), key, 32), -ENOSPC);
	CHECK_INT(base58_decode(out, 2, "zzzz", 4), -ENOSPC);
	CHECK_INT(base58_decode(out, sizeof(out), "a0b", 3), -EINVAL);
	CHECK_INT(base58_decode(out, sizeof(out), "a\0b", 3), -EINVAL);
	CHECK_INT(base58_decode_key(out, "11111"), -EINVAL);
	CHECK_INT(base58_decode_key(out,
	    "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w"), 0);
	CHECK_HEX(out, 4, "b684680c");
}

static void
hex_codec(void)
{
	uint8_t out[4];
	char s[9];

	CHECK_INT(hex_decode(out, sizeof(out), "00fFa1"), 3);
	CHECK_HEX(out, 3, "00ffa1");
	CHECK_INT(hex_decode(out, sizeof(out), "abc"), -EINVAL);
	CHECK_INT(hex_decode(out, sizeof(out), "zz"), -EINVAL);
	CHECK_INT(hex_decode(out, sizeof(out), "0102030405"), -ENOSPC);
	CHECK_STR(hex_encode(s, (const uint8_t *)"\x01\xab", 2), "01ab");
}

static void
addr_parse_format(void)
{
	static const char *const bad[] = { "1.2.3:4", "1.2.3.4", "1.2.3.4:",
	    "256.1.1.1:1", "1.2.3.4:65536", "01.2.3.4:1", "1.2.3.4:1x",
	    " 1.2.3.4:1", "1.2.3.4:-1", "a.b.c.d:1", "" };
	struct hn_addr a;
	char buf[HN_ADDR_STRLEN];
	size_t i;

	CHECK_INT(addr_parse("88.99.3.86:49737", &a), 0);
	CHECK_STR(addr_format(&a, buf), "88.99.3.86:49737");
	CHECK_INT(addr_parse("255.255.255.255:65535", &a), 0);
	CHECK_STR(addr_format(&a, buf), "255.255.255.255:65535");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK(addr_parse(bad[i], &a) == -EINVAL))
			fprintf(stderr, "    accepted \"%s\"\n", bad[i]);
	CHECK_INT(addr_parse_bootstrap("88.99.3.86@node1.hyperdht.org:49737",
	    &a), 0);
	CHECK_STR(addr_format(&a, buf), "88.99.3.86:49737");
	CHECK_INT(addr_parse_bootstrap("127.0.0.1:10001", &a), 0);
	CHECK_INT(addr_parse_bootstrap("1.2.3.4@:5", &a), -EINVAL);
	CHECK_INT(addr_parse_bootstrap("1.2.3.4@x y:5", &a), -EINVAL);
	CHECK_INT(addr_parse_bootstrap("node1.hyperdht.org:49737", &a),
	    -EINVAL);
	CHECK(addr_is_private((const uint8_t[]){ 192, 168, 1, 1 }));
	CHECK(addr_is_private((const uint8_t[]){ 100, 64, 0, 1 }));
	CHECK(!addr_is_private((const uint8_t[]){ 88, 99, 3, 86 }));
}

/* ---- timers */

struct fired {
	struct hn_timer	t;
	int		id;
};

static int order[16];
static int norder;

static void
record_fire(struct hn_timer *t)
{
	struct fired *f = container_of(t, struct fired, t);

	order[norder++] = f->id;
}

static void
timerq_ordering(void)
{
	struct timerq q;
	struct fired f[6];
	static const uint64_t due[6] = { 50, 10, 30, 10, 40, 20 };
	int i;

	timerq_init(&q);
	norder = 0;
	for (i = 0; i < 6; i++) {
		f[i].id = i;
		hn_timer_init(&f[i].t, record_fire);
		CHECK_INT(timerq_arm(&q, &f[i].t, due[i]), 0);
	}
	timerq_cancel(&q, &f[2].t);		/* 30 never fires */
	CHECK(!f[2].t.armed);
	CHECK_INT(timerq_arm(&q, &f[4].t, 5), 0);	/* move 40 -> 5 */
	CHECK_UINT(timerq_run(&q, 15), 3);	/* 5, 10 (id 1), 10 (id 3) */
	CHECK_UINT(timerq_run(&q, 100), 2);
	CHECK_INT(norder, 5);
	CHECK_INT(order[0], 4);
	CHECK_INT(order[1], 1);
	CHECK_INT(order[2], 3);
	CHECK_INT(order[3], 5);
	CHECK_INT(order[4], 0);
	CHECK(timerq_peek(&q) == NULL);
	timerq_free(&q);
}

static void
timerq_many(void)
{
	struct timerq q;
	static struct fired f[1000];
	uint64_t last = 0;
	int i;
	bool sorted = true;

	timerq_init(&q);
	for (i = 0; i < 1000; i++) {
		f[i].id = i;
		hn_timer_init(&f[i].t, record_fire);
		timerq_arm(&q, &f[i].t, (uint64_t)((i * 7919) % 1000));
	}
	for (i = 0; i < 1000; i += 3)
		timerq_cancel(&q, &f[i].t);
	while (timerq_peek(&q) != NULL) {
		struct hn_timer *t = timerq_peek(&q);

		sorted &= t->due >= last;
		last = t->due;
		timerq_cancel(&q, t);
	}
	CHECK(sorted);
	timerq_free(&q);
}

/* ---- logging */

/* Run fn with stderr redirected to a file; return what it wrote. */
static char *
capture_stderr(void (*fn)(void), bool journal)
{
	char path[] = "/tmp/hn-log-XXXXXX", env[64];
	static char out[512];
	int fd = mkstemp(path), saved = dup(2);
	struct stat st;
	ssize_t n;

	if (fd < 0 || saved < 0)
		return NULL;
	fflush(stderr);
	dup2(fd, 2);
	fstat(2, &st);
	snprintf(env, sizeof(env), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (journal)
		setenv("JOURNAL_STREAM", env, 1);
	else
		unsetenv("JOURNAL_STREAM");
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	return out;
}

static void
emit_lines(void)
{
	log_init("hypernatd", LOG_LVL_INFO);
	log_warnx("tunnel udp/%d: peer gone", 7913);
	log_debug("hidden");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_info("two\nlines");
}

static void
log_journal_priorities(void)
{
	char *out = capture_stderr(emit_lines, true);

	if (CHECK(out != NULL))
		CHECK_STR(out, "<4>tunnel udp/7913: peer gone\n"
		    "<4>open x: No such file or directory\n"
		    "<6>two lines\n");
	out = capture_stderr(emit_lines, false);
	if (CHECK(out != NULL))
		CHECK_STR(out, "hypernatd: tunnel udp/7913: peer gone\n"
		    "hypernatd: open x: No such file or directory\n"
		    "hypernatd: two lines\n");
	CHECK_INT(log_level_parse("debug"), LOG_LVL_DEBUG);
	CHECK_INT(log_level_parse("loud"), -1);
}

static void
keys_namespace_and_hash(void)
{
	uint8_t out[32];

	/* spec/dht.md vectors: NS_ANNOUNCE and H("abc") */
	keys_namespace(out, "hyperswarm/dht", 4);
	CHECK_HEX(out, 32,
	    "36386adddf9f6fd60db83a6f42fc159d1146aa8644037664230aaa1f0179d497");
	keys_hash(out, "abc", 3);
	CHECK_HEX(out, 32,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
	keys_hash2(out, "a", 1, "bc", 2);
	CHECK_HEX(out, 32,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

static void
keys_derive_invalid_base(void)
{
	uint8_t bad[32], out[32];

	/* not a point on the curve: refused, not derived */
	memset(bad, 0xff, sizeof(bad));
	CHECK_INT(keys_derive_public(out, bad, "udp1", 4), -EINVAL);
}

static void
keys_sign_roundtrip(void)
{
	struct keypair kp, d;
	uint8_t sig[64];

	CHECK_INT(keys_generate(&kp), 0);
	CHECK_INT(keys_derive(&d, &kp, "tcp22", 5), 0);
	CHECK_INT(keys_sign(sig, "m", 1, &d), 0);
	CHECK(keys_verify(sig, "m", 1, d.pk));
	CHECK(!keys_verify(sig, "n", 1, d.pk));
	CHECK(!keys_verify(sig, "m", 1, kp.pk));
	keys_wipe(&d);
	CHECK(!d.has_seed);
}

static const struct test tests[] = {
	TEST(cursor_sticky_error), TEST(cursor_write_bounds),
	TEST(cursor_big_endian), TEST(cenc_truncated), TEST(cenc_buffer_bounds),
	TEST(cenc_array_limits), TEST(cenc_peer_many_relays),
	TEST(base58_roundtrip), TEST(base58_errors), TEST(hex_codec),
	TEST(addr_parse_format), TEST(timerq_ordering), TEST(timerq_many),
	TEST(log_journal_priorities), TEST(keys_namespace_and_hash),
	TEST(keys_derive_invalid_base), TEST(keys_sign_roundtrip),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("common", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

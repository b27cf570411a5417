/*
 * test_udx_packet.c - the UDX wire codec against every datagram recorded
 * from udx-native (tests/unit/test_udx_trace.txt, derived from
 * shared/vectors/udx-trace.json) and the corner cases of spec/udx.md §4-§7
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/udx/packet.h"
#include "harness.h"

#define TRACE_FILE	"tests/unit/test_udx_trace.txt"

/* Check one fixture line; returns false if the line itself is malformed. */
static bool
check_line(const char *name, const char *hex, const char *expect)
{
	unsigned t, doff, overrun;
	unsigned long id, rwnd, seq, ack, plen;
	char sacks[4096];
	struct udx_packet p;
	uint8_t *raw, out[4096];
	size_t len, i;
	int n;

	raw = harness_unhex(hex, &len);
	if (strcmp(expect, "raw") == 0) {
		if (udx_packet_decode(raw, len, &p) != -EBADMSG)
			harness_fail(__FILE__, __LINE__, "%s decoded as UDX",
			    name);
		CHECK(!udx_packet_is_udx(raw, len));
		free(raw);
		return true;
	}
	if (sscanf(expect, "%u,%u,%lu,%lu,%lu,%lu,%lu,%u,%4095s", &t, &doff,
	    &id, &rwnd, &seq, &ack, &plen, &overrun, sacks) != 9) {
		free(raw);
		return false;
	}
	if (udx_packet_decode(raw, len, &p) != 0) {
		harness_fail(__FILE__, __LINE__, "%s: not decoded", name);
		free(raw);
		return true;
	}
	if (p.type != t || p.data_offset != doff || p.id != id ||
	    p.rwnd != rwnd || p.seq != seq || p.ack != ack ||
	    p.payload_len != plen || p.offset_overrun != (overrun != 0))
		harness_fail(__FILE__, __LINE__, "%s: header fields differ "
		    "(type %u doff %u id %u seq %u ack %u plen %zu)", name,
		    p.type, p.data_offset, p.id, p.seq, p.ack, p.payload_len);
	if (strcmp(sacks, "-") != 0) {
		char *s = sacks, *tok;

		for (i = 0; (tok = strtok(s, "/")) != NULL; i++, s = NULL) {
			unsigned long a, b;
			uint32_t start, end;

			if (sscanf(tok, "%lu-%lu", &a, &b) != 2 ||
			    i >= p.nsacks)
				break;
			udx_packet_sack(&p, i, &start, &end);
			if (start != a || end != b)
				harness_fail(__FILE__, __LINE__,
				    "%s: sack %zu is [%u,%u)", name, i, start,
				    end);
		}
		if (i != p.nsacks)
			harness_fail(__FILE__, __LINE__, "%s: %zu sacks, want "
			    "%zu", name, p.nsacks, i);
	} else if (p.nsacks != 0) {
		harness_fail(__FILE__, __LINE__, "%s: unexpected sacks", name);
	}
	n = udx_packet_encode(out, sizeof(out), &p);
	if (overrun) {
		CHECK_INT(n, -EINVAL);
	} else if (n != (int)len || memcmp(out, raw, len) != 0) {
		harness_fail(__FILE__, __LINE__, "%s: re-encoding differs "
		    "(%d bytes, want %zu)", name, n, len);
	}
	free(raw);
	return true;
}

static void
trace_decodes_and_reencodes(void)
{
	static char line[16384];
	char name[64], hex[8192], expect[4200];
	FILE *f;
	int lines = 0;

	f = fopen(TRACE_FILE, "r");
	if (!CHECK(f != NULL))
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %8191s %4199s", name, hex, expect) !=
		    3 || !check_line(name, hex, expect)) {
			harness_fail(__FILE__, __LINE__, "bad fixture line %d",
			    lines + 1);
			continue;
		}
		lines++;
	}
	fclose(f);
	/* 12 static vectors + 334 recorded datagrams */
	CHECK_INT(lines, 346);
}

static void
spec_example(void)
{
	uint8_t buf[64];
	struct udx_packet p = {
		.type = UDX_TYPE_DATA, .id = 0xb001, .rwnd = 4194304,
		.payload = (const uint8_t *)"hello", .payload_len = 5,
	};

	CHECK_INT(udx_packet_encode(buf, sizeof(buf), &p), 25);
	CHECK_HEX(buf, 25, "ff01010001b0000000004000000000000000000068656c6c6f");
	CHECK_INT(udx_packet_encode(buf, 24, &p), -ENOSPC);
	CHECK_INT(udx_packet_encode(buf, 19, &p), -ENOSPC);
}

static void
short_and_foreign(void)
{
	uint8_t buf[20] = { 0xff, 0x01 };
	struct udx_packet p;

	CHECK_INT(udx_packet_decode(buf, 19, &p), -EBADMSG);
	CHECK_INT(udx_packet_decode(buf, 20, &p), 0);
	CHECK_INT(p.type, 0);
	buf[1] = 2;
	CHECK_INT(udx_packet_decode(buf, 20, &p), -EBADMSG);
	buf[0] = 0xfe;
	buf[1] = 1;
	CHECK_INT(udx_packet_decode(buf, 20, &p), -EBADMSG);
}

/* §4: SACK blocks in the extension when 0 < data_offset < body length. */
static void
sack_in_extension(void)
{
	uint8_t buf[64];
	struct udx_packet p;
	uint32_t s, e;

	udx_header_write(buf, UDX_TYPE_SACK | UDX_TYPE_DATA, 8, 1, 2, 3, 4);
	memcpy(buf + 20, "\x05\0\0\0\x07\0\0\0abc", 11);
	CHECK_INT(udx_packet_decode(buf, 31, &p), 0);
	CHECK_UINT(p.nsacks, 1);
	udx_packet_sack(&p, 0, &s, &e);
	CHECK_UINT(s, 5);
	CHECK_UINT(e, 7);
	CHECK_UINT(p.payload_len, 3);
	CHECK_MEM(p.payload, "abc", 3);
	/* data_offset == body length: the whole body is the SACK area */
	CHECK_INT(udx_packet_decode(buf, 28, &p), 0);
	CHECK_UINT(p.nsacks, 1);
	CHECK_UINT(p.payload_len, 0);
	/* a partial block is ignored */
	udx_header_write(buf, UDX_TYPE_SACK, 0, 1, 2, 3, 4);
	CHECK_INT(udx_packet_decode(buf, 35, &p), 0);
	CHECK_UINT(p.nsacks, 1);
}

static void
offset_overrun(void)
{
	uint8_t buf[32] = { 0 };
	struct udx_packet p;

	udx_header_write(buf, UDX_TYPE_DATA, 13, 1, 2, 3, 4);
	CHECK_INT(udx_packet_decode(buf, 32, &p), 0);
	CHECK(p.offset_overrun);
	CHECK_INT(udx_packet_decode(buf, 33 - 1, &p), 0);
	udx_header_write(buf, UDX_TYPE_DATA, 12, 1, 2, 3, 4);
	CHECK_INT(udx_packet_decode(buf, 32, &p), 0);
	CHECK(!p.offset_overrun);
	CHECK_UINT(p.payload_len, 0);
}

static void
seq_wrap(void)
{
	CHECK(udx_seq_lt(0xffffffffu, 0));
	CHECK(!udx_seq_lt(0, 0xffffffffu));
	CHECK(udx_seq_le(5, 5));
	CHECK(udx_seq_lt(0x7ffffff0u, 0x80000010u));
	CHECK_INT(udx_seq_diff(2, 0xfffffffeu), 4);
}

static void
kinds(void)
{
	CHECK_STR(udx_packet_kind(0), "ACK");
	CHECK_STR(udx_packet_kind(UDX_TYPE_SACK), "ACK+SACK");
	CHECK_STR(udx_packet_kind(3), "DATA+END");
	CHECK_STR(udx_packet_kind(UDX_TYPE_HEARTBEAT), "HEARTBEAT");
}

int
main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(trace_decodes_and_reencodes),
		TEST(spec_example),
		TEST(short_and_foreign),
		TEST(sack_in_extension),
		TEST(offset_overrun),
		TEST(seq_wrap),
		TEST(kinds),
	};

	return harness_main("udx_packet", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

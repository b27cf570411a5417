/*
 * noise_peer.c - the C side of the live Noise/SecretStream cross-check
 *
 * Driven by noise_live.js over stdin/stdout, one command a line, bytes in
 * hex.  No network: the JS side moves every byte.
 *
 *   init responder SEED            server with the key pair of SEED
 *   init initiator SEED SERVERPK   client dialing SERVERPK
 *   start                          (initiator) -> "sent HEX" (its payload),
 *                                  "msg1 HEX"
 *   msg1 HEX                       (responder) -> "payload1 HEX" (decoded
 *                                  and re-encoded), "remote PK", "sent HEX",
 *                                  "msg2 HEX", "hash HEX"
 *   msg2 HEX                       (initiator) -> "payload2 HEX", "hash HEX"
 *   ss                             start SecretStream -> "raw HEX" lines
 *   raw HEX                        stream bytes in; every message comes out
 *                                  as "data HEX" and is echoed back
 *   write HEX                      one message out
 *   umsg HEX                       unordered message in -> "umsg-ok HEX" and
 *                                  a reply "usend HEX" (the plaintext
 *                                  reversed), or "umsg-bad"
 *   hp HEX                         secure holepunch payload in ->
 *                                  "hp-ok HEX" (re-encoded plaintext) and
 *                                  "hpsend HEX" (the same payload sealed),
 *                                  or "hp-bad"
 *   quit
 *
 * Every command's output ends with a "done" line.  Errors are reported as
 * "error WHAT" lines; the JS side decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/noise/noise.h"
#include "daemon/noise/payload.h"
#include "daemon/noise/secretstream.h"
#include "hex.h"
#include "keys.h"

static struct keypair kp;
static struct noise_ik hs;
static struct noise_result res;
static struct secretstream *ss;
static bool initiator;

static void
put_hex(const char *tag, const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);

	hex_encode(h, p, n);
	printf("%s %s\n", tag, n ? h : "-");
	free(h);
}

/* Hex argument into a new buffer ("-" is empty); NULL on bad hex. */
static uint8_t *
unhex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *b = malloc(n / 2 + 1);
	int r;

	if (strcmp(s, "-") == 0) {
		*len = 0;
		return b;
	}
	if ((r = hex_decode(b, n / 2 + 1, s)) < 0) {
		free(b);
		return NULL;
	}
	*len = (size_t)r;
	return b;
}

/* The payload this side sends: what hyperdht would, with fixed values. */
static void
our_payload(struct noise_payload *p)
{
	memset(p, 0, sizeof(*p));
	p->firewall = initiator ? NOISE_FIREWALL_UNKNOWN :
	    NOISE_FIREWALL_CONSISTENT;
	p->naddr4 = 1;
	addr_parse("192.168.7.9:49737", &p->addr4[0]);
	p->has_udx = true;
	p->udx_reusable = !initiator;
	p->udx_id = initiator ? 0x12345678 : 0x0badf00d;
	p->has_secret_stream = true;
	if (!initiator) {
		p->has_holepunch = true;
		p->holepunch_id = 3;
		p->nrelays = 1;
		addr_parse("203.0.113.1:49737", &p->relays[0].relay);
		addr_parse("198.51.100.7:40001", &p->relays[0].peer);
		p->has_relay_addrs = true;
		p->nrelay_addrs = 1;
		p->relay_addrs[0] = p->relays[0].relay;
	}
}

/* Decode a received payload and print it re-encoded. */
static void
report_payload(const char *tag, const uint8_t *pl, size_t n)
{
	struct noise_payload p;
	uint8_t out[2048];
	size_t len;

	if (noise_payload_decode(&p, pl, n) != 0 ||
	    noise_payload_encode(&p, out, sizeof(out), &len) != 0) {
		printf("error %s-decode\n", tag);
		return;
	}
	put_hex(tag, out, len);
}

static void
finish_handshake(void)
{
	if (noise_ik_split(&hs, &res) != 0) {
		printf("error split\n");
		return;
	}
	put_hex("hash", res.hash, sizeof(res.hash));
}

static void
cmd_init(char *role, char *seedhex, char *pkhex)
{
	uint8_t seed[32], pk[32];

	initiator = strcmp(role, "initiator") == 0;
	if (seedhex == NULL || hex_decode(seed, 32, seedhex) != 32 ||
	    keys_from_seed(&kp, seed) != 0) {
		printf("error seed\n");
		return;
	}
	if (initiator && (pkhex == NULL || hex_decode(pk, 32, pkhex) != 32)) {
		printf("error pk\n");
		return;
	}
	if (noise_ik_init(&hs, initiator, &kp, initiator ? pk : NULL) != 0)
		printf("error init\n");
	else
		put_hex("pk", kp.pk, 32);
}

static void
cmd_start(void)
{
	struct noise_payload p;
	uint8_t pl[2048], msg[4096];
	size_t plen, n;

	our_payload(&p);
	if (noise_payload_encode(&p, pl, sizeof(pl), &plen) != 0 ||
	    noise_ik_write(&hs, pl, plen, msg, sizeof(msg), &n) != 0) {
		printf("error write-msg1\n");
		return;
	}
	put_hex("sent", pl, plen);
	put_hex("msg1", msg, n);
}

static void
cmd_msg1(const uint8_t *m, size_t len)
{
	struct noise_payload p;
	uint8_t pl[70000], msg[4096];
	size_t plen, n;

	if (noise_ik_read(&hs, m, len, pl, sizeof(pl), &plen) != 0) {
		printf("error read-msg1\n");
		return;
	}
	report_payload("payload1", pl, plen);
	put_hex("remote", noise_ik_remote_static(&hs), 32);
	our_payload(&p);
	if (noise_payload_encode(&p, pl, sizeof(pl), &plen) != 0 ||
	    noise_ik_write(&hs, pl, plen, msg, sizeof(msg), &n) != 0) {
		printf("error write-msg2\n");
		return;
	}
	put_hex("sent", pl, plen);
	put_hex("msg2", msg, n);
	finish_handshake();
}

static void
cmd_msg2(const uint8_t *m, size_t len)
{
	uint8_t pl[70000];
	size_t plen;

	if (noise_ik_read(&hs, m, len, pl, sizeof(pl), &plen) != 0) {
		printf("error read-msg2\n");
		return;
	}
	report_payload("payload2", pl, plen);
	finish_handshake();
}

static int
ss_write(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	put_hex("raw", buf, len);
	return 0;
}

static void
ss_message(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	put_hex("data", buf, len);
	if (secretstream_write(ss, buf, len) != 0)	/* echo */
		printf("error echo\n");
}

static const struct secretstream_ops ss_ops = {
	.write = ss_write,
	.message = ss_message,
};

static void
cmd_ss(void)
{
	if ((ss = secretstream_new(&res, &ss_ops, NULL)) == NULL ||
	    secretstream_start(ss) != 0)
		printf("error ss\n");
}

static void
cmd_umsg(const uint8_t *m, size_t len)
{
	uint8_t *plain = malloc(len + 1), *rev, *box;
	size_t n, i, blen;

	if (secretstream_unbox_message(ss, m, len, plain, len + 1, &n) != 0) {
		printf("umsg-bad\n");
		free(plain);
		return;
	}
	put_hex("umsg-ok", plain, n);
	rev = malloc(n + 1);
	box = malloc(n + SECRETSTREAM_BOX_OVERHEAD);
	for (i = 0; i < n; i++)
		rev[i] = plain[n - 1 - i];
	if (secretstream_box_message(ss, rev, n, box,
	    n + SECRETSTREAM_BOX_OVERHEAD, &blen) == 0)
		put_hex("usend", box, blen);
	else
		printf("error box\n");
	free(plain), free(rev), free(box);
}

static void
cmd_hp(const uint8_t *m, size_t len)
{
	struct holepunch_payload p;
	uint8_t out[512];
	size_t n;

	if (holepunch_payload_open(&p, res.holepunch_secret, m, len) != 0) {
		printf("hp-bad\n");
		return;
	}
	if (holepunch_payload_encode(&p, out, sizeof(out), &n) != 0) {
		printf("error hp-encode\n");
		return;
	}
	put_hex("hp-ok", out, n);
	if (holepunch_payload_seal(&p, res.holepunch_secret, NULL, out,
	    sizeof(out), &n) != 0) {
		printf("error hp-seal\n");
		return;
	}
	put_hex("hpsend", out, n);
}

int
main(void)
{
	char *line = NULL, *cmd, *a, *b, *c, *save;
	size_t cap = 0, len;
	uint8_t *bytes;

	if (keys_init() != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (getline(&line, &cap, stdin) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((cmd = strtok_r(line, " ", &save)) == NULL)
			continue;
		a = strtok_r(NULL, " ", &save);
		b = strtok_r(NULL, " ", &save);
		c = strtok_r(NULL, " ", &save);
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "init") == 0 && a != NULL) {
			cmd_init(a, b, c);
		} else if (strcmp(cmd, "start") == 0) {
			cmd_start();
		} else if (strcmp(cmd, "ss") == 0) {
			cmd_ss();
		} else if (a != NULL && (bytes = unhex(a, &len)) != NULL) {
			if (strcmp(cmd, "msg1") == 0)
				cmd_msg1(bytes, len);
			else if (strcmp(cmd, "msg2") == 0)
				cmd_msg2(bytes, len);
			else if (strcmp(cmd, "raw") == 0 && ss != NULL)
				printf("%s", secretstream_input(ss, bytes, len) ?
				    "error input\n" : "");
			else if (strcmp(cmd, "write") == 0 && ss != NULL)
				printf("%s", secretstream_write(ss, bytes, len) ?
				    "error write\n" : "");
			else if (strcmp(cmd, "umsg") == 0 && ss != NULL)
				cmd_umsg(bytes, len);
			else if (strcmp(cmd, "hp") == 0 && ss != NULL)
				cmd_hp(bytes, len);
			else
				printf("error command %s\n", cmd);
			free(bytes);
		} else {
			printf("error command %s\n", cmd);
		}
		printf("done\n");
	}
	free(line);
	secretstream_free(ss);
	noise_ik_wipe(&hs);
	noise_result_wipe(&res);
	keys_wipe(&kp);
	return 0;
}

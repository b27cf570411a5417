/*
 * test_ctl_msg.c - control messages (build, check, parse, errors, dumps),
 * the request decoder, the JSON writer's escaping, and the tunnel table
 * (conflicts; a reload keeps unchanged entries without restarting them)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "base58.h"
#include "ctl/hctl.h"
#include "ctl/json.h"
#include "ctl_msg.h"
#include "daemon/control.h"
#include "daemon/tuntab.h"
#include "harness.h"
#include "log.h"

static uint64_t buf[HNCTL_RECORD_MAX / 8];

static void
msg_roundtrip(void)
{
	struct nlmsghdr *nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS,
	    NLM_F_REQUEST, 42);
	uint8_t key[32];
	uint64_t up = 1234567890123ULL;
	struct ctl_attrs a;

	memset(key, 7, sizeof(key));
	ctl_attr_put_str(nlh, HNCTL_A_VERSION, "0.1.0");
	mnl_attr_put_u32(nlh, HNCTL_A_PID, 99);
	mnl_attr_put(nlh, HNCTL_A_UPTIME, 8, &up);
	mnl_attr_put(nlh, HNCTL_A_KEY, 32, key);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 7913);
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len), 0);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_UINT(nlh->nlmsg_seq, 42);
	CHECK_STR(ctl_attr_str(&a, HNCTL_A_VERSION, "?"), "0.1.0");
	CHECK_UINT(ctl_attr_u32(&a, HNCTL_A_PID, 0), 99);
	CHECK_UINT(ctl_attr_u64(&a, HNCTL_A_UPTIME, 0), up);
	CHECK_MEM(ctl_attr_bin(&a, HNCTL_A_KEY), key, 32);
	CHECK_UINT(ctl_attr_u16(&a, HNCTL_A_PORT, 0), 7913);
	/* absent: the default */
	CHECK_UINT(ctl_attr_u8(&a, HNCTL_A_PROTO, 5), 5);
	CHECK(ctl_attr_bin(&a, HNCTL_A_PEER) == NULL);
	CHECK_STR(ctl_msg_name(HNCTL_MSG_TUNNEL_ADD), "add");
	CHECK_STR(ctl_msg_name(1234), "unknown");
}

static void
msg_check_rejects(void)
{
	struct nlmsghdr *nlh = ctl_msg_start(buf, HNCTL_MSG_KEY,
	    NLM_F_REQUEST, 1);
	struct hnctl_hdr *h = mnl_nlmsg_get_payload(nlh);

	CHECK_INT(ctl_msg_check(nlh, 15), -EBADMSG);		/* short */
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len - 1), -EBADMSG);
	h->version = 2;
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len), -EPROTONOSUPPORT);
	/* a family message without its family header */
	nlh->nlmsg_len = sizeof(*nlh);
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len), -EBADMSG);
	nlh->nlmsg_len = HNCTL_RECORD_MAX + 4;
	CHECK_INT(ctl_msg_check(nlh, HNCTL_RECORD_MAX + 8), -EBADMSG);
}

static void
msg_attribute_validation(void)
{
	struct nlmsghdr *nlh;
	struct nlattr *at;
	struct ctl_attrs a;
	uint8_t k[32] = { 0 };
	int i;

	/* wrong sizes for each kind of attribute */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put_u32(nlh, HNCTL_A_PROTO, 1);
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	CHECK_STR(a.bad, "proto");
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put(nlh, HNCTL_A_PEER, 31, k);
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put(nlh, HNCTL_A_STATE, 2, "ab");	/* no NUL */
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put(nlh, HNCTL_A_STATE, 3, "a\0b");	/* NUL inside */
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	/* an attribute header that runs past the message */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	at = mnl_nlmsg_get_payload_tail(nlh);
	at->nla_len = 64;
	at->nla_type = HNCTL_A_PORT;
	nlh->nlmsg_len += 4;
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	/* 3 trailing bytes that cannot be an attribute */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	nlh->nlmsg_len += 3;
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
	/* unknown attributes are skipped, known ones still read */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put(nlh, HNCTL_A_MAX + 10, 5, "hello");
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 80);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_UINT(ctl_attr_u16(&a, HNCTL_A_PORT, 0), 80);
	/* repeated allow keys are collected, up to the limit */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	for (i = 0; i < HNCTL_ALLOW_MAX; i++)
		mnl_attr_put(nlh, HNCTL_A_ALLOW, 32, k);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_UINT(a.nallow, HNCTL_ALLOW_MAX);
	mnl_attr_put(nlh, HNCTL_A_ALLOW, 32, k);
	CHECK_INT(ctl_msg_parse(nlh, &a), -EINVAL);
}

static void
msg_error_and_done(void)
{
	struct nlmsghdr req, *nlh;
	struct ctl_attrs a;
	int err = 1;

	memset(&req, 0, sizeof(req));
	req.nlmsg_type = HNCTL_MSG_TUNNEL_DEL;
	req.nlmsg_seq = 77;
	nlh = ctl_msg_error(buf, &req, 77, -ENOENT, "no export udp/9");
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len), 0);
	CHECK_UINT(nlh->nlmsg_type, NLMSG_ERROR);
	CHECK_UINT(nlh->nlmsg_seq, 77);
	CHECK_INT(ctl_msg_parse_error(nlh, &err, &a), 0);
	CHECK_INT(err, -ENOENT);
	CHECK_STR(ctl_attr_str(&a, HNCTL_A_MESSAGE, ""), "no export udp/9");
	/* an ack without a message */
	nlh = ctl_msg_error(buf, NULL, 3, 0, NULL);
	CHECK_INT(ctl_msg_parse_error(nlh, &err, &a), 0);
	CHECK_INT(err, 0);
	CHECK(a.tb[HNCTL_A_MESSAGE] == NULL);
	/* a positive "error" is not a valid reply */
	((struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error = 5;
	CHECK_INT(ctl_msg_parse_error(nlh, &err, &a), -EBADMSG);
	nlh = ctl_msg_done(buf, 9);
	CHECK_UINT(nlh->nlmsg_type, NLMSG_DONE);
	CHECK(nlh->nlmsg_flags & NLM_F_MULTI);
	CHECK_INT(ctl_msg_check(nlh, nlh->nlmsg_len), 0);
	/* an over-long message string is cut, still NUL-terminated */
	{
		char big[3000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		nlh = ctl_msg_error(buf, NULL, 1, -EINVAL, big);
		CHECK_INT(ctl_msg_parse_error(nlh, &err, &a), 0);
		CHECK_UINT(strlen(ctl_attr_str(&a, HNCTL_A_MESSAGE, "")),
		    HNCTL_STR_MAX - 1);
	}
}

static void
request_decoder(void)
{
	struct nlmsghdr *nlh;
	struct ctl_attrs a;
	struct tundef d;
	char why[128];
	uint8_t k[32], ip[4] = { 10, 0, 0, 1 };

	base58_decode_key(k, "HC75S96J4EXBZZ82hYrgzkCWkFWGcgyao4s4suCdZSZw");
	/* "add udp 7913": defaults filled in */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, HNCTL_PROTO_UDP);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 7913);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), 0);
	CHECK_INT(d.kind, TUN_EXPORT);
	CHECK_UINT(d.host[0], 127);
	CHECK_UINT(d.nallow, 0);
	/* an import: listen defaults to 127.0.0.1:port */
	mnl_attr_put(nlh, HNCTL_A_PEER, 32, k);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), 0);
	CHECK_INT(d.kind, TUN_IMPORT);
	CHECK_UINT(d.listen.port, 7913);
	CHECK_MEM(d.peer, k, 32);
	/* host with a peer is refused */
	mnl_attr_put(nlh, HNCTL_A_HOST, 4, ip);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), -EINVAL);
	CHECK_STR(why, "host and allow are for exports");
	/* port 0, proto 0, kind that contradicts the attributes */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, HNCTL_PROTO_TCP);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), -EINVAL);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 22);
	mnl_attr_put_u8(nlh, HNCTL_A_KIND, HNCTL_KIND_IMPORT);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), -EINVAL);
	/* the same allow key twice */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 1);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, HNCTL_PROTO_TCP);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 22);
	mnl_attr_put(nlh, HNCTL_A_ALLOW, 32, k);
	mnl_attr_put(nlh, HNCTL_A_ALLOW, 32, k);
	CHECK_INT(ctl_msg_parse(nlh, &a), 0);
	CHECK_INT(control_tundef_from_attrs(&a, HNCTL_MSG_TUNNEL_ADD, &d, why,
	    sizeof(why)), -EINVAL);
}

static char *
json_of(void (*fn)(struct json *j))
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	struct json j;

	json_init(&j, fp);
	fn(&j);
	fclose(fp);
	return out;
}

static void
doc_strings(struct json *j)
{
	json_obj_begin(j, NULL);
	json_str(j, "quote\"back\\slash", "line\nfeed\ttab\x01\x7f");
	json_str(j, "utf8", "gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93");
	json_str(j, "bad", "a\xff" "b\xc3" "c\xed\xa0\x80");	/* invalid UTF-8 */
	json_null(j, "nothing");
	json_arr_begin(j, "empty");
	json_arr_end(j);
	json_arr_begin(j, "list");
	json_uint(j, NULL, 18446744073709551615ULL);
	json_int(j, NULL, -22);
	json_bool(j, NULL, false);
	json_arr_end(j);
	json_obj_end(j);
}

static void
json_escaping(void)
{
	char *out = json_of(doc_strings);

	CHECK_STR(out,
	    "{\n"
	    "  \"quote\\\"back\\\\slash\": \"line\\nfeed\\ttab\\u0001\\u007f\",\n"
	    "  \"utf8\": \"gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93\",\n"
	    "  \"bad\": \"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffd\",\n"
	    "  \"nothing\": null,\n"
	    "  \"empty\": [],\n"
	    "  \"list\": [\n"
	    "    18446744073709551615,\n"
	    "    -22,\n"
	    "    false\n"
	    "  ]\n"
	    "}\n");
	free(out);
}

/* ---- the tunnel table with a counting fake tunnel layer */

static int starts, stops;

static int
fake_start(void *ctx, const struct tundef *def, void **handle)
{
	starts++;
	*handle = (void *)(uintptr_t)def->port;
	return def->port == 666 ? -EADDRNOTAVAIL : 0;
}

static void
fake_stop(void *ctx, void *handle)
{
	stops++;
}

static void
fake_state(void *ctx, void *handle, char *out, size_t cap)
{
	snprintf(out, cap, "fake %u", (unsigned)(uintptr_t)handle);
}

static const struct tuntab_ops fake_ops = { .start = fake_start,
    .stop = fake_stop, .state = fake_state };

static struct tundef
exp_def(enum tun_proto p, uint16_t port, enum tun_origin o)
{
	struct tundef d;

	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = p;
	d.port = port;
	d.host[0] = 127;
	d.host[3] = 1;
	d.origin = o;
	return d;
}

static void
tuntab_conflicts_and_state(void)
{
	struct tuntab t;
	struct tundef d, e;
	char why[160], st[64];

	tuntab_init(&t, NULL, NULL);
	d = exp_def(TUN_UDP, 7913, TUN_ORIGIN_RUNTIME);
	CHECK_INT(tuntab_add(&t, &d, why, sizeof(why)), 0);
	CHECK_INT(tuntab_add(&t, &d, why, sizeof(why)), -EEXIST);
	e = exp_def(TUN_TCPUDP, 7913, TUN_ORIGIN_RUNTIME);
	CHECK_INT(tuntab_add(&t, &e, why, sizeof(why)), -EADDRINUSE);
	CHECK_STR(why, "export udp/7913 already exists");
	e = exp_def(TUN_TCP, 7913, TUN_ORIGIN_RUNTIME);
	CHECK_INT(tuntab_add(&t, &e, why, sizeof(why)), 0);
	tuntab_state(&t, 0, st, sizeof(st));
	CHECK_STR(st, "inactive: transport not built");
	CHECK_INT(tuntab_find(&t, &e), 1);
	tuntab_remove(&t, 0);
	CHECK_INT(tuntab_find(&t, &e), 0);
	tuntab_free(&t);
	CHECK_UINT(t.n, 0);
}

static void
tuntab_reload_keeps_unchanged(void)
{
	struct tundef cfg1[3], cfg2[3], rt;
	struct tuntab_diff diff;
	struct tuntab t;
	char why[160], st[64];

	starts = stops = 0;
	tuntab_init(&t, &fake_ops, NULL);
	cfg1[0] = exp_def(TUN_UDP, 1000, TUN_ORIGIN_CONFIG);
	cfg1[1] = exp_def(TUN_TCP, 2000, TUN_ORIGIN_CONFIG);
	cfg1[2] = exp_def(TUN_TCP, 3000, TUN_ORIGIN_CONFIG);
	CHECK_INT(tuntab_apply_config(&t, cfg1, 3, &diff), 0);
	CHECK_UINT(diff.added, 3);
	CHECK_INT(starts, 3);
	rt = exp_def(TUN_UDP, 4000, TUN_ORIGIN_RUNTIME);
	CHECK_INT(tuntab_add(&t, &rt, why, sizeof(why)), 0);
	/* 1000 unchanged, 2000 changed host, 3000 gone, 4000 now in config */
	cfg2[0] = cfg1[0];
	cfg2[1] = cfg1[1];
	cfg2[1].host[3] = 2;
	cfg2[2] = exp_def(TUN_TCPUDP, 4000, TUN_ORIGIN_CONFIG);
	starts = stops = 0;
	CHECK_INT(tuntab_apply_config(&t, cfg2, 3, &diff), 0);
	CHECK_UINT(diff.kept, 1);
	CHECK_UINT(diff.removed, 2);	/* 2000 (old host), 3000 */
	CHECK_UINT(diff.added, 2);	/* 2000 (new host), 4000 */
	CHECK_UINT(diff.dropped_runtime, 1);
	CHECK_INT(stops, 3);		/* 2000, 3000, runtime 4000 */
	CHECK_INT(starts, 2);		/* 1000 was never restarted */
	CHECK_UINT(t.n, 3);
	CHECK_INT(tuntab_find(&t, &cfg1[0]), 0);
	tuntab_state(&t, 0, st, sizeof(st));
	CHECK_STR(st, "fake 1000");
	/* a start failure keeps the entry, marked */
	rt = exp_def(TUN_UDP, 666, TUN_ORIGIN_RUNTIME);
	CHECK_INT(tuntab_add(&t, &rt, why, sizeof(why)), 0);
	tuntab_state(&t, 3, st, sizeof(st));
	CHECK_STR(st, "failed: Cannot assign requested address");
	stops = 0;
	tuntab_free(&t);
	CHECK_INT(stops, 3);		/* the failed one was never running */
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *b;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	b = calloc(1, (size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(fp);
	return b;
}

/* Every hypernatctl command is in its man page and the README. */
static void
commands_documented(void)
{
	char *man = slurp("man/hypernatctl.8"), *readme = slurp("README.md");
	char want[64];
	size_t i;

	if (!CHECK(man != NULL) || !CHECK(readme != NULL))
		goto out;
	for (i = 0; i < hctl_ncmds; i++) {
		snprintf(want, sizeof(want), ".It Cm %s", hctl_cmds[i].name);
		if (strstr(man, want) == NULL)
			harness_fail(__FILE__, __LINE__, "%s is not in "
			    "man/hypernatctl.8", hctl_cmds[i].name);
		snprintf(want, sizeof(want), "| `%s", hctl_cmds[i].name);
		if (strstr(readme, want) == NULL)
			harness_fail(__FILE__, __LINE__, "%s is not in "
			    "README.md", hctl_cmds[i].name);
	}
	CHECK(hctl_ncmds >= 10);
out:
	free(man);
	free(readme);
}

static const struct test tests[] = {
	TEST(msg_roundtrip),
	TEST(msg_check_rejects),
	TEST(msg_attribute_validation),
	TEST(msg_error_and_done),
	TEST(request_decoder),
	TEST(json_escaping),
	TEST(tuntab_conflicts_and_state),
	TEST(tuntab_reload_keeps_unchanged),
	TEST(commands_documented),
};

int
main(int argc, char **argv)
{
	log_init("test_ctl_msg", LOG_LVL_ERR);
	return harness_main("ctl_msg", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

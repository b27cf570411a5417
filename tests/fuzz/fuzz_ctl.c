/*
 * fuzz_ctl.c - control messages, both directions: one input is one
 * SOCK_SEQPACKET record, walked message by message as hypernatd walks a
 * request record (header check, attribute validation, the add/del
 * decoder) and as hypernatctl walks a reply record (errors, tunnel rows)
 */
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "ctl/hctl.h"
#include "ctl_msg.h"
#include "daemon/control.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[HNCTL_RECORD_MAX / 8];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	struct tunnel_info ti;
	struct ctl_attrs a;
	struct tundef d;
	char why[160];
	int len, err;

	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);	/* records arrive aligned */
	len = (int)size;
	while (len > 0) {
		if (ctl_msg_check(nlh, (size_t)len) < 0)
			break;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if (ctl_msg_parse_error(nlh, &err, &a) == 0 &&
			    (err > 0 || err < -4095))
				abort();
			(void)ctl_attr_str(&a, HNCTL_A_MESSAGE, "");
		} else if (ctl_msg_parse(nlh, &a) == 0) {
			if (a.nallow > HNCTL_ALLOW_MAX)
				abort();
			(void)control_tundef_from_attrs(&a,
			    HNCTL_MSG_TUNNEL_ADD, &d, why, sizeof(why));
			(void)control_tundef_from_attrs(&a,
			    HNCTL_MSG_TUNNEL_DEL, &d, why, sizeof(why));
			(void)hctl_tunnel_decode(&a, &ti);
			(void)ctl_attr_u64(&a, HNCTL_A_UPTIME, 0);
			(void)ctl_attr_str(&a, HNCTL_A_STATE, "");
		}
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	return 0;
}

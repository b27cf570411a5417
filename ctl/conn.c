/*
 * conn.c - hypernatctl's side of the control socket
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "hctl.h"

#define HCTL_TIMEOUT_SECONDS	10

int
hctl_connect(struct hctl_conn *c, const char *path)
{
	struct timeval tv = { HCTL_TIMEOUT_SECONDS, 0 };
	struct sockaddr_un sun;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = path;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		hctl_close(c);
		return rc;
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->seq = (uint32_t)getpid() << 8;
	return 0;
}

void
hctl_close(struct hctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * One reply message.  Returns 1 when it ended the exchange, 0 to read on,
 * -EBADMSG when it is malformed.
 */
static int
reply_one(const struct nlmsghdr *nlh, uint32_t seq, uint16_t type,
    hctl_msg_cb cb, void *arg, int *result, char *msg, size_t cap)
{
	struct ctl_attrs a;

	if (ctl_msg_check(nlh, nlh->nlmsg_len) < 0)
		return -EBADMSG;
	if (nlh->nlmsg_seq != seq && nlh->nlmsg_seq != 0)
		return 0;	/* not ours: an older request's */
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		if (ctl_msg_parse_error(nlh, result, &a) < 0)
			return -EBADMSG;
		snprintf(msg, cap, "%s", ctl_attr_str(&a, HNCTL_A_MESSAGE, ""));
		return 1;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		*result = 0;
		return 1;
	}
	/* ctl_proto.h: a reader skips message types it does not expect */
	if (nlh->nlmsg_type != type && !(type == HNCTL_MSG_PEER_LIST &&
	    nlh->nlmsg_type == HNCTL_MSG_CONN))
		return 0;
	if (ctl_msg_parse(nlh, &a) < 0)
		return -EBADMSG;
	if (cb)
		cb(nlh, &a, arg);
	return 0;
}

int
hctl_request(struct hctl_conn *c, struct nlmsghdr *req, hctl_msg_cb cb,
    void *arg, int *result, char *msg, size_t cap)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	const struct nlmsghdr *nlh;
	uint32_t seq = ++c->seq;
	uint16_t type = req->nlmsg_type;
	ssize_t n;
	int len, rc;

	msg[0] = '\0';
	req->nlmsg_seq = seq;
	req->nlmsg_flags |= NLM_F_REQUEST;
	if (send(c->fd, req, req->nlmsg_len, MSG_NOSIGNAL) < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		if ((size_t)n > sizeof(buf))
			return -EBADMSG;
		nlh = (const struct nlmsghdr *)(const void *)buf;
		len = (int)n;
		while (mnl_nlmsg_ok(nlh, len)) {
			rc = reply_one(nlh, seq, type, cb, arg, result, msg,
			    cap);
			if (rc != 0)
				return rc < 0 ? rc : 0;
			nlh = mnl_nlmsg_next(nlh, &len);
		}
	}
}

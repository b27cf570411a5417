/*
 * ctl_msg.h - build and read control protocol messages (ctl_proto.h)
 *
 * Thin helpers over libmnl.  Builders write into a caller's buffer of at
 * least HNCTL_RECORD_MAX bytes and never past it (attributes that would
 * not fit are refused by ctl_msg_fits()).  Readers check every length and
 * every known attribute's type and size before anything is used; unknown
 * attribute types are skipped.
 */
#ifndef HN_CTL_MSG_H
#define HN_CTL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "ctl_proto.h"

/* The attributes of one message, by type (the last one of each wins). */
struct ctl_attrs {
	const struct nlattr	*tb[HNCTL_A_MAX];
	const struct nlattr	*allow[HNCTL_ALLOW_MAX];
	size_t			 nallow;
	const char		*bad;	/* after an error: what was wrong */
};

/*
 * Start a message of `type` in buf: nlmsghdr, and unless type is
 * NLMSG_ERROR/NLMSG_DONE, a struct hnctl_hdr with HNCTL_VERSION.
 */
struct nlmsghdr	*ctl_msg_start(void *buf, uint16_t type, uint16_t flags,
		    uint32_t seq);
/*
 * An NLMSG_ERROR answering `req_type`/`req_seq` (the request header is
 * copied when `req` is not NULL) with `error` (0 or -errno) and, if
 * not NULL, a message.  Returns the header.
 */
struct nlmsghdr	*ctl_msg_error(void *buf, const struct nlmsghdr *req,
		    uint32_t seq, int error, const char *msg);
/* NLMSG_DONE ending a dump with sequence `seq`. */
struct nlmsghdr	*ctl_msg_done(void *buf, uint32_t seq);
/* Can `payload` more attribute bytes go into nlh within HNCTL_RECORD_MAX? */
bool		 ctl_msg_fits(const struct nlmsghdr *nlh, size_t payload);
/* mnl_attr_put_strz, cut to HNCTL_STR_MAX - 1 bytes. */
void		 ctl_attr_put_str(struct nlmsghdr *nlh, uint16_t type,
		    const char *s);

/*
 * Check the header of a message of `len` bytes at the head of a record:
 * the length fits, and for types >= 16 the hnctl_hdr is there with our
 * version.  Returns 0, -EBADMSG (too short or too long), or
 * -EPROTONOSUPPORT (other version).
 */
int		 ctl_msg_check(const struct nlmsghdr *nlh, size_t len);
/*
 * Read the attributes of a message whose header passed ctl_msg_check():
 * 0, or -EINVAL with a->bad saying which attribute was malformed.
 */
int		 ctl_msg_parse(const struct nlmsghdr *nlh, struct ctl_attrs *a);
/*
 * Read an NLMSG_ERROR: its error (0 or -errno) into *error and its
 * attributes into a.  Returns 0 or -EBADMSG/-EINVAL.
 */
int		 ctl_msg_parse_error(const struct nlmsghdr *nlh, int *error,
		    struct ctl_attrs *a);

/* Attribute getters; each returns `def` when the attribute is absent. */
uint8_t		 ctl_attr_u8(const struct ctl_attrs *a, int type, uint8_t def);
uint16_t	 ctl_attr_u16(const struct ctl_attrs *a, int type, uint16_t def);
uint32_t	 ctl_attr_u32(const struct ctl_attrs *a, int type, uint32_t def);
uint64_t	 ctl_attr_u64(const struct ctl_attrs *a, int type, uint64_t def);
const char	*ctl_attr_str(const struct ctl_attrs *a, int type,
		    const char *def);
/* Binary attributes: the bytes (exact length checked by the parser) or NULL. */
const uint8_t	*ctl_attr_bin(const struct ctl_attrs *a, int type);

/* Name of a message type for logs ("status", "tunnel-add", ...). */
const char	*ctl_msg_name(uint16_t type);

#endif

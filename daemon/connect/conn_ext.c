/*
 * conn_ext.c - the handshake payload capability extension (conn_ext.h)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cenc.h"
#include "cursor.h"
#include "daemon/connect/conn_ext.h"

int
conn_ext_encode(const struct noise_payload *p, uint32_t caps, uint8_t *out,
    size_t cap, size_t *len)
{
	struct cur c;
	size_t n;
	int err;

	if ((err = noise_payload_encode(p, out, cap, &n)) != 0)
		return err;
	cur_init_write(&c, out + n, cap - n);
	cur_put_u8(&c, CONN_EXT_MAGIC0);
	cur_put_u8(&c, CONN_EXT_MAGIC1);
	cenc_put_uint(&c, CONN_EXT_VERSION);
	cenc_put_uint(&c, caps);
	if (!cur_ok(&c))
		return -ENOSPC;
	*len = n + c.off;
	return 0;
}

int
conn_ext_decode(struct noise_payload *p, uint32_t *caps, const uint8_t *in,
    size_t len)
{
	uint8_t *re;
	size_t cap, n;
	uint64_t ver, v;
	struct cur c;

	*caps = 0;
	if (noise_payload_decode(p, in, len) != 0)
		return -EBADMSG;
	if (p->version != 1)
		return 0;
	cap = noise_payload_max_size();
	if ((re = malloc(cap)) == NULL)
		return 0;
	if (noise_payload_encode(p, re, cap, &n) != 0 || n + 2 > len ||
	    memcmp(re, in, n) != 0) {
		free(re);
		return 0;
	}
	free(re);
	cur_init_read(&c, in + n, len - n);
	if (cur_get_u8(&c) != CONN_EXT_MAGIC0 ||
	    cur_get_u8(&c) != CONN_EXT_MAGIC1)
		return 0;
	ver = cenc_get_uint(&c);
	v = cenc_get_uint(&c);
	/* later versions only append: any version >= 1 carries caps */
	if (!cur_ok(&c) || ver < 1)
		return 0;
	*caps = (uint32_t)v;
	return 0;
}

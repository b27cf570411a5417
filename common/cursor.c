/*
 * cursor.c - bounds-checked byte reader and writer with a sticky error
 */
#include <errno.h>
#include <string.h>

#include "cursor.h"

void
cur_init_read(struct cur *c, const void *p, size_t len)
{
	c->p = (uint8_t *)(uintptr_t)p;
	c->len = p ? len : 0;
	c->off = 0;
	c->err = 0;
}

void
cur_init_write(struct cur *c, void *p, size_t cap)
{
	c->p = p;
	c->len = p ? cap : 0;
	c->off = 0;
	c->err = 0;
}

void
cur_fail(struct cur *c, int err)
{
	if (c->err == 0)
		c->err = err;
}

/* Advance by n if that stays inside the buffer; else fail with `err`. */
static uint8_t *
cur_advance(struct cur *c, size_t n, int err)
{
	uint8_t *at;

	if (c->err)
		return NULL;
	if (n > c->len - c->off) {
		c->err = err;
		return NULL;
	}
	at = c->p + c->off;
	c->off += n;
	return at;
}

const uint8_t *
cur_take(struct cur *c, size_t n)
{
	return cur_advance(c, n, -EBADMSG);
}

void
cur_skip(struct cur *c, size_t n)
{
	(void)cur_advance(c, n, -EBADMSG);
}

uint8_t
cur_get_u8(struct cur *c)
{
	const uint8_t *p = cur_take(c, 1);

	return p ? p[0] : 0;
}

uint16_t
cur_get_u16le(struct cur *c)
{
	const uint8_t *p = cur_take(c, 2);

	return p ? load_u16le(p) : 0;
}

uint32_t
cur_get_u32le(struct cur *c)
{
	const uint8_t *p = cur_take(c, 4);

	return p ? load_u32le(p) : 0;
}

uint64_t
cur_get_u64le(struct cur *c)
{
	const uint8_t *p = cur_take(c, 8);

	return p ? load_u64le(p) : 0;
}

uint16_t
cur_get_u16be(struct cur *c)
{
	const uint8_t *p = cur_take(c, 2);

	return p ? (uint16_t)((unsigned)p[0] << 8 | p[1]) : 0;
}

uint32_t
cur_get_u32be(struct cur *c)
{
	const uint8_t *p = cur_take(c, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : 0;
}

void
cur_get_bytes(struct cur *c, void *out, size_t n)
{
	const uint8_t *p = cur_take(c, n);

	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

uint8_t *
cur_reserve(struct cur *c, size_t n)
{
	return cur_advance(c, n, -ENOSPC);
}

void
cur_put_u8(struct cur *c, uint8_t v)
{
	uint8_t *p = cur_reserve(c, 1);

	if (p)
		p[0] = v;
}

void
cur_put_u16le(struct cur *c, uint16_t v)
{
	uint8_t *p = cur_reserve(c, 2);

	if (p)
		store_u16le(p, v);
}

void
cur_put_u32le(struct cur *c, uint32_t v)
{
	uint8_t *p = cur_reserve(c, 4);

	if (p)
		store_u32le(p, v);
}

void
cur_put_u64le(struct cur *c, uint64_t v)
{
	uint8_t *p = cur_reserve(c, 8);

	if (p)
		store_u64le(p, v);
}

void
cur_put_u16be(struct cur *c, uint16_t v)
{
	uint8_t *p = cur_reserve(c, 2);

	if (p) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

void
cur_put_u32be(struct cur *c, uint32_t v)
{
	uint8_t *p = cur_reserve(c, 4);

	if (p) {
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
	}
}

void
cur_put_bytes(struct cur *c, const void *src, size_t n)
{
	uint8_t *p = cur_reserve(c, n);

	if (p && n)
		memcpy(p, src, n);
}

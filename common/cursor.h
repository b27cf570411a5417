/*
 * cursor.h - bounds-checked byte reader and writer with a sticky error
 *
 * A cursor walks one buffer.  Every get or put checks the length first; the
 * first failure sets `err` and every later call is a no-op that returns
 * zero, so a decoder reads a whole message and checks `cur_ok()` once at
 * the end, and applies nothing until then.  Multi-byte integers are stored
 * and loaded byte by byte, little-endian, never through a cast pointer.
 */
#ifndef HN_CURSOR_H
#define HN_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cur {
	uint8_t		*p;	/* start of the buffer */
	size_t		 len;	/* bytes readable, or capacity when writing */
	size_t		 off;	/* current position */
	int		 err;	/* 0, -EBADMSG (read past end, bad value), -ENOSPC (write) */
};

/* Reader over `len` bytes at `p`; the bytes are never written. */
void		 cur_init_read(struct cur *c, const void *p, size_t len);
/* Writer into `cap` bytes at `p` (NULL only with cap 0). */
void		 cur_init_write(struct cur *c, void *p, size_t cap);

static inline bool
cur_ok(const struct cur *c)
{
	return c->err == 0;
}

/* Bytes left to read (or room left to write); 0 after an error. */
static inline size_t
cur_left(const struct cur *c)
{
	return c->err ? 0 : c->len - c->off;
}

/* Mark the cursor failed with `err` (a negative errno) unless it already is. */
void		 cur_fail(struct cur *c, int err);

uint8_t		 cur_get_u8(struct cur *c);
uint16_t	 cur_get_u16le(struct cur *c);
uint32_t	 cur_get_u32le(struct cur *c);
uint64_t	 cur_get_u64le(struct cur *c);
uint16_t	 cur_get_u16be(struct cur *c);
uint32_t	 cur_get_u32be(struct cur *c);
/* Copy `n` bytes out; on failure `out` is zeroed. */
void		 cur_get_bytes(struct cur *c, void *out, size_t n);
/* Return a pointer to the next `n` bytes and advance, or NULL on failure. */
const uint8_t	*cur_take(struct cur *c, size_t n);
void		 cur_skip(struct cur *c, size_t n);

void		 cur_put_u8(struct cur *c, uint8_t v);
void		 cur_put_u16le(struct cur *c, uint16_t v);
void		 cur_put_u32le(struct cur *c, uint32_t v);
void		 cur_put_u64le(struct cur *c, uint64_t v);
void		 cur_put_u16be(struct cur *c, uint16_t v);
void		 cur_put_u32be(struct cur *c, uint32_t v);
void		 cur_put_bytes(struct cur *c, const void *p, size_t n);
/* Reserve `n` bytes and return where they are (NULL on failure). */
uint8_t		*cur_reserve(struct cur *c, size_t n);

/* Plain byte-wise loads and stores for code that has already checked bounds. */
static inline uint16_t
load_u16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t
load_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
load_u64le(const uint8_t *p)
{
	return (uint64_t)load_u32le(p) | (uint64_t)load_u32le(p + 4) << 32;
}

static inline void
store_u16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
store_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
store_u64le(uint8_t *p, uint64_t v)
{
	store_u32le(p, (uint32_t)v);
	store_u32le(p + 4, (uint32_t)(v >> 32));
}

#endif

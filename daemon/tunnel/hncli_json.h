/*
 * hncli_json.h - just enough JSON for hyper-nat's options.json
 *
 * JSON.parse semantics where they matter to hncli: strings are decoded to
 * UTF-8 (a lone surrogate becomes U+FFFD, as Buffer.from() does), numbers
 * keep their text, a repeated object key: the last one wins.  Depth and
 * size are bounded; nothing here trusts its input.
 */
#ifndef HN_HNCLI_JSON_H
#define HN_HNCLI_JSON_H

#include <stddef.h>

enum hj_type { HJ_NULL, HJ_FALSE, HJ_TRUE, HJ_NUM, HJ_STR, HJ_ARR, HJ_OBJ };

struct hj {
	enum hj_type	 type;
	char		*s;		/* HJ_STR: UTF-8 (len bytes); HJ_NUM: text */
	size_t		 len;
	struct hj	*kid;		/* array elements / object values */
	char		**key;		/* object keys (NUL-terminated) */
	size_t		 n;
};

#define HJ_MAX_DEPTH	32

/* Parse `len` bytes; NULL with a message ("offset N: ...") on error. */
struct hj	*hj_parse(const char *text, size_t len, char *err, size_t cap);
void		 hj_free(struct hj *v);
/* The value of `key` in object `o` (the last one written), or NULL. */
const struct hj	*hj_get(const struct hj *o, const char *key);

#endif

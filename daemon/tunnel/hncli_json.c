/*
 * hncli_json.c - a small, bounded JSON reader for options.json
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hncli_json.h"

struct hjp {
	const char	*p, *end, *start;
	char		*err;
	size_t		 cap;
	bool		 failed;
};

static void
hj_fail(struct hjp *j, const char *msg)
{
	if (!j->failed)
		snprintf(j->err, j->cap, "offset %zu: %s",
		    (size_t)(j->p - j->start), msg);
	j->failed = true;
}

static void
hj_ws(struct hjp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static void
hj_clear(struct hj *v)
{
	size_t i;

	free(v->s);
	if (v->type == HJ_ARR || v->type == HJ_OBJ) {
		for (i = 0; i < v->n; i++) {
			hj_clear(&v->kid[i]);
			if (v->key)
				free(v->key[i]);
		}
		free(v->kid);
		free(v->key);
	}
	memset(v, 0, sizeof(*v));
}

void
hj_free(struct hj *v)
{
	if (v == NULL)
		return;
	hj_clear(v);
	free(v);
}

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* At the opening quote; a string of at most (end - p) * 3 bytes. */
static char *
hj_string(struct hjp *j, size_t *lenp)
{
	char *o, *out;
	uint32_t c, lo;

	j->p++;
	if ((out = malloc((size_t)(j->end - j->p) * 3 + 1)) == NULL) {
		hj_fail(j, "out of memory");
		return NULL;
	}
	o = out;
	while (j->p < j->end && *j->p != '"') {
		if ((unsigned char)*j->p < 0x20) {
			hj_fail(j, "control character in string");
			goto fail;
		}
		if (*j->p != '\\') {
			*o++ = *j->p++;
			continue;
		}
		if (++j->p >= j->end)
			break;
		switch (*j->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (j->end - j->p < 4 || hex4(j->p, &c) != 0) {
				hj_fail(j, "bad \\u escape");
				goto fail;
			}
			j->p += 4;
			if (c >= 0xd800 && c < 0xdc00 && j->end - j->p >= 6 &&
			    j->p[0] == '\\' && j->p[1] == 'u' &&
			    hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				j->p += 6;
			} else if (c >= 0xd800 && c < 0xe000) {
				c = 0xfffd;	/* lone surrogate */
			}
			o += utf8_put(o, c);
			break;
		default:
			hj_fail(j, "bad escape");
			goto fail;
		}
	}
	if (j->p >= j->end) {
		hj_fail(j, "unterminated string");
		goto fail;
	}
	j->p++;
	*o = '\0';
	*lenp = (size_t)(o - out);
	return out;
fail:
	free(out);
	return NULL;
}

static int hj_value(struct hjp *j, struct hj *v, int depth);

static int
hj_push(struct hjp *j, struct hj *v, char *key)
{
	struct hj *nk;
	char **nkey;

	if ((nk = realloc(v->kid, (v->n + 1) * sizeof(*nk))) == NULL)
		goto nomem;
	v->kid = nk;
	memset(&v->kid[v->n], 0, sizeof(*nk));
	if (v->type == HJ_OBJ) {
		if ((nkey = realloc(v->key, (v->n + 1) * sizeof(*nkey))) == NULL)
			goto nomem;
		v->key = nkey;
		v->key[v->n] = key;
	}
	v->n++;
	return 0;
nomem:
	free(key);
	hj_fail(j, "out of memory");
	return -1;
}

static int
hj_container(struct hjp *j, struct hj *v, int depth)
{
	char close = v->type == HJ_OBJ ? '}' : ']';
	char *key = NULL;
	size_t kl;

	j->p++;
	hj_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		hj_ws(j);
		if (v->type == HJ_OBJ) {
			if (j->p >= j->end || *j->p != '"') {
				hj_fail(j, "expected a key");
				return -1;
			}
			if ((key = hj_string(j, &kl)) == NULL)
				return -1;
			hj_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				free(key);
				hj_fail(j, "expected ':'");
				return -1;
			}
			j->p++;
		}
		if (hj_push(j, v, key) != 0)
			return -1;
		if (hj_value(j, &v->kid[v->n - 1], depth + 1) != 0)
			return -1;
		hj_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		hj_fail(j, "expected ',' or a closing bracket");
		return -1;
	}
}

static int
hj_number(struct hjp *j, struct hj *v)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
		hj_fail(j, "unexpected token");
		return -1;
	}
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			goto bad;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			goto bad;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	v->type = HJ_NUM;
	v->len = (size_t)(j->p - s);
	if ((v->s = strndup(s, v->len)) == NULL) {
		hj_fail(j, "out of memory");
		return -1;
	}
	return 0;
bad:
	hj_fail(j, "bad number");
	return -1;
}

static bool
hj_word(struct hjp *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static int
hj_value(struct hjp *j, struct hj *v, int depth)
{
	if (depth > HJ_MAX_DEPTH) {
		hj_fail(j, "nested too deeply");
		return -1;
	}
	hj_ws(j);
	if (j->p >= j->end) {
		hj_fail(j, "unexpected end");
		return -1;
	}
	switch (*j->p) {
	case '{':
		v->type = HJ_OBJ;
		return hj_container(j, v, depth);
	case '[':
		v->type = HJ_ARR;
		return hj_container(j, v, depth);
	case '"':
		v->type = HJ_STR;
		return (v->s = hj_string(j, &v->len)) ? 0 : -1;
	case 't':
		v->type = HJ_TRUE;
		if (hj_word(j, "true"))
			return 0;
		break;
	case 'f':
		v->type = HJ_FALSE;
		if (hj_word(j, "false"))
			return 0;
		break;
	case 'n':
		v->type = HJ_NULL;
		if (hj_word(j, "null"))
			return 0;
		break;
	default:
		return hj_number(j, v);
	}
	hj_fail(j, "unexpected token");
	return -1;
}

struct hj *
hj_parse(const char *text, size_t len, char *err, size_t cap)
{
	struct hjp j = { text, text + len, text, err, cap, false };
	struct hj *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	/* JSON.parse of a file read as utf8 skips no BOM: neither do we */
	if (hj_value(&j, v, 0) == 0) {
		hj_ws(&j);
		if (j.p == j.end)
			return v;
		hj_fail(&j, "trailing characters");
	}
	hj_free(v);
	return NULL;
}

const struct hj *
hj_get(const struct hj *o, const char *key)
{
	const struct hj *r = NULL;

	if (o == NULL || o->type != HJ_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->key[i], key) == 0)
			r = &o->kid[i];
	return r;
}

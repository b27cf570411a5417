/*
 * json.h - a small JSON writer: one document, pretty-printed, escaped
 *
 * Strings are written as valid JSON whatever their bytes: quotes,
 * backslashes and control characters are escaped, and bytes that are not
 * valid UTF-8 become U+FFFD.  Nesting is tracked so commas are right.
 */
#ifndef HN_CTL_JSON_H
#define HN_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX	16

struct json {
	FILE	*fp;
	int	 depth;
	bool	 nonempty[JSON_DEPTH_MAX];
};

void	json_init(struct json *j, FILE *fp);
/* `key` is the member name inside an object, NULL inside an array or at the top. */
void	json_obj_begin(struct json *j, const char *key);
void	json_obj_end(struct json *j);
void	json_arr_begin(struct json *j, const char *key);
void	json_arr_end(struct json *j);
/* A string member; NULL writes null. */
void	json_str(struct json *j, const char *key, const char *v);
void	json_uint(struct json *j, const char *key, uint64_t v);
void	json_int(struct json *j, const char *key, long long v);
void	json_bool(struct json *j, const char *key, bool v);
void	json_null(struct json *j, const char *key);
/* Write `s` as a JSON string literal, quotes included. */
void	json_write_string(FILE *fp, const char *s);

#endif

/*
 * main.c - hypernatctl: options and the subcommand table
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hctl.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct hctl h;
	size_t i;
	int ch, rc;

	memset(&h, 0, sizeof(h));
	h.out = &output_text;
	h.socket_path = getenv("HYPERNAT_SOCKET");
	if (h.socket_path == NULL || h.socket_path[0] == '\0')
		h.socket_path = HNCTL_SOCKET_PATH;
	/* "+": options end at the command, so "add ... allow -x" stays an argument */
	while ((ch = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			h.out = &output_json;
			break;
		case 's':
			h.socket_path = optarg;
			break;
		case 'h':
			hctl_usage(stdout);
			return HCTL_EXIT_OK;
		default:
			hctl_usage(stderr);
			return HCTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		hctl_usage(stderr);
		return HCTL_EXIT_USAGE;
	}
	for (i = 0; i < hctl_ncmds; i++)
		if (strcmp(argv[0], hctl_cmds[i].name) == 0)
			break;
	if (i == hctl_ncmds) {
		fprintf(stderr, "hypernatctl: unknown command %s\n", argv[0]);
		hctl_usage(stderr);
		return HCTL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0)
		return hctl_cmds[i].fn(&h, argc, argv);
	h.out->begin(argv[0]);
	rc = hctl_cmds[i].fn(&h, argc, argv);
	if (rc == HCTL_EXIT_USAGE && h.out == &output_json)
		h.out->result(argv[0], -EINVAL, "usage error (see standard "
		    "error)");
	h.out->end();
	return rc;
}

# hypernat - one non-recursive Makefile for the whole tree.
#
#   make            build hypernatd, hypernatctl and the test programs
#   make check      install what the tests need, then run every test tier
#   make demo       run the main job on its embedded default
#   make V=1        show the commands
#
# New sources are picked up by wildcard:
#   common/*.c                         -> libhncommon.a
#   daemon/{udx,dht,noise,connect,tunnel}/*.c -> libhnstack.a
#   daemon/*.c but main.c              -> libhndaemon.a, + daemon/main.c -> hypernatd
#   ctl/*.c but main.c                 -> libhnctl.a, + ctl/main.c -> hypernatctl
#   tests/harness.c tests/sim/sim*.c   -> libhntest.a
#   tests/{unit,sim,config,ctl}/test_*.c -> one test program (suite) each,
#                                         linked with every library above
#   tests/fuzz/fuzz_*.c                -> one libFuzzer target each, corpus in
#                                         tests/fuzz/corpus/<name without fuzz_>/

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc
DESTDIR		?=

CC		?= cc
CLANG		?= clang
PKG_CONFIG	?= pkg-config
NODE		?= node

PKGS		:= libsodium libev yaml-0.1 libsystemd libmnl
PKG_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ifeq ($(PKG_LIBS),)
PKG_LIBS	:= -lsodium -lev -lyaml -lsystemd -lmnl
endif

WARN		:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wvla \
		   -Wundef -Wno-unused-parameter -Wimplicit-fallthrough
ifeq ($(CI),true)
WARN		+= -Werror
endif

OPT		?= -O2 -g
CPPFLAGS	+= -D_GNU_SOURCE -I. -Icommon -Itests
CFLAGS		?= $(OPT)
CFLAGS		+= -std=c11 $(WARN) $(PKG_CFLAGS) -fno-strict-aliasing -MMD -MP
LDLIBS		+= $(PKG_LIBS) -lm

SAN_FLAGS	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
		   -fno-omit-frame-pointer
FUZZ_FLAGS	:= -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer

B		:= build

ifeq ($(V),1)
Q		:=
msg		= @true
else
Q		:= @
msg		= @printf '  %-7s %s\n' $(1) $(2)
endif

# --------------------------------------------------------------- sources
COMMON_SRC	:= $(sort $(wildcard common/*.c))
STACK_SRC	:= $(sort $(wildcard daemon/udx/*.c daemon/dht/*.c \
		     daemon/noise/*.c daemon/connect/*.c daemon/tunnel/*.c))
DAEMON_SRC	:= $(sort $(filter-out daemon/main.c,$(wildcard daemon/*.c)))
DAEMON_MAIN	:= $(wildcard daemon/main.c)
CTL_SRC		:= $(sort $(filter-out ctl/main.c,$(wildcard ctl/*.c)))
CTL_MAIN	:= $(wildcard ctl/main.c)
TESTLIB_SRC	:= tests/harness.c $(sort $(wildcard tests/sim/sim*.c))
TEST_SRC	:= $(sort $(wildcard tests/unit/test_*.c tests/sim/test_*.c \
		     tests/config/test_*.c tests/ctl/test_*.c))
FUZZ_SRC	:= $(sort $(wildcard tests/fuzz/fuzz_*.c))

objs		= $(patsubst %.c,$(1)/%.o,$(2))

LIBCOMMON	:= $(B)/libhncommon.a
LIBSTACK	:= $(B)/libhnstack.a
LIBDAEMON	:= $(B)/libhndaemon.a
LIBCTL		:= $(B)/libhnctl.a
LIBTEST		:= $(B)/libhntest.a
LIBS		:= $(LIBDAEMON) $(LIBCTL) $(LIBSTACK) $(LIBCOMMON)

DAEMON_BIN	:= $(if $(DAEMON_MAIN),$(B)/hypernatd)
CTL_BIN		:= $(if $(CTL_MAIN),$(B)/hypernatctl)
TEST_BIN	:= $(patsubst %.c,$(B)/%,$(TEST_SRC))

# The sanitizer build (ASan + UBSan, default compiler) mirrors the normal one.
SLIBS		:= $(B)/san/libhndaemon.a $(B)/san/libhnctl.a \
		   $(B)/san/libhnstack.a $(B)/san/libhncommon.a
STEST_BIN	:= $(patsubst %.c,$(B)/san/%,$(TEST_SRC))
REPLAY_BIN	:= $(patsubst tests/fuzz/%.c,$(B)/san/replay/%,$(FUZZ_SRC))
FUZZ_BIN	:= $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
# Sanitized daemon and ctl: test_ctl drives these when they exist
SBIN		:= $(if $(DAEMON_MAIN),$(B)/san/hypernatd) \
		   $(if $(CTL_MAIN),$(B)/san/hypernatctl)

.PHONY: all check check-unit check-sim check-sanitize check-fuzz check-interop \
	check-natlab check-system deps fuzz fuzz-smoke sanitize install \
	uninstall deb rpm clean demo bench bench-udx bench-dht bench-connect
.DEFAULT_GOAL := all

all: $(DAEMON_BIN) $(CTL_BIN) $(TEST_BIN)

# --------------------------------------------------------------- rules
$(B)/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c
	$(call msg,CC-SAN,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(B)/clang/%.o: %.c
	$(call msg,CC-FUZZ,$<)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) -std=c11 -g -O1 $(PKG_CFLAGS) -MMD -MP \
		$(FUZZ_FLAGS) -c -o $@ $<

define archive
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^
endef

$(LIBCOMMON): $(call objs,$(B),$(COMMON_SRC)) ; $(archive)
$(LIBSTACK): $(call objs,$(B),$(STACK_SRC)) ; $(archive)
$(LIBDAEMON): $(call objs,$(B),$(DAEMON_SRC)) ; $(archive)
$(LIBCTL): $(call objs,$(B),$(CTL_SRC)) ; $(archive)
$(LIBTEST): $(call objs,$(B),$(TESTLIB_SRC)) ; $(archive)
$(B)/san/libhncommon.a: $(call objs,$(B)/san,$(COMMON_SRC)) ; $(archive)
$(B)/san/libhnstack.a: $(call objs,$(B)/san,$(STACK_SRC)) ; $(archive)
$(B)/san/libhndaemon.a: $(call objs,$(B)/san,$(DAEMON_SRC)) ; $(archive)
$(B)/san/libhnctl.a: $(call objs,$(B)/san,$(CTL_SRC)) ; $(archive)
$(B)/san/libhntest.a: $(call objs,$(B)/san,$(TESTLIB_SRC)) ; $(archive)
$(B)/clang/libhnall.a: $(call objs,$(B)/clang,$(DAEMON_SRC) $(CTL_SRC) \
		$(STACK_SRC) $(COMMON_SRC)) ; $(archive)

$(B)/hypernatd: $(call objs,$(B),$(DAEMON_MAIN)) $(LIBDAEMON) $(LIBSTACK) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/hypernatctl: $(call objs,$(B),$(CTL_MAIN)) $(LIBCTL) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TEST_BIN): $(B)/%: $(B)/%.o $(LIBTEST) $(LIBS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(STEST_BIN): $(B)/san/%: $(B)/san/%.o $(B)/san/libhntest.a $(SLIBS)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/san/hypernatd: $(call objs,$(B)/san,$(DAEMON_MAIN)) $(B)/san/libhndaemon.a \
		$(B)/san/libhnstack.a $(B)/san/libhncommon.a
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/san/hypernatctl: $(call objs,$(B)/san,$(CTL_MAIN)) $(B)/san/libhnctl.a \
		$(B)/san/libhncommon.a
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Corpus replay: the fuzz target plus a main() that feeds it files.
$(REPLAY_BIN): $(B)/san/replay/%: $(B)/san/tests/fuzz/%.o $(B)/san/tests/fuzz/replay.o $(SLIBS)
	$(call msg,LD-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(FUZZ_BIN): $(B)/fuzz/%: $(B)/clang/tests/fuzz/%.o $(B)/clang/libhnall.a
	$(call msg,LD-FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

.PRECIOUS: $(B)/%.o $(B)/san/%.o $(B)/clang/%.o

# --------------------------------------------------------------- tests
# `make check` is what CI and the README run: it installs what it needs,
# builds, runs every tier and ends with "check: N passed, N failed".
check: deps
	$(Q)$(MAKE) --no-print-directory all $(STEST_BIN) $(REPLAY_BIN) $(SBIN)
	$(Q)tests/run-check.sh all

deps:
	$(Q)tests/install-deps.sh

check-unit: $(TEST_BIN) $(DAEMON_BIN) $(CTL_BIN)
	$(Q)tests/run-check.sh unit

check-sanitize sanitize: $(STEST_BIN) $(REPLAY_BIN) $(SBIN) $(DAEMON_BIN) $(CTL_BIN)
	$(Q)tests/run-check.sh sanitize

check-fuzz: $(REPLAY_BIN)
	$(Q)tests/run-check.sh fuzz

check-interop: $(TEST_BIN) $(DAEMON_BIN) $(CTL_BIN)
	$(Q)tests/run-check.sh interop

check-natlab: all
	$(Q)tests/run-check.sh natlab

check-system: all
	$(Q)tests/run-check.sh system

fuzz: $(FUZZ_BIN)

# Each libFuzzer target for FUZZ_SECONDS (60 s) on a scratch copy of its
# corpus; a finding fails the target and is kept in build/fuzz/findings/.
FUZZ_SECONDS	?= 60
fuzz-smoke: $(FUZZ_BIN)
	$(Q)tests/fuzz/smoke.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# Side by side with the JavaScript implementation, in one run; ratios in
# the last line.  Never part of `make check`.
bench: bench-udx bench-dht bench-connect

bench-udx: all
	$(Q)bench/udx/bench.sh

bench-dht: all
	$(Q)bench/dht/bench.sh

# root: the NAT lab
bench-connect: all
	$(Q)bench/connect/bench.sh

demo:
	$(Q)tests/demo.sh

# --------------------------------------------------------------- install
# The unit, sysusers file and bash completion go where this machine's
# systemd and bash-completion look (Debian 12: /lib/systemd/system).
UNITDIR		?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR	?= $(or $(shell $(PKG_CONFIG) --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
VERSION		:= $(shell sed -n 's/^\#define HND_VERSION[[:space:]]*"\(.*\)"/\1/p' daemon/hnd.h)

install: $(DAEMON_BIN) $(CTL_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	$(if $(DAEMON_BIN),install -m 0755 $(DAEMON_BIN) $(DESTDIR)$(SBINDIR)/)
	$(if $(CTL_BIN),install -m 0755 $(CTL_BIN) $(DESTDIR)$(BINDIR)/)
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	for f in man/*.5; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man5/; done; true
	for f in man/*.8; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man8/; done; true
	install -d $(DESTDIR)$(SYSCONFDIR)/hypernat
	install -m 0644 hypernat.conf.example $(DESTDIR)$(SYSCONFDIR)/hypernat/hypernat.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/hypernat/hypernat.conf ] || \
		install -m 0644 hypernat.conf.example $(DESTDIR)$(SYSCONFDIR)/hypernat/hypernat.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(BASHCOMPDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
		systemd/hypernatd.service > $(DESTDIR)$(UNITDIR)/hypernatd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hypernatd.service
	install -m 0644 systemd/hypernat.sysusers $(DESTDIR)$(SYSUSERSDIR)/hypernat.conf
	install -m 0644 completion/hypernatctl $(DESTDIR)$(BASHCOMPDIR)/hypernatctl

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/hypernatd $(DESTDIR)$(BINDIR)/hypernatctl
	rm -f $(DESTDIR)$(SYSCONFDIR)/hypernat/hypernat.conf.example
	rm -f $(DESTDIR)$(UNITDIR)/hypernatd.service \
		$(DESTDIR)$(SYSUSERSDIR)/hypernat.conf \
		$(DESTDIR)$(BASHCOMPDIR)/hypernatctl

# Packages, built from a copy of the working tree (committed or not, minus
# what git ignores) in build/deb and build/rpm; the packages land there.
PKG_SRC		:= hypernat-$(VERSION)
# (outside a git checkout: everything but build/ and node_modules/)
pkg_tree	= rm -rf $(1) && mkdir -p $(1)/$(PKG_SRC) && \
		  { if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		    git ls-files -z -co --exclude-standard | tar --null -T - -cf -; \
		  else tar --exclude=./$(B) --exclude=node_modules -cf - .; fi; } | \
		  tar -C $(1)/$(PKG_SRC) -xf -

deb:
	$(call msg,DEB,$(B)/deb)
	$(Q)$(call pkg_tree,$(B)/deb)
	$(Q)cp -r packaging/debian $(B)/deb/$(PKG_SRC)/debian
	$(Q)cd $(B)/deb/$(PKG_SRC) && dpkg-buildpackage -us -uc -b -j2 \
		> ../build.log 2>&1 || { tail -n 30 ../build.log; exit 1; }
	$(Q)rm -rf $(B)/deb/$(PKG_SRC)
	$(Q)ls $(B)/deb/*.deb

rpm:
	$(call msg,RPM,$(B)/rpm)
	$(Q)$(call pkg_tree,$(B)/rpm/SOURCES)
	$(Q)tar -C $(B)/rpm/SOURCES -czf $(B)/rpm/SOURCES/$(PKG_SRC).tar.gz $(PKG_SRC)
	$(Q)rm -rf $(B)/rpm/SOURCES/$(PKG_SRC)
	$(Q)rpmbuild -bb --nodeps --clean --define "_topdir $(abspath $(B)/rpm)" \
		--define "version $(VERSION)" packaging/rpm/hypernat.spec \
		> $(B)/rpm/build.log 2>&1 || { tail -n 30 $(B)/rpm/build.log; exit 1; }
	$(Q)find $(B)/rpm/RPMS -name '*.rpm'

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)

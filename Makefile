# sessiond — GNU make. Objects and binaries go to build/ (out of tree).
#   make                 build sessiond, cleanup_sessions and sessionctl
#   make check           the quick tier: unit tests, 00_docs, 00_layers, 00_smoke (under 2 min)
#   make test            unit + integration tests over a real PostgreSQL and nginx (test build: FAULT_HOOKS=1)
#   make run             local stack: PostgreSQL under ./var, sessiond, nginx on 127.0.0.1:8080
#   make SANITIZE=address,undefined test
#   make V=1             show full command lines
#   make install PREFIX=/usr/local DESTDIR=   binaries, sql/, examples, man pages
#   make man             regenerate man/sessiond.conf.5 from the key table
#   make deb             build/deb/sessiond_<version>_<arch>.deb (dpkg-buildpackage on a copy of the tree)
#   make deb-test        build, lint, install, smoke-test and purge the package (root)

# The version has one home, debian/changelog (dpkg reads it there); no tool needed to read it here.
VERSION  := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc

PKGS     := json-c libpq openssl uuid
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libjwt only for the unit test that shows why jwtv does not use it.
TEST_LIBS  := $(shell pkg-config --libs libjwt 2>/dev/null)
PG_INC     := $(shell pg_config --includedir 2>/dev/null)
# libcurl for the JWKS fetcher (app/jwks_fetch.c) and for parsing the JWKS URL
# when a configuration is loaded (app/urlcheck.c, reached by every program).
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null)

# CFLAGS is the user's (optimisation, debug): `make CFLAGS=-O0` replaces only
# that. What the build needs is in REQ_CFLAGS, always added.
CFLAGS   ?= -O2 -g
REQ_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -fno-strict-aliasing -D_GNU_SOURCE -DSESSIOND_VERSION='"$(VERSION)"' -DSESSIOND_SQL_DIR='"$(PREFIX)/share/sessiond/sql"' \
            -Iinclude $(PKG_CFLAGS) $(CURL_CFLAGS) $(if $(PG_INC),-I$(PG_INC))
REQ_LDFLAGS :=
LDLIBS   += -lfcgi $(PKG_LIBS)

# Test-only fault hooks (the SESSIOND_TEST_* environment variables) are
# compiled in only with FAULT_HOOKS=1: make test, unit and valgrind build so;
# make, make install and the .deb never do (docs/development.md).
FAULT_HOOKS ?= 0
ifeq ($(FAULT_HOOKS),1)
REQ_CFLAGS += -DSESSIOND_FAULT_HOOKS
endif

ifneq ($(SANITIZE),)
REQ_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
REQ_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS  = $(REQ_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(REQ_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Every app/*.c except the three program entry points forms the core library that
# the programs and the unit tests link against.
MAINS     := app/main.c app/cleanup_main.c app/sessionctl_main.c
LIB_SRCS  := $(filter-out $(MAINS),$(wildcard app/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libsessiond.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:%.c=$(BUILD)/%)

PROGS := $(BUILD)/sessiond $(BUILD)/cleanup_sessions $(BUILD)/sessionctl

.PHONY: all check test unit run start stop install clean setup setup-run tools check-config man deb deb-test
.SECONDARY:
all: $(PROGS)

# Every object depends on the flags it was compiled with (not PREFIX: see
# below): switching FAULT_HOOKS, SANITIZE, CFLAGS or CC rebuilds, so a test
# build is never installed by mistake.
FLAGS_STAMP := $(BUILD)/flags.stamp
FLAGS_TEXT  := $(CC) $(CFLAGS) $(CPPFLAGS) SANITIZE=$(SANITIZE) FAULT_HOOKS=$(FAULT_HOOKS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(FLAGS_TEXT)' | cmp -s - $@ || echo '$(FLAGS_TEXT)' >$@

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The default SQL directory is compiled into main.o from PREFIX: the stamp
# changes (and main.o is rebuilt) whenever PREFIX does, so
# `make && make install PREFIX=/usr` installs a binary that looks in /usr.
PREFIX_STAMP := $(BUILD)/prefix.stamp
$(PREFIX_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' >$@
$(BUILD)/app/main.o: $(PREFIX_STAMP)
.PHONY: FORCE
FORCE:

$(BUILD)/sessiond: $(BUILD)/app/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BUILD)/cleanup_sessions: $(BUILD)/app/cleanup_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BUILD)/sessionctl: $(BUILD)/app/sessionctl_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS) $(TEST_LIBS)

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

tools: $(TOOL_BINS)

# Installs missing Debian packages (needs root; a no-op when all are present):
# everything for the tests, or (setup-run) only what building and running needs.
setup:
	$(Q)scripts/setup-deps

setup-run:
	$(Q)scripts/setup-deps --run

# The quick tier (docs/development.md): unit tests, the docs and layering
# checks, and one end-to-end smoke over PostgreSQL + nginx.
check: setup
	$(Q)$(MAKE) --no-print-directory FAULT_HOOKS=1 all tools $(UNIT_BINS)
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) TESTS="00_docs 00_layers 00_smoke" tests/run $(UNIT_BINS)

unit:
	$(Q)$(MAKE) --no-print-directory FAULT_HOOKS=1 all $(UNIT_BINS)
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/run --unit-only $(UNIT_BINS)

test: setup
	$(Q)$(MAKE) --no-print-directory FAULT_HOOKS=1 all tools $(UNIT_BINS)
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/run $(UNIT_BINS)

run: setup-run all tools
	$(Q)scripts/stack run

start: setup-run all tools
	$(Q)scripts/stack start

stop:
	$(Q)scripts/stack stop

# The sample configuration, with the local stack's JWKS when there is one
# (--check-config loads the keys; the sample names the production path).
check-config: all
	$(Q)$(if $(wildcard var/keys/jwks.json),SESSIOND_JWKS_FILE=var/keys/jwks.json )$(BUILD)/sessiond --check-config --config conf/sessiond.conf.example

# The man page of the configuration is generated from the key table; a test
# checks that the committed man/sessiond.conf.5 is up to date.
man: $(BUILD)/sessiond
	$(Q)scripts/gen-conf-man $(BUILD)/sessiond >man/sessiond.conf.5.tmp && mv man/sessiond.conf.5.tmp man/sessiond.conf.5

DOCDIR := $(PREFIX)/share/doc/sessiond
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/sessiond/sql \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 scripts/spawn-fcgi-start $(DESTDIR)$(PREFIX)/sbin/sessiond-spawn-fcgi
	install -m 0644 sql/[0-9][0-9][0-9]_*.sql $(DESTDIR)$(PREFIX)/share/sessiond/sql/
	install -m 0644 sql/schema.sql $(DESTDIR)$(DOCDIR)/
	cp -R conf/. $(DESTDIR)$(DOCDIR)/examples/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 spawn-fcgi.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 docs/*.md docs/*.yaml $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf $(BUILD)

# dpkg-buildpackage writes its results next to the tree it builds, so it builds
# a copy under build/deb/src and nothing lands outside this checkout. The
# make variables of this invocation (BUILD, SANITIZE...) must not reach the
# package's own build, hence env -u MAKEFLAGS.
DEB_DIR := build/deb
DEB_SRC := $(DEB_DIR)/src/sessiond-$(VERSION)
deb:
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	$(Q)tar --exclude=./build --exclude='./build-*' --exclude=./var --exclude=./.git -cf - . | tar -xf - -C $(DEB_SRC)
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    DEB_BUILD_OPTIONS="nocheck noddebs parallel=2 $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b >../../build.log 2>&1 || { tail -30 ../../build.log; exit 1; }
	$(Q)mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	$(Q)rm -rf $(DEB_DIR)/src
	@ls $(DEB_DIR)/*.deb

# tests/integration/15_deb.sh: builds (make deb), lints, installs, runs and purges the package.
deb-test: setup all tools
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) TESTS=15_deb tests/run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# libFuzzer drivers (tests/fuzz/fuzz_*.c) built with clang, each run FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
.PHONY: fuzz valgrind
fuzz:
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

# The integration suites with sessiond under valgrind memcheck: 0 errors, 0 bytes definitely lost.
valgrind: setup
	$(Q)$(MAKE) --no-print-directory FAULT_HOOKS=1 all tools
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/valgrind

# Benchmarks against their ceilings (nginx return 200, a minimal libfcgi responder), in one run.
.PHONY: bench
bench: setup all tools
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/bench/bench.sh
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/bench/scale.sh
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/bench/window.sh
	$(Q)SESSIOND_BUILD=$(abspath $(BUILD)) tests/bench/restart_gap.sh

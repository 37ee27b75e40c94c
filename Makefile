# kscript: one binary, Lua 5.4 + libcurl + readline + libyaml, sources bundled.
#   make                  build ./kscript (and ./ksh)
#   make test             install what is missing, build, run every test layer
#   make SANITIZE=address,undefined check-san   sanitizer build runs unit + Lua tests
#   make demo             the local control plane and a ksh> prompt against it
PREFIX    ?= /usr/local
CC        ?= cc
PKGS      := lua5.4 libcurl yaml-0.1 readline
SANITIZE  ?=
BUILD     := build$(if $(SANITIZE),/san)
VERSION   := 0.1.0

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llua5.4-cjson
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -DKSH_VERSION='"$(VERSION)"' \
             $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
ALL_LDFLAGS = $(LDFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE))

SRCS      := $(wildcard src/*.c)
OBJS      := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS)) $(BUILD)/bundle.o
CORE_OBJS := $(filter-out $(BUILD)/main.o,$(OBJS))
LUA_SRCS  := $(sort $(wildcard lua/*.lua lua/*/*.lua scripts/*.lua))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

.PHONY: all deps test check check-san unit demo install clean bench
all: kscript ksh

$(BUILD)/kscript: $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS) -lm

kscript: $(BUILD)/kscript
	$(if $(SANITIZE),@echo "sanitizer build: $(BUILD)/kscript",cp $< $@)

ksh: kscript
	ln -sf kscript ksh

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) src/modules.def | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/bundle.c: $(LUA_SRCS) src/bundle.sh | $(BUILD)
	sh src/bundle.sh $(LUA_SRCS) > $@.tmp && mv $@.tmp $@

$(BUILD)/bundle.o: $(BUILD)/bundle.c src/bundle.h
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(CORE_OBJS) tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(CORE_OBJS) $(PKG_LIBS) -lm

$(BUILD):
	mkdir -p $(BUILD)

unit: $(UNIT_BINS)

# Debian packages the build and the tests need (idempotent; apt only when missing).
DEB_PKGS := pkg-config gcc make liblua5.4-dev lua5.4 lua-cjson-dev libcurl4-openssl-dev \
            libreadline-dev libyaml-dev etcd-server etcd-client openssl curl iproute2 \
            python3 clang libclang-rt-14-dev perl nginx-light time
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing >&2; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# The README's test command: everything, against real servers.
test: deps
	$(MAKE) all unit
	tests/run

# What CI adds: the sanitizer build runs the unit and Lua layers.
check-san: deps
	$(MAKE) SANITIZE=address,undefined all unit
	KSCRIPT_BUILD=build/san tests/run --layers unit,lua

demo: deps all
	tests/env/demo

bench: all
	tests/bench/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 kscript $(DESTDIR)$(PREFIX)/bin/kscript

clean:
	rm -rf build kscript ksh

# kscript: one binary, Lua 5.4 + libcurl + readline + libyaml, sources bundled.
#   make                  build ./kscript (and ./ksh)
#   make test             install what is missing, build, run every test layer
#   make SANITIZE=address,undefined check-san   sanitizer build runs unit + Lua tests
#   make demo             the local control plane and a ksh> prompt against it
PREFIX    ?= /usr/local
CC        ?= cc
PKGS      := lua5.4 libcurl yaml-0.1 readline libpcre2-8 libcrypto libssl libnghttp2 libsodium
SANITIZE  ?=
BUILD     := build$(if $(SANITIZE),/san)
VERSION   := 0.1.0

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llua5.4-cjson -lhttp_parser
CORE_LIBS  = $(shell pkg-config --libs libcurl libcrypto libssl libnghttp2 libsodium 2>/dev/null) -lhttp_parser
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) -DKSH_VERSION='"$(VERSION)"' \
             $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
ALL_LDFLAGS = $(LDFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE))

# The layers are directories (see share/architecture.md).  Each compiles with
# the include path of its own layer and those below it, so an upward #include
# does not build; `make check-layers` checks the linked symbols and requires.
CORE_SRCS := $(wildcard src/core/*.c)
LUA_CSRCS := $(wildcard src/lua/*.c)
APP_SRCS  := $(wildcard src/app/*.c)
CORE_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(CORE_SRCS))
BIND_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(LUA_CSRCS)) $(BUILD)/lua/bundle.o
APP_OBJS  := $(patsubst src/%.c,$(BUILD)/%.o,$(APP_SRCS))
CORE_LIB  := $(BUILD)/libkshcore.a
LUA_SRCS  := $(sort $(wildcard lua/*.lua lua/*/*.lua scripts/*.lua))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INC_core  := -Isrc/core
INC_lua   := -Isrc/lua -Isrc/core
INC_app   := -Isrc/app -Isrc/lua -Isrc/core

.PHONY: all deps test check-san check-valgrind check-layers unit demo install deb clean bench schema
all: kscript ksh

# The objects whose code every run executes are linked first, after main
# and the functions marked KSH_STARTUP (src/core/startup.h): a start
# touches one run of code pages.
LINK_FIRST := $(BUILD)/app/main.o $(BUILD)/lua/host.o $(BUILD)/lua/error.o
$(BUILD)/kscript: $(APP_OBJS) $(BIND_OBJS) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(LINK_FIRST) $(filter-out $(LINK_FIRST),$(APP_OBJS) $(BIND_OBJS)) $(CORE_LIB) $(PKG_LIBS) -lm

kscript: $(BUILD)/kscript
	$(if $(SANITIZE),@echo "sanitizer build: $(BUILD)/kscript",cp $< $@.tmp && mv -f $@.tmp $@)

ksh: kscript
	ln -sf kscript ksh

$(CORE_LIB): $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/core/%.o: src/core/%.c $(wildcard src/core/*.h src/core/*.inc)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_core) -c -o $@ $<

$(BUILD)/lua/%.o: src/lua/%.c $(wildcard src/core/*.h src/lua/*.h) src/lua/modules.def
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_lua) -c -o $@ $<

$(BUILD)/app/%.o: src/app/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_app) -c -o $@ $<

$(BUILD)/lua/bundle.c: $(LUA_SRCS) src/lua/bundle.sh
	@mkdir -p $(dir $@)
	sh src/lua/bundle.sh $(LUA_SRCS) > $@.tmp && mv $@.tmp $@

$(BUILD)/lua/bundle.o: $(BUILD)/lua/bundle.c src/lua/bundle.h
	$(CC) $(ALL_CFLAGS) $(INC_lua) -Wno-missing-prototypes -c -o $@ $<

# unit tests link the core library alone: no Lua, nothing from above
$(BUILD)/tests/unit/%: tests/unit/%.c $(CORE_LIB) tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_core) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(CORE_LIB) $(CORE_LIBS) -lm

# the layering, checked from what the objects link and what the Lua requires
check-layers: $(CORE_OBJS) $(BIND_OBJS) $(APP_OBJS)
	python3 tests/layers.py $(BUILD)

$(BUILD):
	mkdir -p $(BUILD)

unit: $(UNIT_BINS)

# Debian packages the build and the tests need (idempotent; apt only when missing).
DEB_PKGS := pkg-config gcc make liblua5.4-dev lua5.4 lua-cjson-dev libcurl4-openssl-dev \
            libreadline-dev libyaml-dev etcd-server etcd-client openssl curl iproute2 \
            python3 clang libclang-rt-14-dev perl nginx-light time valgrind \
            libhttp-parser-dev libpcre2-dev wrk libssl-dev libnghttp2-dev libsodium-dev \
            mandoc bash-completion zsh fish man-db dpkg-dev
GO_MIN := 1.26
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing >&2; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi
	@PATH=$$PATH:/usr/local/go/bin; v=$$(go env GOVERSION 2>/dev/null | sed 's/^go//'); \
	case "$$v" in 1.2[6-9]*|1.[3-9][0-9]*|[2-9].*) ;; \
	  *) echo "make deps: the test servers need Go $(GO_MIN) or newer (found: $${v:-none}); Debian 12 ships 1.19, install Go $(GO_MIN) into /usr/local/go" >&2; exit 1 ;; \
	esac

# The README's test command: everything, against real servers.
test: deps
	$(MAKE) all unit check-layers
	tests/run

# What CI adds: the sanitizer build runs the unit and Lua layers.
check-san: deps
	$(MAKE) SANITIZE=address,undefined all unit
	KSCRIPT_BUILD=build/san tests/run --layers unit,lua

# No leaks or invalid accesses in the core paths: the unit tests (the core
# library alone) and every offline Lua test, under valgrind (children are not
# followed: a forked child's heap is the parent's).
# (possibly-lost blocks are not errors and not shown: the Lua tests end with
# os.exit (tests/lib/tap.lua), which leaves the Lua state unclosed, and some
# of its blocks are then reachable only through interior pointers)
VG := valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --show-possibly-lost=no --child-silent-after-fork=yes --error-exitcode=9
VG_LUA := $(wildcard tests/lua/*.t)
check-valgrind: deps
	$(MAKE) all unit
	@for t in $(UNIT_BINS); do $(VG) $$t >/dev/null || { echo "check-valgrind: $$t" >&2; exit 1; }; done
	@for t in $(VG_LUA); do $(VG) ./kscript $$t >/dev/null || { echo "check-valgrind: $$t" >&2; exit 1; }; done
	@echo "check-valgrind: no leaks or errors in $(words $(UNIT_BINS)) unit tests and $(words $(VG_LUA)) Lua tests"

demo: deps all
	tests/env/demo

# The Kubernetes type schema the protobuf decoder walks (src/core/k8s_schema.inc,
# committed): regenerated from the Go types of k8s.io/api & co v0.37.2.
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
schema:
	cd src/gen/k8s-schema && $(GO) run . > ../../core/k8s_schema.inc.tmp
	mv src/core/k8s_schema.inc.tmp src/core/k8s_schema.inc

bench: all
	tests/bench/run

# kscript, its ksh link and the docs.  The link is skipped (with a note) when
# a ksh that is not kscript's link is already there or, for a live install
# (no DESTDIR), anywhere on PATH: a KornShell stays first.  KSH_LINK=no
# never installs it, KSH_LINK=yes always does.
KSH_LINK ?= auto
DOCDIR   ?= $(PREFIX)/share/doc/kscript
MANDIR   ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
EXAMPLES := $(filter-out scripts/__%,$(wildcard scripts/*.lua))
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 kscript $(DESTDIR)$(PREFIX)/bin/kscript
	@bin=$(DESTDIR)$(PREFIX)/bin; other=; \
	if [ -e "$$bin/ksh" ] || [ -L "$$bin/ksh" ]; then \
	  [ "$$(readlink "$$bin/ksh")" = kscript ] || other="$$bin/ksh"; \
	elif [ -z "$(DESTDIR)" ] && p=$$(command -v ksh 2>/dev/null) && [ -n "$$p" ]; then \
	  case $$(readlink -f "$$p") in */kscript) ;; *) other=$$p ;; esac; \
	fi; \
	case "$(KSH_LINK)" in \
	  no) ;; \
	  yes) echo "ln -sf kscript $$bin/ksh"; ln -sf kscript "$$bin/ksh" ;; \
	  *) if [ -n "$$other" ]; then \
	       echo "install: not linking $$bin/ksh: $$other is another ksh (KSH_LINK=yes to link anyway)" >&2; \
	     else echo "ln -sf kscript $$bin/ksh"; ln -sf kscript "$$bin/ksh"; fi ;; \
	esac
	install -m 644 README.md LICENSE $(wildcard share/*.md) $(DESTDIR)$(DOCDIR)/
	install -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 share/kscript.1 $(DESTDIR)$(MANDIR)/man1/kscript.1
	./kscript completion bash > $(DESTDIR)$(BASHCOMPDIR)/kscript
	./kscript completion zsh > $(DESTDIR)$(ZSHCOMPDIR)/_kscript
	./kscript completion fish > $(DESTDIR)$(FISHCOMPDIR)/kscript.fish

# A Debian package: the binary (stripped), man page, completions, docs and
# examples under /usr; Depends from dpkg-shlibdeps over the libraries it
# links.  No /usr/bin/ksh: that name belongs to the ksh alternative (ksh93,
# mksh).  tests/pkg/check installs, exercises and purges it.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := build/kscript_$(VERSION)_$(DEB_ARCH).deb
deb: all
	rm -rf build/deb && mkdir -p build/deb/root/DEBIAN build/deb/debian
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/build/deb/root PREFIX=/usr KSH_LINK=no
	strip --strip-unneeded --remove-section=.comment --remove-section=.note build/deb/root/usr/bin/kscript
	gzip -9n build/deb/root/usr/share/man/man1/kscript.1
	cd build/deb/root/usr/share/doc/kscript && mv LICENSE copyright
	echo "Source: kscript" > build/deb/debian/control
	cd build/deb && dpkg-shlibdeps -O root/usr/bin/kscript | sed -n 's/^shlibs:Depends=//p' > depends
	test -s build/deb/depends
	{ echo "Package: kscript"; echo "Version: $(VERSION)"; echo "Architecture: $(DEB_ARCH)"; \
	  echo "Maintainer: kscript developers <kscript@localhost>"; \
	  echo "Installed-Size: $$(du -sk build/deb/root/usr | cut -f1)"; \
	  echo "Depends: $$(cat build/deb/depends)"; echo "Section: admin"; echo "Priority: optional"; \
	  echo "Description: Lua-scriptable REST shell for Kubernetes and etcd"; \
	  echo " One small binary embedding Lua 5.4: the Kubernetes API and etcd (v2, v3)"; \
	  echo " from scripts and an interactive ksh> prompt; replaces curl against the"; \
	  echo " API server, kubectl get/-w/proxy, etcdctl and shell pipelines."; \
	} > build/deb/root/DEBIAN/control
	dpkg-deb --root-owner-group --build build/deb/root $(DEB)
	@ls -l $(DEB)

clean:
	rm -rf build kscript ksh

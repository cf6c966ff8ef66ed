# moonlab — build, test, demo, bench, install.
# On a fresh Debian 12 machine `make demo` and `make test` are the whole set-up.

LUA       ?= lua5.4
BUSTED    ?= $(LUA) /usr/bin/busted
LUA_INC   ?= /usr/include/lua5.4
CC        ?= gcc
OPT       ?= -O3 -g
PREFIX    ?= /usr/local
LUA_LMOD  ?= $(PREFIX)/share/lua/5.4
LUA_CMOD  ?= $(PREFIX)/lib/x86_64-linux-gnu/lua/5.4
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

BUILD     ?= build
CPPFLAGS  += -Icsrc/include -Icsrc -I$(LUA_INC) -I/usr/include/$(MULTIARCH)
CFLAGS    += -std=c11 -D_GNU_SOURCE -fPIC -fopenmp -Wall -Wextra $(OPT) $(XCFLAGS)
LDLIBS    += -lopenblas -lfftw3 -lquadmath -lnlopt -lm
LDFLAGS   += -fopenmp $(XLDFLAGS)

# Debian packages the project needs (build, test, demo). Benchmarks add DEPS_BENCH.
DEPS      := gcc make pkg-config lua5.4 liblua5.4-dev lua-busted luarocks libopenblas-dev \
             libfftw3-dev libreadline-dev gnuplot-nox python3-numpy python3-mpmath valgrind libnlopt-dev
DEPS_BENCH := python3-torch python3-sklearn

CORES     := core attn laplace gp
LIB_SRC   := $(foreach c,$(CORES),$(wildcard csrc/$(c)/*.c))
LUA_SRC   := $(wildcard csrc/lua/*.c)
HDRS      := $(wildcard csrc/include/moonlab/*.h csrc/*/*.h)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LUA_OBJ   := $(LUA_SRC:%.c=$(BUILD)/obj/%.o)

LIBA      := $(BUILD)/libmoonlab.a
LIBSO     := $(BUILD)/libmoonlab.so
COREMOD   := $(BUILD)/lua/moonlab/core.so
EMBED     := $(BUILD)/embed

TESTENV   = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
            LUA_CPATH="$(CURDIR)/$(BUILD)/lua/?.so;;" MOONLAB_ROOT="$(CURDIR)" MOONLAB_BUILD="$(CURDIR)/$(BUILD)"

.PHONY: all spec asan-run install-rock deps deps-bench test asan valgrind demo bench install uninstall clean

all: $(LIBA) $(LIBSO) $(COREMOD) $(EMBED)

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The Lua module carries the library inside it, so it installs as one file. It is never unloaded
# (-z nodelete): lua_close() would otherwise unmap it, and libgomp with it, under live OpenMP workers.
$(COREMOD): $(LUA_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-z,nodelete -o $@ $^ $(LDLIBS)

$(EMBED): examples/embed.c $(LIBA) $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS) -llua5.4

deps:
	@missing=""; for p in $(DEPS) $(EXTRA_DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: missing:$$missing"; \
	  echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q $$missing

deps-bench:
	@$(MAKE) --no-print-directory deps EXTRA_DEPS="$(DEPS_BENCH)"

SPEC ?= spec
test: deps all
	$(TESTENV) $(BUSTED) --helper=spec/helpers/init.lua -o spec/helpers/summary.lua $(SPEC)

# Specs without the deps check (for quick iteration): make spec SPEC=spec/attn_spec.lua
spec: all
	$(TESTENV) $(BUSTED) --helper=spec/helpers/init.lua -o spec/helpers/summary.lua $(SPEC)

# Specs under AddressSanitizer + UndefinedBehaviorSanitizer (a separate build tree).
ASAN_RT = $(shell $(CC) -print-file-name=libasan.so)
asan: deps
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  XLDFLAGS="-fsanitize=address,undefined" build-asan/lua/moonlab/core.so build-asan/embed
	$(MAKE) --no-print-directory BUILD=build-asan asan-run

asan-run:
	LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MOONLAB_ASAN=1 \
	$(TESTENV) $(BUSTED) --helper=spec/helpers/init.lua -o spec/helpers/summary.lua spec

valgrind: all
	$(TESTENV) valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	  --suppressions=spec/helpers/valgrind.supp $(LUA) examples/valgrind_smoke.lua

demo: deps all
	$(TESTENV) $(LUA) examples/tour.lua

bench: deps-bench all
	@for b in bench/*.lua; do $(TESTENV) $(LUA) $$b || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/moonlab $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIBA) $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 csrc/include/moonlab/*.h $(DESTDIR)$(PREFIX)/include/moonlab/
	install -d $(DESTDIR)$(LUA_CMOD)/moonlab $(DESTDIR)$(LUA_LMOD)/moonlab
	install -m 755 $(COREMOD) $(DESTDIR)$(LUA_CMOD)/moonlab/core.so
	install -m 644 lua/moonlab/*.lua $(DESTDIR)$(LUA_LMOD)/moonlab/
	install -m 755 bin/moonlab $(DESTDIR)$(PREFIX)/bin/moonlab
	install -d $(DESTDIR)$(PREFIX)/share/doc/moonlab
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/moonlab/

# Used by rockspec/moonlab-scm-1.rockspec: Lua modules into the rocks tree, the REPL into its bin.
install-rock: all
	install -d $(LUA_CMOD)/moonlab $(LUA_LMOD)/moonlab $(BINDIR)
	install -m 755 $(COREMOD) $(LUA_CMOD)/moonlab/core.so
	install -m 644 lua/moonlab/*.lua $(LUA_LMOD)/moonlab/
	install -m 755 bin/moonlab $(BINDIR)/moonlab

clean:
	rm -rf build build-asan

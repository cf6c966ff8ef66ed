# moonlab — build, test, demo, bench, install.
# On a fresh Debian 12 machine `make demo` and `make test` are the whole set-up.

LUA       ?= lua5.4
BUSTED    ?= $(LUA) /usr/bin/busted
LUA_INC   ?= /usr/include/lua5.4
CC        ?= gcc
OPT       ?= -O3 -g
PREFIX    ?= /usr/local
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# Where Debian's lua5.4 looks by default (lua5.4 -e 'print(package.path, package.cpath)'): modules in
# PREFIX/share/lua/5.4 for /usr and /usr/local; C modules in /usr/lib/<multiarch>/lua/5.4 for /usr and in
# /usr/local/lib/lua/5.4 for /usr/local. Other prefixes need LUA_PATH/LUA_CPATH (make install prints them).
LUA_LMOD  ?= $(PREFIX)/share/lua/5.4
LUA_CMOD  ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/$(MULTIARCH)/lua/5.4,$(PREFIX)/lib/lua/5.4)

BUILD     ?= build
CPPFLAGS  += -Icsrc/include -Icsrc -I$(LUA_INC) -I/usr/include/$(MULTIARCH)
CFLAGS    += -std=c11 -D_GNU_SOURCE -fPIC -fopenmp -Wall -Wextra $(OPT) $(XCFLAGS)
LDLIBS    += -lopenblas -lfftw3 -lquadmath -lz -lpng -lnlopt -lm
LDFLAGS   += -fopenmp $(XLDFLAGS)

# Debian packages the project needs (build, test, demo). Benchmarks add DEPS_BENCH.
DEPS      := gcc g++ make pkg-config lua5.4 liblua5.4-dev lua-busted luarocks libopenblas-dev \
             libfftw3-dev libpng-dev libnlopt-dev libreadline-dev gnuplot-nox python3-numpy python3-mpmath valgrind zlib1g-dev \
             lua-sql-sqlite3 libopenmpi-dev openmpi-bin fortunes
DEPS_BENCH := python3-torch python3-scipy python3-sklearn
# Only for make fuzz (libFuzzer comes with clang's runtime libraries; OpenMP for clang from libomp).
DEPS_FUZZ := clang libclang-rt-14-dev libomp-dev

CORES     := core attn laplace sdf moe gp nn
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

.PHONY: all spec asan-run install-rock deps deps-bench test asan valgrind demo bench install uninstall clean \
        deps-fuzz fuzz fuzz-c fuzz-api fuzz-build

all: $(LIBA) $(LIBSO) $(COREMOD) $(EMBED) $(BUILD)/moonlab.pc

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# the SDF primitives' square roots vectorise without errno (their arguments are sums of squares)
$(BUILD)/obj/csrc/sdf/prim.o: CFLAGS += -fno-math-errno
# the normal generator's square roots vectorise without errno (their arguments are -2 log u >= 0)
$(BUILD)/obj/csrc/core/rng.o: CFLAGS += -fno-math-errno

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# -z initfirst: the library's constructor (csrc/core/runtime.c) runs before libgomp reads its environment.
$(LIBSO): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-z,initfirst -o $@ $^ $(LDLIBS)

# The Lua module carries the library inside it, so it installs as one file. It is never unloaded
# (-z nodelete): lua_close() would otherwise unmap it, and libgomp with it, under live OpenMP workers.
$(COREMOD): $(LUA_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-z,nodelete -Wl,-z,initfirst -o $@ $^ $(LDLIBS)

# The MPI binding is a module of its own (core.so never depends on MPI), built when mpicc is installed.
MPICC     ?= $(shell command -v mpicc 2>/dev/null)
MPIMOD    := $(BUILD)/lua/moonlab/mpi_core.so
all: $(if $(MPICC),$(MPIMOD))
$(MPIMOD): csrc/mpi/lmpi.c
	@mkdir -p $(dir $@)
	$(MPICC) -std=c11 -D_GNU_SOURCE -fPIC -shared -Wall -Wextra $(OPT) -I$(LUA_INC) -Wl,-z,nodelete -o $@ $<

# The REPL's readline binding, its own module so that core.so does not link readline.
RLMOD     := $(BUILD)/lua/moonlab/readline.so
all: $(RLMOD)
$(RLMOD): csrc/repl/lreadline.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared -Wall -Wextra $(OPT) -I$(LUA_INC) -o $@ $< -lreadline

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
	  XLDFLAGS="-fsanitize=address,undefined" build-asan/lua/moonlab/core.so build-asan/embed $(if $(MPICC),build-asan/lua/moonlab/mpi_core.so)
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

# pkg-config file, written from LDLIBS/LDFLAGS so the link line stays right. The build tree's copy points at
# the sources and the build folder (PKG_CONFIG_PATH=build); make install writes one for PREFIX.
PC_LIBS   = -fopenmp $(LDLIBS)
define pc_file
prefix=$(1)\nincludedir=$(2)\nlibdir=$(3)\n\nName: moonlab\nDescription: numerical research cores (tensor, gated attention, Laplace inversion, chromatography) with Lua bindings\nVersion: $(shell sed -n 's/.*ML_VERSION "\(.*\)".*/\1/p' csrc/include/moonlab/runtime.h)\nCflags: -I$${includedir}\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lmoonlab $(PC_LIBS)\n
endef
$(BUILD)/moonlab.pc: Makefile csrc/include/moonlab/runtime.h
	@mkdir -p $(dir $@)
	printf '$(call pc_file,$(CURDIR),$(CURDIR)/csrc/include,$(CURDIR)/$(BUILD))' > $@

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/moonlab $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIBA) $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	printf '$(call pc_file,$(PREFIX),$${prefix}/include,$${prefix}/lib)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/moonlab.pc
	install -m 644 csrc/include/moonlab/*.h $(DESTDIR)$(PREFIX)/include/moonlab/
	install -d $(DESTDIR)$(LUA_CMOD)/moonlab $(DESTDIR)$(LUA_LMOD)/moonlab
	install -m 755 $(COREMOD) $(DESTDIR)$(LUA_CMOD)/moonlab/core.so
	if [ -f $(MPIMOD) ]; then install -m 755 $(MPIMOD) $(DESTDIR)$(LUA_CMOD)/moonlab/; fi
	install -m 755 $(RLMOD) $(DESTDIR)$(LUA_CMOD)/moonlab/readline.so
	install -m 644 lua/moonlab/*.lua $(DESTDIR)$(LUA_LMOD)/moonlab/
	install -m 755 bin/moonlab $(DESTDIR)$(PREFIX)/bin/moonlab
	install -d $(DESTDIR)$(PREFIX)/share/doc/moonlab
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/moonlab/
	@case "$(PREFIX)" in /usr|/usr/local) ;; *) \
	  echo "moonlab: $(PREFIX) is not searched by lua5.4 by default; set"; \
	  echo "  export LUA_PATH='$(LUA_LMOD)/?.lua;$(LUA_LMOD)/?/init.lua;;'"; \
	  echo "  export LUA_CPATH='$(LUA_CMOD)/?.so;;'";; esac

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libmoonlab.a $(DESTDIR)$(PREFIX)/lib/libmoonlab.so \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/moonlab.pc $(DESTDIR)$(PREFIX)/bin/moonlab \
	  $(DESTDIR)$(LUA_CMOD)/moonlab/core.so
	rm -rf $(DESTDIR)$(PREFIX)/include/moonlab $(DESTDIR)$(LUA_LMOD)/moonlab $(DESTDIR)$(PREFIX)/share/doc/moonlab

# Used by rockspec/moonlab-scm-1.rockspec: Lua modules (and the docs help() reads, in moonlab/docs/) into the
# rocks tree, the REPL into its bin.
install-rock: all
	install -d $(LUA_CMOD)/moonlab $(LUA_LMOD)/moonlab $(BINDIR)
	install -m 755 $(COREMOD) $(LUA_CMOD)/moonlab/core.so
	install -m 755 $(RLMOD) $(LUA_CMOD)/moonlab/readline.so
	if [ -f $(MPIMOD) ]; then install -m 755 $(MPIMOD) $(LUA_CMOD)/moonlab/; fi
	install -m 644 lua/moonlab/*.lua $(LUA_LMOD)/moonlab/
	install -d $(LUA_LMOD)/moonlab/docs
	install -m 644 docs/*.md $(LUA_LMOD)/moonlab/docs/
	install -m 755 bin/moonlab $(BINDIR)/moonlab

# ---- fuzzing (docs/moonlab.md "Reliability") ----
# make fuzz [FUZZ_SECONDS=60] [FUZZ_SEED=1]: each libFuzzer harness fuzz/fuzz_<name>.c for FUZZ_SECONDS (seed
# inputs fuzz/corpus/<name>/, new ones kept in build-fuzz/corpus/<name>/, crashes in build-fuzz/), then the Lua API
# fuzzer for FUZZ_SECONDS under the ASan build.
FUZZ_SECONDS ?= 60
# FUZZ_RUNS / FUZZ_CALLS > 0 also bound each harness's executions and the API fuzzer's calls: with a fixed seed the
# inputs are then a fixed sequence (a slower machine runs a prefix of it), so a CI smoke is repeatable.
FUZZ_RUNS    ?= -1
FUZZ_CALLS   ?= 0
FUZZ_SEED    ?= 1
FUZZ_TIMEOUT ?= 30
# FUZZ_MAX_UNCLEAR >= 0 fails the API fuzzer when it finds more unclear messages than that (CI: 0); -1: no limit.
FUZZ_MAX_UNCLEAR ?= -1
FUZZ_CC      ?= clang
# The cores whose parsers have harnesses (add a core here when its parser gets one).
FUZZ_CORES   ?= core
# clang 14 lacks GCC's __builtin_roundeven[f] (csrc/core/kern.c): glibc's roundeven[f] are the same function.
FUZZ_COMPAT  := -D__builtin_roundeven=roundeven -D__builtin_roundevenf=roundevenf
FUZZ_SRC     := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

deps-fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_DEPS="$(DEPS_FUZZ)"

fuzz: fuzz-c fuzz-api

fuzz-build: deps-fuzz
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) CORES="$(FUZZ_CORES)" XCFLAGS="$(FUZZ_COMPAT)" \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  build-fuzz/libmoonlab.a
	$(MAKE) --no-print-directory $(FUZZ_BIN)

build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/harness.h build-fuzz/libmoonlab.a
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Icsrc/include -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -o $@ $< build-fuzz/libmoonlab.a -fopenmp $(filter-out -lquadmath,$(LDLIBS))

fuzz-c: fuzz-build
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; mkdir -p build-fuzz/corpus/$$n; \
	  dict=""; [ -f fuzz/$$n.dict ] && dict="-dict=fuzz/$$n.dict"; \
	  echo "== libFuzzer $$n: $(FUZZ_SECONDS) s, seed $(FUZZ_SEED)"; \
	  OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 $$f -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED) -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crash-$$n- $$dict build-fuzz/corpus/$$n fuzz/corpus/$$n > build-fuzz/$$n.log 2>&1; \
	  rc=$$?; grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR|SUMMARY|Test unit written)' build-fuzz/$$n.log; \
	  [ $$rc -eq 0 ] || { echo "fuzz: $$n failed (exit $$rc): see build-fuzz/$$n.log and build-fuzz/crash-$$n-*"; exit 1; }; \
	done

fuzz-api: deps
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  XLDFLAGS="-fsanitize=address,undefined" build-asan/lua/moonlab/core.so
	LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=4096 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MOONLAB_ASAN=1 MOONLAB_QUIET=1 \
	$(subst $(CURDIR)/$(BUILD)/,$(CURDIR)/build-asan/,$(TESTENV)) $(LUA) tools/fuzz_api.lua --seed $(FUZZ_SEED) \
	  --seconds $(FUZZ_SECONDS) --calls $(FUZZ_CALLS) --timeout $(FUZZ_TIMEOUT) --max-unclear $(FUZZ_MAX_UNCLEAR) --report build-asan/fuzz_api_report.txt

clean:
	rm -rf build build-asan build-fuzz

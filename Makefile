# SPDX-License-Identifier: Apache-2.0
# hiway build. `make` builds the binaries into build/; `make asan` builds the same tree
# with ASan/UBSan into build-asan/; `make test` runs every test (see scripts/test.sh).

VARIANT ?= release
ifeq ($(VARIANT),asan)
  OUT      := build-asan
  OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN    := -fsanitize=address,undefined
else
  OUT      := build
  OPTFLAGS := -O2 -g
  LDSAN    :=
endif

CC      ?= cc
PKGS    := libmicrohttpd libcurl jansson yaml-0.1 sqlite3 openssl libhs
CFLAGS  += -DHIWAY_VERSION=\"1.0.0\" -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter $(OPTFLAGS) \
           -D_GNU_SOURCE -Iinclude -Iuserspace $(shell pkg-config --cflags $(PKGS))
ifneq ($(TEST_HOOKS),)
  CFLAGS += -DHIWAY_TEST_HOOKS
endif
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread -lm

# Every userspace module except the programs' entry points goes into one static library.
LIB_SRC := $(wildcard userspace/common/*.c userspace/store/*.c userspace/auth/*.c \
             userspace/gateway/*.c userspace/upstream/*.c userspace/admin/*.c userspace/routing/*.c \
             userspace/events/*.c userspace/shield/*.c userspace/money/*.c \
             userspace/iprules/*.c userspace/guardian/*.c)
LIB_SRC := $(filter-out userspace/gateway/main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)

BINS := $(OUT)/hiwayd $(OUT)/hiwayctl $(OUT)/fake-upstream $(OUT)/hiway-agent

# Kernel perimeter: the BPF object (clang -target bpf; it parses packet bytes only, so it
# needs the UAPI headers and no vmlinux.h), its bpftool skeleton, hiway-agent and the
# BPF_PROG_TEST_RUN tests (named test_bpf_* so scripts/test.sh runs them with the others).
BPF_CLANG  ?= clang
BPF_CFLAGS := -g -O2 -target bpf -Wall -Wextra -Werror -Iinclude \
              -I/usr/include/$(shell $(CC) -dumpmachine)
BPF_OBJ    := $(OUT)/bpf/perimeter.bpf.o
BPF_SKEL   := $(OUT)/bpf/perimeter.skel.h
BPF_LIBS   := -lbpf -lelf -lz
AGENT_SRC  := $(wildcard userspace/agent/*.c)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(OUT)/%.o)
AGENT_LIB_OBJ := $(filter-out $(OUT)/userspace/agent/agent_main.o,$(AGENT_OBJ))
BPF_TEST_SRC := $(wildcard tests/bpf/test_*.c)
BPF_TEST_BIN := $(BPF_TEST_SRC:tests/bpf/test_%.c=$(OUT)/tests/test_bpf_%)
# The perimeter benchmark's tools (bench/perimeter/run.sh).
PERIM_BENCH_BIN := $(OUT)/bench/perimeter-cost $(OUT)/bench/perimeter-flood

.PHONY: all asan tests clean run test check-format tidy
all: $(BINS) $(UNIT_BIN) $(BPF_TEST_BIN) $(PERIM_BENCH_BIN)

asan:
	$(MAKE) VARIANT=asan TEST_HOOKS=1

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The Shield's built-in patterns are assembled into the object with .incbin.
$(OUT)/userspace/shield/shield_builtin.o: $(wildcard config/shield/*.txt)

$(OUT)/libhiway.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/hiwayd: $(OUT)/userspace/gateway/main.o $(OUT)/libhiway.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

CLI_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard userspace/cli/*.c))

$(OUT)/hiwayctl: $(CLI_OBJ) $(OUT)/libhiway.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

FAKE_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard tests/fakes/*.c))

$(OUT)/fake-upstream: $(FAKE_OBJ) $(OUT)/libhiway.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(OUT)/tests/%: $(OUT)/tests/unit/%.o $(OUT)/libhiway.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) -lcmocka

$(BPF_OBJ): bpf/perimeter.bpf.c $(wildcard bpf/*.h) include/hiway/perimeter.h
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# The NOLINT markers: clang-tidy's analyzer cannot follow the generated skeleton handing its
# allocation to libbpf and reports a leak in code that is not ours to change.
$(BPF_SKEL): $(BPF_OBJ)
	{ echo '// NOLINTBEGIN(clang-analyzer-unix.Malloc)'; bpftool gen skeleton $< name perimeter_bpf; \
	  echo '// NOLINTEND(clang-analyzer-unix.Malloc)'; } > $@.tmp && mv $@.tmp $@

$(AGENT_OBJ) $(BPF_TEST_SRC:%.c=$(OUT)/%.o): CFLAGS += -I$(OUT)/bpf
$(AGENT_OBJ) $(BPF_TEST_SRC:%.c=$(OUT)/%.o): | $(BPF_SKEL)

$(OUT)/hiway-agent: $(AGENT_OBJ) $(OUT)/libhiway.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(BPF_LIBS)

# Unit tests of the agent's userspace code link its objects too.
$(OUT)/tests/test_agent_%: $(OUT)/tests/unit/test_agent_%.o $(AGENT_LIB_OBJ) $(OUT)/libhiway.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(BPF_LIBS) -lcmocka

$(OUT)/tests/test_bpf_%: $(OUT)/tests/bpf/test_%.o $(AGENT_LIB_OBJ) $(OUT)/libhiway.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(BPF_LIBS) -lcmocka

$(OUT)/bench/perimeter/cost.o: CFLAGS += -I$(OUT)/bpf
$(OUT)/bench/perimeter/cost.o: | $(BPF_SKEL)

$(OUT)/bench/perimeter-cost: $(OUT)/bench/perimeter/cost.o $(AGENT_LIB_OBJ) $(OUT)/libhiway.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(BPF_LIBS)

$(OUT)/bench/perimeter-flood: $(OUT)/bench/perimeter/flood.o
	$(CC) $(LDSAN) -o $@ $^

tests: $(UNIT_BIN) $(BPF_TEST_BIN)

run:
	scripts/run.sh

test:
	scripts/test.sh

tidy:
	clang-tidy --quiet $(LIB_SRC) userspace/gateway/main.c $(wildcard userspace/cli/*.c) \
		$(wildcard tests/fakes/*.c) -- $(CFLAGS)
	clang-tidy --quiet $(AGENT_SRC) $(BPF_TEST_SRC) -- $(CFLAGS) -isystem $(OUT)/bpf

clean:
	rm -rf build build-asan

-include $(shell find build build-asan -name '*.d' 2>/dev/null)

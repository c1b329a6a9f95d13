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
             userspace/guardian/*.c)
LIB_SRC := $(filter-out userspace/gateway/main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)

BINS := $(OUT)/hiwayd $(OUT)/hiwayctl $(OUT)/fake-upstream

.PHONY: all asan tests clean run test check-format tidy
all: $(BINS) $(UNIT_BIN)

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

tests: $(UNIT_BIN)

run:
	scripts/run.sh

test:
	scripts/test.sh

tidy:
	clang-tidy --quiet $(LIB_SRC) userspace/gateway/main.c $(wildcard userspace/cli/*.c) \
		$(wildcard tests/fakes/*.c) -- $(CFLAGS)

clean:
	rm -rf build build-asan

-include $(shell find build build-asan -name '*.d' 2>/dev/null)

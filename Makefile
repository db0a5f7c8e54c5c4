# Makefile - one library (build/libcm.a: common/ + proto/), one binary per
# service, criterion tests linked against the same library.
#
#   make            build bin/<service>, bin/keygen, bin/zping
#   make deps       install missing Debian packages (root) or print the line
#   make run        deps + build + the whole local stack under .run/ (Ctrl-C stops)
#   make test       deps + build + deploy-check + every test, then again under ASan/UBSan
#   make bench      deps + build + wrk against this stack and the FastAPI reference
#                   (bench/bench.sh; results under build/bench/)
#   make faults     the fault-injection tests, then a short end-to-end run under valgrind
#   make deploy-check  docker-compose.yml, the Kubernetes overlays and the Dockerfile,
#                   checked offline (deploy/check/run.sh)
#   make fuzz       every libFuzzer harness of tests/fuzz/, FUZZ_SECONDS (20) each
#   make lint       cppcheck over the sources
#   make clean
#
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer into
# build/san/ (binaries in build/san/bin); `make test` does both builds.
# FUZZ=1 builds the same sources with clang, ASan, UBSan and libFuzzer's
# coverage into build/fuzz/ (harnesses in build/fuzz/fuzz); `make fuzz` does it.

SERVICES  := gateway auth missions evidence privacy audit
TOOLS     := keygen zping
PKGS      := libczmq libzmq msgpack libpq hiredis jansson openssl libjwt libargon2 libcurl

ifeq ($(FUZZ),1)
CC        := clang
BUILD     ?= build/fuzz
BIN       ?= build/fuzz/bin
SANFLAGS  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
OPT       := -O1
else ifeq ($(SAN),1)
BUILD     ?= build/san
BIN       ?= build/san/bin
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT       := -O1
else
BUILD     ?= build/release
BIN       ?= bin
SANFLAGS  :=
OPT       := -O2
endif

CC        ?= cc
.SECONDEXPANSION:
.SECONDARY:
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) -g -pthread \
             -Wall -Wextra -Wstrict-prototypes -Wwrite-strings -Wshadow -Werror \
             -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
             -Icommon -Iproto -Itests/lib $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS   += -pthread -pie -Wl,-z,relro,-z,now $(SANFLAGS)
LDLIBS    += -lcivetweb $(PKG_LIBS) -lcrypto -lm

LIB_SRC   := $(wildcard common/*.c proto/*.c)
LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/gen/common_migrations.o
LIB       := $(BUILD)/libcm.a

.PHONY: all deps run test tests-build test-unit lint format clean keys deploy-check bench fuzz fuzz-build \
        faults
# Debian 12's CivetWeb looks OpenSSL up at run time by names only OpenSSL
# 1.1 satisfies; these two small libraries bridge it (see compat/*.c)
TLS_COMPAT := $(BIN)/tls-compat/libssl.so $(BIN)/tls-compat/libcrypto.so

all: $(addprefix $(BIN)/,$(SERVICES) $(TOOLS)) $(TLS_COMPAT)

$(BIN)/tls-compat/lib%.so: services/gateway/compat/civetweb_lib%.c
	@mkdir -p $(@D)
	@echo "  LD   $@"
	@$(CC) -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC $(PKG_CFLAGS) \
	       -Wl,-soname,lib$*.so -Wl,--no-as-needed -o $@ $< -l:lib$*.so.3

# Per service: every .c in its folder except the main file, plus embedded migrations
define service_rules
$(1)_SRC  := $$(filter-out services/$(1)/$(1).c,$$(wildcard services/$(1)/*.c))
$(1)_MIG  := $$(sort $$(wildcard services/$(1)/migrations/*.sql))
$(1)_DATA := $$(sort $$(wildcard services/$(1)/data/*.txt $$(if $$(filter gateway,$(1)),docs/openapi.json)))
$(1)_OBJ  := $$(patsubst %.c,$(BUILD)/%.o,$$($(1)_SRC)) \
             $$(if $$($(1)_MIG),$(BUILD)/gen/$(1)_migrations.o) \
             $$(if $$($(1)_DATA),$(BUILD)/gen/$(1)_data.o)
$(BUILD)/gen/$(1)_data.c: $$($(1)_DATA) tools/embed_data.sh
	@mkdir -p $$(@D)
	sh tools/embed_data.sh $(1) $$($(1)_DATA) > $$@
$(BUILD)/gen/$(1)_migrations.c: $$($(1)_MIG) tools/embed_sql.sh
	@mkdir -p $$(@D)
	sh tools/embed_sql.sh $(1)_migrations $(1) $$($(1)_MIG) > $$@
$(BIN)/$(1): $(BUILD)/services/$(1)/$(1).o $$($(1)_OBJ) $(LIB)
	@mkdir -p $$(@D)
	@echo "  LD   $$@"
	@$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))


$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC   $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC   $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/common_migrations.c: $(sort $(wildcard common/migrations/*.sql)) tools/embed_sql.sh
	@mkdir -p $(@D)
	sh tools/embed_sql.sh common_migrations common $(sort $(wildcard common/migrations/*.sql)) > $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/keygen: $(BUILD)/tools/keygen.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/zping: $(BUILD)/tools/zping.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---------------------------------------------------------------- tests
# tests/unit/<area>/test_*.c link libcm.a and, for a service area, that
# service's objects; tests/integration/*.c also link tests/lib.
UNIT_SRC   := $(wildcard tests/unit/*/test_*.c)
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
TESTLIB    := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/lib/*.c))
UNIT_BIN   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_BIN  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(INTEG_SRC))
# Test-only programs the integration tests talk to (tests/run.sh starts them)
TEST_PROGS := $(BUILD)/tests/oidc_provider/oidc_provider
area_objs   = $(if $(filter $(1),$(SERVICES)),$($(1)_OBJ))

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(TESTLIB) $(LIB) $$(call area_objs,$$(firstword $$(subst /, ,$$*)))
	@echo "  LD   $@"
	@$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lcriterion
$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(TESTLIB) $(LIB)
	@echo "  LD   $@"
	@$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lcriterion
$(BUILD)/tests/oidc_provider/oidc_provider: $(BUILD)/tests/oidc_provider/oidc_provider.o $(LIB)
	@echo "  LD   $@"
	@$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lssl

# ---------------------------------------------------------------- fuzzing
# tests/fuzz/<name>.c is one libFuzzer harness, linked with libcm.a and an
# archive of every service's objects (so each harness takes only what it
# calls). `make fuzz` builds them with FUZZ=1 and runs each for FUZZ_SECONDS
# over tests/fuzz/corpus/<name>/; it fails on the first crash, leak or
# undefined behaviour, whose input lands in tests/fuzz/artifacts/. New
# corpus entries go to build/fuzz/corpus/, never into the repository.
FUZZ_SECONDS ?= 20
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
SVC_LIB   := $(BUILD)/libservices.a

$(SVC_LIB): $(foreach s,$(SERVICES),$($(s)_OBJ))
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(SVC_LIB) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD   $@"
	@$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@bash tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

deps:
	@bash scripts/deps.sh

# ---------------------------------------------------------------- benchmarks
$(BUILD)/bench/argon2_rate: $(BUILD)/bench/argon2_rate.o $(auth_OBJ) $(LIB)
	@echo "  LD   $@"
	@$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS)

bench:
	@bash scripts/deps.sh --bench
	@$(MAKE) --no-print-directory all build/release/bench/argon2_rate
	@bash bench/bench.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/stack.sh run

keys: $(BIN)/keygen
	$(BIN)/keygen --dir $${KEYS_DIR:-.run/keys}

# Both builds, every test, one summary line at the end (deploy-check first, so the
# summary stays the last line)
test: deps
	@$(MAKE) --no-print-directory deploy-check
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=1 all
	@$(MAKE) --no-print-directory tests-build
	@$(MAKE) --no-print-directory SAN=1 tests-build
	@bash tests/run.sh build/release bin build/san build/san/bin

tests-build: $(UNIT_BIN) $(INTEG_BIN) $(TEST_PROGS)

# Fault injection (tests/integration/test_faults.c on a fresh stack), then every service
# under valgrind memcheck through one user's whole story (tests/memcheck.sh)
faults: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory tests-build
	@TESTS='integration/test_faults' bash tests/run.sh build/release bin
	@bash tests/memcheck.sh build/release bin

test-unit: all tests-build
	@bash tests/run.sh --unit $(BUILD) $(BIN)

# The deployment files, without a container engine or a cluster: compose parses, every
# overlay renders, every object fits the Kubernetes schemas, the project's rules hold.
deploy-check: deps
	@bash deploy/check/run.sh

lint:
	cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
	  --error-exitcode=1 -Icommon -Iproto common proto services tools

format:
	clang-format -i $(LIB_SRC) $(wildcard services/*/*.c services/*/*.h common/*.h proto/*.h tools/*.c)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

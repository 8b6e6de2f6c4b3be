# Thin wrapper around CMake. `make run`, `make test`, `make check`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CONFIG ?=

.PHONY: all build run test test-asan test-valgrind layers check clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# On ./hookd.yaml, else the embedded default (plain HTTP on 127.0.0.1:8080,
# the console on 127.0.0.1:9090). hookd logs the console's real address too.
run: build
	@echo 'hookd: the console is at http://127.0.0.1:9090/ with the embedded default' \
	  '(else at admin.listen: see the "console at" line hookd logs)'
	$(BUILD)/hookd run $(if $(CONFIG),-c $(CONFIG),)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHOOKD_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# The main integration scenarios with `hookd run` under valgrind memcheck: any
# invalid access or definite/indirect leak makes hookd exit 99, which fails
# the test that stopped it.
VALGRIND_TESTS ?= test_receive test_forward test_reload test_jws.Accepted test_jws.Refused test_jws.Migration \
  test_console_api test_console_spool.ConsoleSpool test_cluster_outage
test-valgrind: build
	cd tests/integration && HOOKD_BIN=$(CURDIR)/$(BUILD)/hookd \
	  HOOKD_PLUGIN_DIR=$(CURDIR)/$(BUILD)/plugins HOOKD_FIXTURE_DIR=$(CURDIR)/$(BUILD)/tests/plugins \
	  HOOKD_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full \
	    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect" \
	  python3 -m unittest $(VALGRIND_TESTS)

# The tree's shape (docs/DESIGN.md §2): includes and calls point down the
# layers, no two files call each other, no file over 800 lines.
layers: build
	python3 scripts/layers.py $(BUILD)

# Everything CI runs: the suite in a normal build, under ASan+UBSan, the
# main scenarios under valgrind, and the shape of the tree.
check: test test-asan test-valgrind layers

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

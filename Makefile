# Thin wrapper around CMake. `make run`, `make test`, `make check`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CONFIG ?=

.PHONY: all build run test test-asan check clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# On ./hookd.yaml, else the embedded default (plain HTTP on 127.0.0.1:8080).
run: build
	$(BUILD)/hookd run $(if $(CONFIG),-c $(CONFIG),)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHOOKD_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Everything CI runs: the suite in a normal build, then under ASan+UBSan.
check: test test-asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

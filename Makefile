# Thin front door over CMake + CTest. Every target first installs what the
# machine lacks (scripts/deps.sh), so a fresh machine needs nothing else.
BUILD  ?= build
JOBS   ?= $(shell nproc)
PREFIX ?= /usr/local
# Ninja prints one line per step; a build folder made before keeps the
# generator it was made with.
GENERATOR := $(if $(wildcard $(BUILD)/CMakeCache.txt),,-G Ninja)
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo check bench fuzz nvse install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# make install [PREFIX=/usr/local] [DESTDIR=...]: bin/reheap, the libraries,
# headers, pkg-config and CMake package files, man pages, completion
install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cmake --install $(BUILD)

# The main job: a real program (CPython) on reheap's heap, with its summary.
# PYTHONMALLOC=malloc sends Python's small objects to the C heap too.
demo: build
	@PYTHONMALLOC=malloc $(BUILD)/bin/reheap run --stats -- /usr/bin/python3 examples/demo/alloc_heavy.py

check: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/rh-bench
	$(BUILD)/bin/rh-hook-bench
	$(BUILD)/bin/rh-track-bench
	bash bench/track_sample_accuracy.sh $(BUILD)/bin
	bash bench/track_only_bench.sh $(BUILD)
	$(BUILD)/bin/rh-track-compare
	$(BUILD)/bin/rh-legacy-bench
	$(BUILD)/bin/rh-py-bench
	$(BUILD)/bin/rh-tcl-bench
	bash bench/windows/legacy_bench.sh $(CURDIR) $(CURDIR)/$(BUILD)/windows

# The hook relocators (x86-64, aarch64), the hook-spec parser and the
# report reader under libFuzzer, ten minutes each (short runs are in check).
fuzz: build
	mkdir -p $(BUILD)/fuzz-corpus $(BUILD)/fuzz-aarch64-corpus $(BUILD)/fuzz-spec-corpus $(BUILD)/fuzz-report-corpus
	$(BUILD)/bin/fuzz_reloc -max_total_time=600 $(BUILD)/fuzz-corpus
	$(BUILD)/bin/fuzz_reloc_aarch64 -max_total_time=600 $(BUILD)/fuzz-aarch64-corpus
	$(BUILD)/bin/fuzz_spec -max_total_time=600 -max_len=4096 $(BUILD)/fuzz-spec-corpus tests/front/fuzz-spec-seeds
	$(BUILD)/bin/fuzz_report -max_total_time=600 -max_len=65536 -close_fd_mask=2 $(BUILD)/fuzz-report-corpus tests/cli/fuzz-report-seeds

# The Fallout New Vegas plugin: reheap_nvse.dll (32-bit, mingw-w64) and its
# INI, into $(BUILD)/nvse-release, for Data\NVSE\Plugins.
nvse: deps
	@bash tests/windows/build.sh $(CURDIR) $(CURDIR)/$(BUILD)/windows i686
	@bash tests/windows/check_dll.sh $(BUILD)/windows/i686/nvse/reheap_nvse.dll
	@mkdir -p $(BUILD)/nvse-release
	@i686-w64-mingw32-strip -o $(BUILD)/nvse-release/reheap_nvse.dll $(BUILD)/windows/i686/nvse/reheap_nvse.dll
	@cp plugins/nvse/reheap_nvse.ini $(BUILD)/nvse-release/
	@echo "nvse: $(BUILD)/nvse-release/reheap_nvse.dll and reheap_nvse.ini: copy both to Data\NVSE\Plugins"

clean:
	rm -rf $(BUILD)

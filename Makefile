# metagate — the two commands: `make run` and `make test`. Both install what is missing first.
.PHONY: all deps test-deps build debug run test fuzz clean install

JOBS ?= $(shell nproc)
METAGATE_LISTEN ?= 127.0.0.1:5432
METAGATE_SQLITE ?= ./data/grafana.db

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

# Release build; the daemon lands at build/bin/metagate.
build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

# Run the embedded default: SQLite at ./data/grafana.db on 127.0.0.1:5432, trust for loopback.
run: build
	@mkdir -p $(dir $(METAGATE_SQLITE))
	./build/bin/metagate serve --listen $(METAGATE_LISTEN) --sqlite $(METAGATE_SQLITE)

# Debug build with ASan+UBSan, then every test through ctest.
debug: test-deps
	cmake --preset debug
	cmake --build --preset debug -j $(JOBS)

test: debug
	ctest --preset debug

# libFuzzer targets (clang); `make fuzz FUZZ_SECONDS=60` runs each for that long.
FUZZ_SECONDS ?= 30
fuzz: test-deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	bash tests/fuzz/run_fuzzers.sh build/fuzz/bin $(FUZZ_SECONDS)

clean:
	rm -rf build

# Installs the daemon, its systemd unit and an example configuration (kept if one exists).
# `make install PREFIX=/usr DESTDIR=/tmp/pkg` for packaging; the unit's ExecStart follows PREFIX.
PREFIX ?= /usr/local
install: build
	install -D -m 0755 build/bin/metagate $(DESTDIR)$(PREFIX)/bin/metagate
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/metagate
	sed 's#/usr/local/bin/metagate#$(PREFIX)/bin/metagate#' config/metagate.service > $(DESTDIR)/etc/systemd/system/metagate.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/metagate.service
	[ -e $(DESTDIR)/etc/metagate/metagate.json ] || install -m 0640 config/metagate.example.json $(DESTDIR)/etc/metagate/metagate.json

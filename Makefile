# ngx_sticky_module: build the C++ core, the nginx dynamic module, and run tests.
#
#   make            build build/ngx_http_sticky_workers_module.so against Debian's nginx-dev
#   make NGINX_SRC=DIR   ... against an nginx source tree instead
#   make test       unit tests (GoogleTest) + nginx tests (prove)
#   make deps       install the Debian packages building and testing need
#   make deb        build/libnginx-mod-http-sticky-workers_VERSION_ARCH.deb
#   make demo / demo-stop   a Tomcat cluster behind nginx with the module

SHELL      := /bin/bash
BUILD      := $(CURDIR)/build
CXX        ?= g++
NGINX_BIN  ?= /usr/sbin/nginx
NGINX_SRC  ?= /usr/share/nginx/src
# The nginx module's name (config's ngx_addon_name): its .so, and the
# Debian package's name (libnginx-mod-http-sticky-workers) derive from it.
MODULE_NAME := ngx_http_sticky_workers_module
MODULE     := $(BUILD)/$(MODULE_NAME).so

# The core has its own flags: nginx compiles module sources with its C flags.
# debian/rules adds dpkg-buildflags' through CORE_BUILDFLAGS and drops
# -Werror (CORE_WERROR=).
CORE_WERROR     ?= -Werror
CORE_BUILDFLAGS ?=
CORE_CXXFLAGS := -std=c++17 -O2 -g -fPIC -Isrc -fvisibility=hidden \
                 -fvisibility-inlines-hidden -Wall -Wextra $(CORE_WERROR) \
                 $(CORE_BUILDFLAGS)
CORE_SRCS  := $(sort $(wildcard src/*.cc src/*/*.cc))
CORE_HDRS  := $(wildcard src/*.h src/*/*.h)
CORE_OBJS  := $(patsubst src/%.cc,$(BUILD)/core/%.o,$(CORE_SRCS))
CORE_LIB   := $(BUILD)/core/libstickycore.a

UNIT_SRCS  := $(sort $(wildcard t/unit/*_test.cc))
UNIT_BIN   := $(BUILD)/unit/core_tests
GLUE_SRCS  := $(wildcard ngx_sticky_module/*.c ngx_sticky_module/*.h)

# tomcat10-user + a JDK: the real Tomcat cluster of `make demo` and the tests;
# libapache2-mod-jk: its shipped workers.properties is a test input;
# apache2 + libapache2-mod-jk: the importer's parity test (t/71) runs
# Apache + mod_jk 1.2.48 as a private instance (its own port and files;
# the system's apache2 service is neither used nor stopped);
# openssl: the AJP TLS tests make their certificates; iproute2: t/46 gives
# its network namespace a non-loopback address;
# chromium, chromium-driver, python3-selenium: the status page's browser
# tests (t/browser/drain.py and charts.py drive it through the WebDriver);
# wrk: the load of the shared state's soak test (t/63-state-soak.t);
# DEB_BUILD_PKGS: `make deb` and its test (t/70-deb-package.t).
DEB_BUILD_PKGS := build-essential debhelper dpkg-dev nginx-dev lintian
DEB_PKGS   := build-essential nginx nginx-dev libgtest-dev libgmock-dev \
              apache2 libapache2-mod-jk perl curl openssl iproute2 tomcat10-user default-jdk-headless \
              chromium chromium-driver python3-selenium wrk $(DEB_BUILD_PKGS)

.PHONY: all module core unit test test-unit test-unit-san test-nginx deps clean demo demo-stop \
        deb deb-deps

all: module

core: $(CORE_LIB)

$(BUILD)/core/%.o: src/%.cc $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CXX) $(CORE_CXXFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Configure like Debian's `dh --with nginx` (conf_flags + dpkg-buildflags) in
# Debian's nginx-dev tree; a plain source tree gets --with-compat only, so pass
# NGINX_CONFIGURE="..." with the flags of the nginx you will load it into.
ifeq ($(NGINX_SRC),/usr/share/nginx/src)
NGINX_CONFIGURE ?= $$(. $(NGINX_SRC)/conf_flags; echo "$${NGX_CONF_FLAGS[@]}") \
                   --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
                   --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC"
else
NGINX_CONFIGURE ?= --with-compat
endif

$(BUILD)/nginx/Makefile: config
	@mkdir -p $(@D)
	cd $(NGINX_SRC) && STICKY_CORE_LIB=$(CORE_LIB) \
	  $$( [ -x ./configure ] && echo ./configure || echo auto/configure ) \
	  $(NGINX_CONFIGURE) --add-dynamic-module=$(CURDIR) --builddir=$(BUILD)/nginx \
	  > $(BUILD)/nginx-configure.log || { tail -30 $(BUILD)/nginx-configure.log; exit 1; }

# nginx's Makefile does not know the core archive: relink whenever we get here.
$(MODULE): $(BUILD)/nginx/Makefile $(CORE_LIB) $(GLUE_SRCS)
	rm -f $(BUILD)/nginx/$(MODULE_NAME).so
	$(MAKE) -f $(BUILD)/nginx/Makefile -C $(NGINX_SRC) modules
	# a new file, renamed over the old one: running nginx processes map it
	cp $(BUILD)/nginx/$(MODULE_NAME).so $@.tmp && mv -f $@.tmp $@

module: $(MODULE)

# --- tests -----------------------------------------------------------------

$(UNIT_BIN): $(UNIT_SRCS) $(CORE_LIB) $(wildcard t/unit/*.h)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O1 -g -Wall -Wextra -Werror -Isrc $(UNIT_SRCS) $(CORE_LIB) \
	  -lgmock -lgtest_main -lgtest -pthread -o $@

unit: $(UNIT_BIN)

test-unit: $(UNIT_BIN)
	cd t/unit && $(UNIT_BIN)

# The same unit tests, core included, under AddressSanitizer + UBSan.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_OBJS  := $(patsubst %.cc,$(BUILD)/san/%.o,$(CORE_SRCS) $(UNIT_SRCS))
SAN_BIN   := $(BUILD)/san/core_tests

$(BUILD)/san/%.o: %.cc $(CORE_HDRS) $(wildcard t/unit/*.h)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O1 -g $(SAN_FLAGS) -Wall -Wextra -Werror -Isrc -c $< -o $@

$(SAN_BIN): $(SAN_OBJS)
	$(CXX) $(SAN_FLAGS) $^ -lgmock -lgtest_main -lgtest -pthread -o $@

test-unit-san: $(SAN_BIN)
	cd t/unit && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 $(SAN_BIN) --gtest_brief=1

# `deb`, not $(DEB): the package's variables are defined further down.
test-nginx: $(MODULE) deb
	STICKY_MODULE=$(MODULE) STICKY_DEB=$(DEB) NGINX_BIN=$(NGINX_BIN) prove -I t/lib t/

# The failure and recovery figures of README.md (not in `make test`):
# t/bench/failover.pl, the module with look-alike backends (about 5
# minutes), then t/bench/failover_tomcat.pl, the recovery of a restarted
# Tomcat 10 node behind Apache httpd + mod_jk 1.2.48 and behind the module,
# both over AJP to the same cluster (about 20 minutes; needs tomcat10-user,
# apache2, libapache2-mod-jk). `make bench` (below) runs it after the
# comparisons.
.PHONY: bench-failover
bench-failover: $(MODULE)
	STICKY_MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) perl -I t/lib t/bench/failover.pl
	STICKY_MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) perl -I t/lib t/bench/failover_tomcat.pl

test: deps
	$(MAKE) -j$$(nproc) test-unit test-unit-san module
	$(MAKE) test-nginx

# --- setup -----------------------------------------------------------------

# Installs only what is missing, so it is quick when all is there.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# --- the Debian package --------------------------------------------------------
#
#   make deb    build/$(DEB_PACKAGE)_VERSION_ARCH.deb (debian/: debhelper
#               with nginx-dev's dh-sequence-nginx)
#
# dpkg-buildpackage writes into the parent of the source directory, and the
# package's core must be built with dpkg-buildflags, not be build/core's: so
# each build works in a copy of the tree in a directory of its own under
# build/, and the .deb is renamed into build/ when complete (two builds at
# once do not mix; the last one wins). Its log: build/deb-build.log.

DEB_PACKAGE := libnginx-mod-http-sticky-workers
DEB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH    := $(shell dpkg --print-architecture)
DEB         := $(BUILD)/$(DEB_PACKAGE)_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_JOBS    ?= $(shell nproc)
DEB_INPUTS  := $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS) config Makefile \
               README.md workers.properties.example \
               $(filter-out %~,$(wildcard debian/* debian/source/*))

deb-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_BUILD_PKGS)"

deb: deb-deps
	$(MAKE) $(DEB)

$(DEB): $(DEB_INPUTS)
	@mkdir -p $(BUILD)
	@set -e; tmp=$$(mktemp -d $(BUILD)/deb-src.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/src"; \
	tar -C $(CURDIR) --exclude=./build --exclude-vcs -cf - . | tar -C "$$tmp/src" -xf -; \
	echo "dpkg-buildpackage in $$tmp/src (log: $(BUILD)/deb-build.log)"; \
	if ! (cd "$$tmp/src" && DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:+$$DEB_BUILD_OPTIONS }noddebs" \
	      dpkg-buildpackage -b -us -uc -J$(DEB_JOBS)) > "$$tmp/build.log" 2>&1; then \
	  cp "$$tmp/build.log" $(BUILD)/deb-build.log; tail -40 "$$tmp/build.log"; exit 1; \
	fi; \
	cp "$$tmp/build.log" $(BUILD)/deb-build.log; \
	mv -f "$$tmp/$(notdir $@)" $@; \
	echo "built $@"

# --- the main job ------------------------------------------------------------

demo: deps module
	MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) demo/demo.sh start

demo-stop:
	demo/demo.sh stop

clean:
	rm -rf $(BUILD)

# --- fuzzing (not part of `make test`) --------------------------------------
#
#   make fuzz [FUZZ_SECONDS=60]   each libFuzzer target for FUZZ_SECONDS
#                                 (properties: three times that)
#   make fuzz-build               only build build/fuzz/*_fuzz
#
# The core sources are compiled with clang straight from src/ (libFuzzer
# needs every object instrumented), under ASan + UBSan, into an archive: a
# target links only the objects it calls, so libFuzzer scans only their
# coverage counters after each input. New inputs go to
# build/fuzz/corpus-*; the seeds in fuzz/corpus/ (and t/data/) are read only.
# A crash leaves build/fuzz/crash-*: make it a test in
# t/unit/fuzz_regression_test.cc.

FUZZ_PKGS     := clang-14 libclang-rt-14-dev
FUZZ_CXX      ?= clang++-14
FUZZ_SECONDS  ?= 60
FUZZ_FLAGS    := -std=c++17 -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Isrc
FUZZ_SAN      := address,undefined
# ASan's quarantine (freed memory held back to catch a late use) is 256 MiB
# by default: filling it made the properties target 1.7 times slower and
# 470 MiB resident. 16 MiB still holds thousands of an input's blocks.
FUZZ_ASAN_OPTIONS := quarantine_size_mb=16
FUZZ_OBJS     := $(patsubst src/%.cc,$(BUILD)/fuzz/obj/%.o,$(CORE_SRCS))
FUZZ_LIB      := $(BUILD)/fuzz/libstickycore_fuzz.a
# The workers.properties targets are built without tracing comparisons
# (trace-cmp): the dictionary gives the fuzzer mod_jk's words, and in equal
# runs of 2 x 60 s the properties target reached the same coverage without
# it (1,206 edges, 6,783 features, against 1,204 and 6,728) and ran 20 %
# more inputs. The binary AJP and session targets keep it: their magic
# bytes and lengths are what it finds.
FUZZ_NOCMP_OBJS := $(patsubst src/%.cc,$(BUILD)/fuzz/obj-nocmp/%.o,$(CORE_SRCS))
FUZZ_NOCMP_LIB  := $(BUILD)/fuzz/libstickycore_fuzz_nocmp.a
FUZZ_NOCMP_TARGETS := properties workers
FUZZ_TARGETS  := properties workers session ajp_response ajp_request
FUZZ_BINS     := $(patsubst %,$(BUILD)/fuzz/%_fuzz,$(FUZZ_TARGETS))
FUZZ_SEEDS_properties   := fuzz/corpus/properties t/data
FUZZ_SEEDS_workers      := fuzz/corpus/properties t/data
FUZZ_SEEDS_session      := fuzz/corpus/session
FUZZ_SEEDS_ajp_response := fuzz/corpus/ajp_response
FUZZ_SEEDS_ajp_request  := fuzz/corpus/ajp_request
# Every construct of a workers file fits in 1 KiB; a longer input repeats
# them, and an input's cost grows with its size (references may build 32
# bytes for each byte of it).
# A feature stays "rare" for libFuzzer's scheduler (entropic) until 255
# inputs reached it, and every input looks each of its features up in the
# list of rare ones: a reader's input reaches thousands, and that lookup
# took a third of the time. At 16, on the same corpus for 60 s: 10,291
# inputs/s against 6,457, with the same coverage (1,204 edges and 6,810
# features, against 1,208 and 6,812).
FUZZ_READER_OPTS        := -dict=fuzz/properties.dict -max_len=1024 \
                           -entropic_feature_frequency_threshold=16
FUZZ_OPTS_properties    := $(FUZZ_READER_OPTS)
FUZZ_OPTS_workers       := $(FUZZ_READER_OPTS)
FUZZ_OPTS_session       :=
FUZZ_OPTS_ajp_response  :=
FUZZ_OPTS_ajp_request   :=

.PHONY: fuzz fuzz-build fuzz-deps
.SECONDARY: $(FUZZ_OBJS) $(FUZZ_NOCMP_OBJS)

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_PKGS)"

$(BUILD)/fuzz/obj/%.o: src/%.cc $(CORE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(BUILD)/fuzz/obj-nocmp/%.o: src/%.cc $(CORE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize-coverage=trace-cmp -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_NOCMP_LIB): $(FUZZ_NOCMP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(patsubst %,$(BUILD)/fuzz/%_fuzz,$(FUZZ_NOCMP_TARGETS)): $(BUILD)/fuzz/%_fuzz: fuzz/%_fuzz.cc $(FUZZ_NOCMP_LIB) $(wildcard fuzz/*.h)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -fno-sanitize-coverage=trace-cmp $< $(FUZZ_NOCMP_LIB) -o $@

$(BUILD)/fuzz/%_fuzz: fuzz/%_fuzz.cc $(FUZZ_LIB) $(wildcard fuzz/*.h t/unit/*.h)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $< $(FUZZ_LIB) -o $@

fuzz-build: fuzz-deps
	$(MAKE) -j$$(nproc) $(FUZZ_BINS)

# One target after the other, each bounded by FUZZ_SECONDS (and a timeout),
# the syntax layer of workers.properties by three times that: it reads
# whatever file a user hands us, and at over 10,000 inputs a second three
# minutes are about 1.9 million inputs. Fails on the first crash, naming the
# input that reproduces it.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	  secs=$(FUZZ_SECONDS); \
	  case $$t in properties) seeds="$(FUZZ_SEEDS_properties)"; opts="$(FUZZ_OPTS_properties)"; secs=$$((3 * secs));; \
	              workers) seeds="$(FUZZ_SEEDS_workers)"; opts="$(FUZZ_OPTS_workers)";; \
	              session) seeds="$(FUZZ_SEEDS_session)"; opts="$(FUZZ_OPTS_session)";; \
	              ajp_response) seeds="$(FUZZ_SEEDS_ajp_response)"; opts="$(FUZZ_OPTS_ajp_response)";; \
	              ajp_request) seeds="$(FUZZ_SEEDS_ajp_request)"; opts="$(FUZZ_OPTS_ajp_request)";; esac; \
	  echo "== $$t: $$secs s"; \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) \
	  timeout -k 10 $$(( secs + 120 )) $(BUILD)/fuzz/$${t}_fuzz $$opts \
	    -max_total_time=$$secs -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/corpus-$$t $$seeds \
	    > $(BUILD)/fuzz/$$t.log 2>&1 \
	  || { tail -60 $(BUILD)/fuzz/$$t.log; echo "fuzz: $$t FAILED; reproduce: $(BUILD)/fuzz/$${t}_fuzz $$(ls -t $(BUILD)/fuzz/$$t-* 2>/dev/null | head -1)"; exit 1; }; \
	  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|average_exec_per_sec))' $(BUILD)/fuzz/$$t.log; \
	done; echo "fuzz: no crash in $(FUZZ_TARGETS)"

# --- benchmarks (not part of `make test`) ----------------------------------
#
#   make bench             every benchmark: the comparisons (bench-compare,
#                          writes bench/RESULTS.md, which the README quotes;
#                          about 15 minutes), then bench-failover (above)
#   make bench-compare     the comparisons only
#   make bench-core        only the Google Benchmark of the core
#   make bench-compare BENCH_PARTS="rr haproxy"   some parts (bench/run.sh;
#                          their block in bench/RESULTS.md is replaced or
#                          appended, the rest of the file kept)
#   make bench-compare BENCH_PARTS="ajp-modjk ajp-http ajp-callgrind"   AJP
#
# Each comparison alternates A B A B ... and reports the ratio of every
# pair and their median. BENCH_PAIRS, BENCH_SECONDS, BENCH_CONNECTIONS and
# BENCH_NEW_PERCENT tune it (bench/run.sh). build/bench/ajp_responder
# (bench/ajp_responder.c) is the fast AJP/1.3 backend of ajp-callgrind.

BENCH_PKGS  := wrk haproxy apache2 libapache2-mod-jk valgrind libbenchmark-dev \
               tomcat10-user default-jdk-headless curl perl
BENCH_BIN   := $(BUILD)/bench/core_bench
AJP_RESPONDER := $(BUILD)/bench/ajp_responder
BENCH_PARTS ?=

.PHONY: bench bench-compare bench-core bench-core-build bench-deps bench-ajp-responder

bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"

$(BENCH_BIN): bench/core_bench.cc $(CORE_LIB) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Isrc $< $(CORE_LIB) -lbenchmark -lpthread -o $@

bench-core-build: $(BENCH_BIN)

$(AJP_RESPONDER): bench/ajp_responder.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror $< -o $@

bench-ajp-responder: $(AJP_RESPONDER)

bench-core: bench-deps
	$(MAKE) $(BENCH_BIN)
	$(BENCH_BIN) --benchmark_min_time=0.3

bench-compare: deps bench-deps
	$(MAKE) -j$$(nproc) module $(BENCH_BIN) $(AJP_RESPONDER)
	MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) AJP_RESPONDER=$(AJP_RESPONDER) \
	  timeout -k 30 2400 bench/run.sh $(BENCH_PARTS)

bench: bench-compare
	$(MAKE) bench-failover

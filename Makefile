# ngx_sticky_module: build the C++ core, the nginx dynamic module, and run tests.
#
#   make            build build/ngx_http_sticky_module.so against Debian's nginx-dev
#   make NGINX_SRC=DIR   ... against an nginx source tree instead
#   make test       unit tests (GoogleTest) + nginx tests (prove)
#   make deps       install the Debian packages building and testing need
#   make demo / demo-stop   a Tomcat cluster behind nginx with the module

SHELL      := /bin/bash
BUILD      := $(CURDIR)/build
CXX        ?= g++
NGINX_BIN  ?= /usr/sbin/nginx
NGINX_SRC  ?= /usr/share/nginx/src
MODULE     := $(BUILD)/ngx_http_sticky_module.so

# The core has its own flags: nginx compiles module sources with its C flags.
CORE_CXXFLAGS := -std=c++17 -O2 -g -fPIC -fvisibility=hidden \
                 -fvisibility-inlines-hidden -Wall -Wextra -Werror
CORE_SRCS  := $(sort $(wildcard src/*.cc))
CORE_HDRS  := $(wildcard src/*.h)
CORE_OBJS  := $(patsubst src/%.cc,$(BUILD)/core/%.o,$(CORE_SRCS))
CORE_LIB   := $(BUILD)/core/libstickycore.a

UNIT_SRCS  := $(sort $(wildcard t/unit/*_test.cc))
UNIT_BIN   := $(BUILD)/unit/core_tests
GLUE_SRCS  := $(wildcard ngx_sticky_module/*.c ngx_sticky_module/*.h)

# tomcat10-user + a JDK: the real Tomcat cluster of `make demo` and the tests;
# libapache2-mod-jk: its shipped workers.properties is a test input.
DEB_PKGS   := build-essential nginx nginx-dev libgtest-dev libgmock-dev \
              libapache2-mod-jk perl curl tomcat10-user default-jdk-headless

.PHONY: all module core unit test test-unit test-unit-san test-nginx deps clean demo demo-stop

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
	rm -f $(BUILD)/nginx/ngx_http_sticky_module.so
	$(MAKE) -f $(BUILD)/nginx/Makefile -C $(NGINX_SRC) modules
	# a new file, renamed over the old one: running nginx processes map it
	cp $(BUILD)/nginx/ngx_http_sticky_module.so $@.tmp && mv -f $@.tmp $@

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

test-nginx: $(MODULE)
	STICKY_MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) prove -I t/lib t/

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

# --- the main job ------------------------------------------------------------

demo: deps module
	MODULE=$(MODULE) NGINX_BIN=$(NGINX_BIN) demo/demo.sh start

demo-stop:
	demo/demo.sh stop

clean:
	rm -rf $(BUILD)

# The two commands of the README: `make demo` (the main job) and `make test` (the test suite).
# Both first run `setup`, which is idempotent: Debian packages, .venv, the project with its dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user gcc-aarch64-linux-gnu gdb-multiarch openocd
STAMP := $(VENV)/.munify-installed
PYTEST_WORKERS ?= 2
# The QEMU instruction-count plugin; its file name carries the source's hash (as toolchain/runners/insn_count.py
# looks it up), the flags are that module's PLUGIN_CFLAGS.
PLUGIN_SRC := firmware/qemu-plugin/insn_count.c
PLUGIN_CFLAGS := -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror -std=gnu11
PLUGIN := $(VENV)/lib/munify/insn_count-$(shell sha256sum $(PLUGIN_SRC) | cut -c1-16).so

.PHONY: setup demo test bench apt plugin clean

setup: apt $(STAMP) plugin

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "munify needs Debian packages:$$missing"; \
	    echo "run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

plugin: $(PLUGIN)

$(PLUGIN): $(PLUGIN_SRC) | $(STAMP)
	@mkdir -p $(dir $@)
	gcc $(PLUGIN_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

demo: setup
	$(BIN)/munify demo

test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15

bench: setup
	$(BIN)/munify bench

clean:
	rm -rf munify-out build *.egg-info

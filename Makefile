# Every target does its own set-up on a fresh machine: Debian packages (as
# root), the virtualenv at .venv, and the project installed into it from the
# pinned constraints. Nothing else needs to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# libengine-pkcs11-openssl: openssl's pkcs11 engine, for TLS with a key on a card (tests/smartcard).
# chromium: Debian's browser, driven by Playwright in the portal's tests (tests/flows/test_portal_login_page.py).
APT_PACKAGES := softhsm2 opensc openssl libengine-pkcs11-openssl chromium
# iproute2 (ip netns), p11-kit (`p11-kit server`), p11-kit-modules (p11-kit-client.so),
# systemd (systemd-analyze), postgresql-client (pg_dump, pg_restore): the two-node
# deployment test, its backup and restore, and its unit files (tests/deploy).
APT_PACKAGES += iproute2 p11-kit p11-kit-modules systemd postgresql-client
# nodejs, npm: the Node example client (clients/node, tests/clients/test_node_client.py).
# Installed only when node or npm is missing: a Node from elsewhere (NodeSource's bundles
# npm and conflicts with Debian's) is used as it is.
NODE_APT_PACKAGES := nodejs npm
NODE_CLIENT := clients/node
NODE_STAMP := $(NODE_CLIENT)/node_modules/.installed

.PHONY: run test lint typecheck proto proto-check proto-breaking docs docs-check system-deps setup bench clean
.PHONY: robustness

# The engine (zorgid dev), the reference portal on http://127.0.0.1:8000/ and its development
# companions, the Mobile App and the Desktop App, on http://127.0.0.1:8001/ (devapps/).
run: setup
	$(BIN)/python -m devapps

test: setup proto-check docs-check lint typecheck
	$(BIN)/pytest -q

setup: system-deps $(STAMP) $(NODE_STAMP)

system-deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null || missing="$$missing softhsm2"; \
	command -v pkcs11-tool >/dev/null || missing="$$missing opensc"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	dpkg -s libengine-pkcs11-openssl >/dev/null 2>&1 || missing="$$missing libengine-pkcs11-openssl"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v p11-kit >/dev/null || missing="$$missing p11-kit"; \
	dpkg -s p11-kit-modules >/dev/null 2>&1 || missing="$$missing p11-kit-modules"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v pg_dump >/dev/null || missing="$$missing postgresql-client"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing Debian packages: $(NODE_APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(NODE_APT_PACKAGES); \
	fi

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The Node client's packages, exactly as package-lock.json pins them; again only when it changed.
# --ignore-scripts: no package runs code at install time (none needs to).
$(NODE_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	npm ci --prefix $(NODE_CLIENT) --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

proto: setup
	$(BIN)/python scripts/gen_proto.py

# The protos as they last landed on main: clients built against them must keep working,
# so buf breaking (FILE rules) runs against that commit in every make test.
# Move it forward when a submission lands.
PROTO_LANDED := 4340f87a16e43e06c4d60bbc2303d37572266b0b

proto-check: setup
	$(BIN)/python scripts/gen_proto.py --check
	$(BIN)/buf lint
	@if git cat-file -e $(PROTO_LANDED)^{commit} 2>/dev/null; then \
	  echo "buf breaking against the landed protos ($(PROTO_LANDED))"; \
	  $(BIN)/buf breaking --against ".git#ref=$(PROTO_LANDED),depth=1000"; \
	else \
	  echo "buf breaking not run: commit $(PROTO_LANDED) is not in this clone (shallow?)"; \
	fi

# buf breaking (FILE rules) against an earlier commit, e.g. the last landed one:
#   make proto-breaking AGAINST=<commit>
AGAINST ?= HEAD~1
proto-breaking: setup
	$(BIN)/buf breaking --against ".git#ref=$$(git rev-parse $(AGAINST)),depth=1000"

# Generated references (error catalogue, configuration) must match the code.
docs: setup
	$(BIN)/python scripts/gen_errors_doc.py
	$(BIN)/zorgid config doc > docs/config.md

docs-check: setup
	$(BIN)/python scripts/gen_errors_doc.py --check
	$(BIN)/zorgid config doc --check docs/config.md

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Coverage-guided fuzzing of the parsers and servicers (fuzz/, docs/robustness.md "Fuzzing"):
# each target for SECONDS seconds, one after the other; not part of make test. The first run
# makes a development environment with the demo's state under var/fuzz (about a minute).
# Prints per target: inputs executed, exec/s, crashes (kept under var/fuzz/crashes/), coverage.
#   make fuzz SECONDS=600                       # every target
#   make fuzz SECONDS=60 TARGETS="csr_checker"  # some
SECONDS ?= 60
TARGETS ?=
.PHONY: fuzz
fuzz: setup
	PYTHONPATH=. $(BIN)/python -m fuzz.run --seconds $(SECONDS) $(TARGETS)

# The OCSP benchmark loads both responders with wrk and measures the nginx ceiling (Debian packages).
bench: setup
	command -v wrk >/dev/null && command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light)
	for b in bench/*.py; do PYTHONPATH=. $(BIN)/python $$b || exit 1; done

# Faults under load (a table each) and a soak of SOAK minutes (figures and soak.png); needs
# root. Not part of make test: tests/robustness runs the faults briefly there. docs/robustness.md.
SOAK ?= 30
robustness: setup
	PYTHONPATH=. $(BIN)/python bench/robustness.py
	PYTHONPATH=. $(BIN)/python bench/robustness.py --soak $(SOAK) --png soak.png

clean:
	rm -rf $(VENV) var

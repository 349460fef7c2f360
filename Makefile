# cordon — build/setup plumbing.
#
#   make setup      check Node.js (>= engines.node) and npm, says what to install, then Debian packages
#                   (as root), npm dependencies and .tools/ (ifquery); idempotent, fast on re-runs
#   make install    setup + build, then link bin/cordon into $(PREFIX)/bin (default /usr/local/bin),
#                   so `cordon` is on PATH; make uninstall removes that link
#   make build      compile src/ to dist/ with tsc, bundle the dashboard (web/) into dist/web/, and write
#                   dist/fast/ (the launcher of `cordon run -- CMD` that needs no Node)
#   make typecheck  tsc --noEmit over src/, test/ and bench/ (tsconfig.check.json), and web/ (web/tsconfig.json)
#   make lint       typecheck + eslint + prettier check + dependency rules, one summary line per gate
#   make test       setup, then the node test runner (spec reporter) over test/**/*.test.ts
#   make demo       setup + build, then matrix / test / lint on the Proxmox dual-bridge example
#   make man        docs/cordon.1, the man page, from the same command definitions as --help
#   make bench      setup, then npm run bench
#   make mutation   mutation testing (StrykerJS) of the policy core, one target at a time; slow
#                   (hours for all targets on 2 cores), not part of `make test`: see TESTING.md
#   make clean      remove dist/ ; make distclean also removes node_modules/ and .tools/
#
# `setup` is meant for a fresh Debian 12 machine as root. As non-root it skips the apt part with a
# message and only installs npm dependencies, so the pure parts still build and test.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

export DEBIAN_FRONTEND := noninteractive

# Debian 12 packages used by cordon (lab, sandbox, guard, render validators, benchmarks).
# Each one is chosen so that installing it starts no daemon and touches no firewall or route:
#   nftables          nft: render target, lab enforcement, guard counters
#   iptables          iptables-save/-restore: import and render target (iptables-nft)
#   iproute2          ip netns/link/addr/route: lab namespaces, bridges, veth
#   wireguard-tools   wg, wg-quick: tunnel render/validate, lab tunnels, VPN health
#   wireguard-go      userspace WireGuard, for lab tunnels where the kernel module is absent
#   dnsmasq-base      dnsmasq binary only (package `dnsmasq` would enable and start dnsmasq.service)
#   conntrack         conntrack -L/-E: guard, blocked-attempt and flow inspection
#   bubblewrap        bwrap: `cordon run` sandbox
#   socat, ripgrep    what @anthropic-ai/sandbox-runtime (srt) needs beside bwrap; socat also for probes
#   iperf3            lab throughput benchmarks (debconf start_daemon preseeded to false below)
#   libvirt-clients   virt-xml-validate (its dependency libvirt0 ships /usr/share/libvirt/schemas/*.rng);
#                     no libvirtd
#   libxml2-utils     xmllint, which virt-xml-validate runs but libvirt-clients does not depend on
#   bind9-utils       named-checkzone / named-checkconf: validate rendered DNS zones
#   netplan.io        netplan generate --root-dir: validate rendered netplan; no service, only a
#                     systemd generator that does nothing without /etc/netplan/*.yaml
#   procps            ps, sysctl (ip_forward etc. inside namespaces)
#   perl              the lab agent: one process that probes and observes inside every lab namespace (setns)
#   iputils-ping      ping, for `cordon lab exec HOST -- ping …` and the lab benchmark's baseline
#   util-linux        unshare, nsenter; setpriv --pdeathsig: `cordon run`'s command dies with cordon
#   seccomp           scmp_sys_resolver: scripts/gen-seccomp-table.sh regenerates the sandbox's syscall
#                     table from libseccomp, and a test checks the committed table against it
#   zsh, fish         `zsh -n` / `fish --no-execute` parse the scripts `cordon completion` prints, and the
#                     tests complete subcommand names in them (bash is there already)
#   groff-base, man-db  `groff -man -ww` and `man --warnings -l` check the man page `cordon man` prints
#   passt             pasta: rootless `cordon run` (an ordinary user) connects the sandbox's user + network
#                     namespace to the user's network with it; no service, one binary
#   ulogd2, ulogd2-json  the guard's NFLOG reader (one ulogd per namespace, JSON over a unix socket);
#                     its ulogd2.service is not started (policy-rc.d below) and the guard never uses it
#   chromium          the dashboard's browser tests (playwright-core drives /usr/bin/chromium headless); no service
APT_PACKAGES := nftables iptables iproute2 wireguard-tools wireguard-go dnsmasq-base conntrack \
                bubblewrap socat ripgrep iperf3 libvirt-clients libxml2-utils bind9-utils netplan.io procps util-linux \
                perl iputils-ping curl seccomp zsh fish groff-base man-db passt ulogd2 ulogd2-json chromium

# Debian's ifquery (package ifupdown) validates rendered /etc/network/interfaces files. The package
# is deliberately NOT installed: it conflicts with ifupdown2 (apt would remove the network stack of
# a Proxmox host) and it enables networking.service and a udev hotplug rule. Its one binary (ifup,
# run as ifquery: parses an interfaces file, touches no interface; needs only libc) is unpacked
# from the .deb into .tools/ with apt-get download + dpkg-deb -x; test/render-ifupdown.test.ts
# runs it from there.
IFQUERY := .tools/ifupdown/sbin/ifquery

# promtool (`promtool check metrics` on the guard's exposition, `promtool check rules` on the alerting
# rules `cordon render --target prometheus` writes) comes the same way, from Debian's prometheus .deb:
# installing the package would bring the Prometheus server, a system user, ~100 MB of web assets and
# their libjs-* dependencies for one 48 MB binary that needs only libc.
PROMTOOL := .tools/prometheus/usr/bin/promtool

# npm's own record of what is in node_modules; used as the stamp for `npm ci`.
NPM_STAMP := node_modules/.package-lock.json

.PHONY: setup check-node setup-apt setup-npm setup-tools build typecheck lint test demo man bench mutation clean distclean help install uninstall

help:
	@sed -n '3,17p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

setup: check-node setup-apt setup-npm setup-tools

# First: without Node.js >= engines.node and npm nothing else can work (Debian 12's nodejs is 18).
check-node:
	@sh scripts/check-node.sh

setup-apt: check-node
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "setup: not root: skipping apt packages; tests that need them will be skipped"; \
	  exit 0; \
	fi; \
	if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "setup: no dpkg/apt-get (not Debian?): skipping apt packages; tests that need them will be skipped"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(APT_PACKAGES); do \
	  case "$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null || true)" in \
	    "install ok installed") ;; \
	    *) missing="$$missing $$p" ;; \
	  esac; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "setup: apt packages already installed"; \
	  exit 0; \
	fi; \
	echo "setup: installing:$$missing"; \
	echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\n# temporary, from cordon make setup: start no services during install\nexit 101\n' > /usr/sbin/policy-rc.d; \
	  chmod 755 /usr/sbin/policy-rc.d; \
	  trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
	fi; \
	apt-get update -q; \
	apt-get install -y -q --no-install-recommends $$missing

# unpack PKG PROGRAM: downloads PKG's .deb (apt-get update if apt's lists do not know it yet) and
# unpacks it into .tools/PKG unless PROGRAM (a path under it) is already there; never installs it.
setup-tools: setup-apt
	@unpack() { \
	  local pkg=$$1 prog=$$2 dir=.tools/$$1 tmp; \
	  if [ -x "$$prog" ]; then return 0; fi; \
	  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then \
	    echo "setup: no apt-get/dpkg-deb: no $$prog; the tests that run it will be skipped (a failure in CI)"; \
	    return 0; \
	  fi; \
	  tmp=$$(mktemp -d); \
	  if ! ( cd "$$tmp" && { apt-get download -q "$$pkg" 2>/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get download -q "$$pkg"; }; } ); then \
	    rm -rf "$$tmp"; \
	    echo "setup: cannot download $$pkg: no $$prog; the tests that run it will be skipped (a failure in CI)"; \
	    return 0; \
	  fi; \
	  rm -rf "$$dir.tmp"; mkdir -p "$$dir.tmp"; \
	  dpkg-deb -x "$$tmp"/"$$pkg"_*.deb "$$dir.tmp"; \
	  rm -rf "$$tmp" "$$dir"; mv "$$dir.tmp" "$$dir"; \
	  echo "setup: unpacked $$prog (package $$pkg not installed)"; \
	}; \
	unpack ifupdown $(IFQUERY); \
	unpack prometheus $(PROMTOOL)

setup-npm: $(NPM_STAMP)

# A node_modules that is a symbolic link is someone else's install (a shared checkout's, a git
# worktree pointing at its main tree): `npm ci` would empty the directory it points to, so it is
# left alone with a word instead. Install scripts: package.json's allowScripts (npm 11) says which
# dependencies may run theirs; esbuild's postinstall is denied (it only re-checks the platform
# binary that its optional dependency @esbuild/<platform> already installs).
$(NPM_STAMP): package-lock.json package.json | check-node
	@if [ -L node_modules ]; then \
	  echo "setup: node_modules is a link to $$(readlink node_modules): not reinstalling through it (run npm ci where it points)"; \
	  exit 0; \
	fi; \
	npm ci --no-audit --no-fund; \
	touch $@

# The last step writes dist/fast/: `cordon run -- CMD` without Node (src/sandbox/launcher.ts), from the compiled plan code.
build: $(NPM_STAMP)
	npx tsc -p tsconfig.json
	node web/build.mjs
	node dist/cli/fast-build.js

typecheck: $(NPM_STAMP)
	npm run --silent typecheck

# Every gate runs even when an earlier one fails, so one run shows everything to fix; each prints
# its output only when it fails, then one line `lint: GATE ok|FAILED (Ns)`; exit 1 if any failed.
#   typecheck  tsc over src/, test/, bench/ (tsconfig.check.json) and over web/ (web/tsconfig.json: DOM, JSX)
#   eslint     typescript-eslint, type-aware (eslint.config.mjs)
#   prettier   npm run format:check (.prettierrc.json)
#   depcruise  the floors of src/: which folder may import which, no cycles (.dependency-cruiser.cjs)
lint: $(NPM_STAMP)
	@failed=""; \
	gate() { \
	  local name=$$1 out t0=$$SECONDS; shift; \
	  if out=$$("$$@" 2>&1); then echo "lint: $$name ok ($$((SECONDS - t0))s)"; \
	  else printf '%s\n' "$$out"; echo "lint: $$name FAILED ($$((SECONDS - t0))s)"; failed="$$failed $$name"; fi; \
	}; \
	gate typecheck npm run --silent typecheck; \
	gate eslint npm run --silent lint:eslint; \
	gate prettier npm run --silent format:check; \
	gate depcruise npm run --silent lint:deps; \
	if [ -n "$$failed" ]; then echo "lint: FAILED:$$failed"; exit 1; fi; \
	echo "lint: all 4 gates passed"

# Same command as package.json's "test" script, but with the file list expanded here: Node 20's
# `node --test` does not expand globs itself (that came in Node 21), so the quoted
# 'test/**/*.test.ts' in the npm script finds nothing on Node 20.
TEST_FILES = $(shell find test -name '*.test.ts' 2>/dev/null | LC_ALL=C sort)

test: setup
	node --import tsx --import ./test/support/test-env.ts --test --test-reporter=spec $(TEST_FILES)

demo: setup build
	bash scripts/demo.sh

# Written, not built on the fly, so the page can be read without node: `man -l docs/cordon.1`.
man: $(NPM_STAMP)
	@mkdir -p docs
	./bin/cordon man > docs/cordon.1

bench: setup
	npm run bench

# Mutation testing: StrykerJS (stryker.config.mjs) mutates one target's source files and re-runs the
# test files that reach each mutant. Reports go to reports/mutation/<target>.{html,json,log}.
# `make mutation` runs every target (nftables needs root + nft: it loads rule sets in a namespace of
# its own); `make mutation MUTATION_TARGETS=verify-checks` runs one. Slow, so not in `make test`:
# on this 2-core machine (shared, load 10-15) verify-checks took 40 min, sandbox (2 of its files)
# 33 min, lab-verify 14 min, nftables boxes+names 6.5 min; the larger targets were not run (hours).
# TESTING.md has the durations and scores. Incremental: a re-run only re-tests changed mutants.
MUTATION_TARGETS ?= verify-checks lab-verify nftables nftables-render sandbox ir ir-paths verify-engine verify-lint verify-fast
STRYKER_CONCURRENCY ?= 2

mutation: setup
	@mkdir -p reports/mutation
	for t in $(MUTATION_TARGETS); do \
	  echo "mutation: $$t"; \
	  CORDON_MUTATE=$$t STRYKER_CONCURRENCY=$(STRYKER_CONCURRENCY) npx stryker run 2>&1 | tee reports/mutation/$$t.log; \
	done

# `cordon` on PATH: a symlink to this checkout's bin/cordon (which finds the repository through the
# link), so a `git pull` needs no re-install. PREFIX=~/.local installs for one user without root.
# uninstall removes the link only when it is this checkout's.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin

install: setup build
	@mkdir -p "$(DESTDIR)$(BINDIR)"
	ln -sfn "$(CURDIR)/bin/cordon" "$(DESTDIR)$(BINDIR)/cordon"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "install: $(BINDIR) is not on PATH: add it, or call $(BINDIR)/cordon";; esac

uninstall:
	@link="$(DESTDIR)$(BINDIR)/cordon"; \
	if [ -L "$$link" ] && [ "$$(readlink "$$link")" = "$(CURDIR)/bin/cordon" ]; then rm -f "$$link"; echo "uninstall: removed $$link"; \
	elif [ -e "$$link" ] || [ -L "$$link" ]; then echo "uninstall: $$link is not this checkout's link; left alone"; exit 1; \
	else echo "uninstall: no $$link"; fi

clean:
	rm -rf dist

distclean: clean
	rm -rf node_modules .tools

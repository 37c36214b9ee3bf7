# RFQ cluster. `make run` and `make test` are all a fresh machine needs: both install what they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JAR_STAMP := build/jars/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
JAVA_SOURCES := $(shell find bench/jvm cluster/jvm gateway/jvm -name '*.java' 2>/dev/null)
MVN := mvn -B -q

.DEFAULT_GOAL := help
.PHONY: help install run cluster test test-fast lint bench-echo bench-cluster clean browser node-deps

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(PY_STAMP) $(JAR_STAMP) $(NODE_STAMP) ## set up the virtualenv (.venv), the JVM jars (build/) and node_modules; a no-op when done

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

$(JAR_STAMP): pom.xml $(JAVA_SOURCES)
	$(MVN) package -DskipTests
	touch $@

# Test-only JavaScript tools (axe-core, which the browser test injects into the blotter; prettier), from
# package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The browser test drives Debian's Chromium: no browser download is possible (nor wanted) here.
# Playwright launches it by path; `playwright install` is never run.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# State (log, archive, snapshots, the gateway's directory, demo-tokens.json) is kept in var/run, so a
# second `make run` resumes it with the same demo users and tokens; `rm -rf var/run` starts afresh.
run: install ## the whole platform: a node, the web gateway, demo users, bonds and RFQs (state in var/run; Ctrl-C stops it)
	$(BIN)/rfq run --base-dir var/run

cluster: install ## start three local nodes (state in var/cluster, secret in var/cluster/secret); Ctrl-C stops them
	$(BIN)/rfq cluster --members 3 --base-dir var/cluster

browser: $(CHROMIUM) ## Debian's Chromium for the browser test (apt-get; a no-op when installed)

node-deps: $(NODE_STAMP) ## the test-only npm packages (axe-core, prettier), with npm ci

test: install browser ## run every test suite: JavaScript, unit, property, interop, integration (browser too) and system
	node --test tests/js/
	$(BIN)/pytest

test-fast: install ## JavaScript, unit and property tests only (no cluster, no browser)
	node --test tests/js/
	$(BIN)/pytest -m "not integration and not system"

lint: install ## ruff and mypy; prettier for the blotter's JavaScript and CSS
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p rfq
	$(BIN)/mypy tests bench
	node_modules/.bin/prettier --check gateway/web/static tests/js

bench-echo: install ## echo round trip through a real cluster: Python service beside a Java one
	$(BIN)/python bench/echo.py

# Starts one node in-process and three `rfq node` processes (temporary folders, removed after);
# takes about six minutes; report in bench/results/cluster.md.
bench-cluster: install ## RFQ commands through one node and three: throughput, latency at 1k/s, beside a Java echo
	$(BIN)/python bench/cluster.py

# --- failover (issue 11) ---
# Three local nodes under load, the leader SIGKILLed five times (about two minutes); the ten-minute
# soak that counts spurious elections is `$(BIN)/python bench/failover.py --soak-minutes 10` (not CI).
.PHONY: bench-failover

bench-failover: install ## leader SIGKILL → first answered command, five times; report in bench/results/failover.md
	$(BIN)/python bench/failover.py

# --- codecs (issue 3) ---
# sbe-tool validates the schemas (stop on error, warnings fatal, against the sbe.xsd inside its jar)
# while it generates its Java codecs into build/sbe-java/src; javac compiles them with the codec
# benchmark harness into build/sbe-java/classes, which rfq.jvm puts on the JVM class path. `make test`
# needs only that Java side; `make codecs` also regenerates the checked-in codecs/rfq_sbe.py (a test
# fails when the checked-in file differs from what the generator makes).
SBE_JAR := build/jars/sbe-all-1.38.1.jar
SBE_XSD := build/sbe-java/sbe.xsd
SBE_JAVA := build/sbe-java
SBE_SCHEMAS := schema/rfq.xml tests/unit/codecs/schemas/features.xml
SBE_GENERATED := $(SBE_JAVA)/src/.generated
SBE_COMPILED := $(SBE_JAVA)/classes/.compiled
CODEC_BENCH_JAVA := $(shell find bench/codec-jvm -name '*.java' 2>/dev/null)
CODEC_GENERATOR := $(wildcard codecs/generator/*.py)
SBE_TOOL := java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
	-Dsbe.validation.stop.on.error=true -Dsbe.validation.warnings.fatal=true -Dsbe.validation.xsd=$(SBE_XSD)
.PHONY: codecs codecs-java bench-codec

codecs: codecs-java codecs/rfq_sbe.py ## validate schema/rfq.xml with sbe-tool; regenerate codecs/rfq_sbe.py and sbe-tool's Java codecs

codecs-java: $(SBE_COMPILED) ## sbe-tool's Java codecs (and the codec bench harness), compiled into build/sbe-java/classes

$(SBE_XSD): $(JAR_STAMP)
	mkdir -p $(@D)
	$(BIN)/python -c "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile('$(SBE_JAR)').read('fpl/sbe.xsd'))" > $@

# sbe-tool prints XSD violations as "[Error] ..." and still exits 0: its log decides too.
$(SBE_GENERATED): $(SBE_SCHEMAS) $(SBE_XSD)
	rm -rf $(@D) && mkdir -p $(@D)
	$(SBE_TOOL) -Dsbe.target.language=Java -Dsbe.output.dir=$(@D) -jar $(SBE_JAR) $(SBE_SCHEMAS) \
		> $(SBE_JAVA)/sbe-tool.log 2>&1 || { cat $(SBE_JAVA)/sbe-tool.log; exit 1; }
	@if grep -E '^\[(Error|Fatal Error|Warning)\]' $(SBE_JAVA)/sbe-tool.log; then \
		echo "sbe-tool: $(SBE_SCHEMAS) failed validation"; exit 1; fi
	touch $@

$(SBE_COMPILED): $(SBE_GENERATED) $(CODEC_BENCH_JAVA)
	rm -rf $(@D) && mkdir -p $(@D)
	javac -nowarn -encoding UTF-8 -d $(@D) -cp $(SBE_JAR) $$(find $(SBE_JAVA)/src bench/codec-jvm -name '*.java')
	touch $@

codecs/rfq_sbe.py: schema/rfq.xml $(CODEC_GENERATOR) $(SBE_GENERATED) | $(PY_STAMP)
	$(BIN)/python -m rfq.codecs.generator schema/rfq.xml -o $@
	touch $@

test test-fast: codecs-java

bench-codec: install codecs-java ## codec round trip, JMH-like sample mode: Python beside sbe-tool's Java; report in bench/results/
	$(BIN)/python bench/codec.py

# --- state machine (issue 4) ---
# Pure Python, no JVM: needs only the virtualenv (and the checked-in codecs/rfq_sbe.py).
.PHONY: bench-sm

bench-sm: $(PY_STAMP) ## state machine throughput: apply() alone and decode → apply → encode; report in bench/results/
	$(BIN)/python bench/state_machine.py

# --- expiry timers ---
# Fresh embedded nodes in one process, 20,000 RFQs each, 12 runs (about two minutes).
.PHONY: bench-timers

bench-timers: install ## pending RFQ expiries and the consensus module's idle CPU: priority heap vs Aeron's wheel
	$(BIN)/python bench/timers.py

# --- web gateway (issue 9) ---
# One node (`rfq node`) and the web gateway (`rfq gateway web`), each a process of its own, in a
# temporary folder (removed after), driven over HTTP by an open-loop generator in the bench's process;
# about five minutes, then bench-fix's run for the summary's fix_ figures; report in
# bench/results/gateway.md.
.PHONY: bench-gateway

bench-gateway: install ## REST create-RFQ latency beside GET /v1/me, the highest rate held, SSE fan-out to 100 streams
	$(BIN)/python bench/gateway.py

.PHONY: bench-fix

# One node, the web gateway and the FIX gateway, each a process; ~1 minute; report in bench/results/fix.md.
bench-fix: install ## FIX QuoteRequest → QuoteStatusReport latency at 500 msg/s (fix_p50_ms= fix_p99_ms= on the last line)
	$(BIN)/python bench/fix.py

clean: ## remove the virtualenv, node_modules and build outputs
	rm -rf $(VENV) build node_modules

# RFQ cluster. `make run` and `make test` are all a fresh machine needs: both install what they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JAR_STAMP := build/jars/.installed
JAVA_SOURCES := $(shell find bench/jvm -name '*.java' 2>/dev/null)
MVN := mvn -B -q

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint bench-echo clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(PY_STAMP) $(JAR_STAMP) ## set up the virtualenv (.venv) and the JVM jars (build/); a no-op when done

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

$(JAR_STAMP): pom.xml $(JAVA_SOURCES)
	$(MVN) package -DskipTests
	touch $@

run: install ## start the embedded single-node platform (Ctrl-C stops it)
	$(BIN)/rfq run

test: install ## run every test suite: unit, property, integration and system
	$(BIN)/pytest

test-fast: install ## unit and property tests only (no cluster)
	$(BIN)/pytest -m "not integration and not system"

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p rfq tests bench

bench-echo: install ## echo round trip through a real cluster: Python service beside a Java one
	$(BIN)/python bench/echo.py

clean: ## remove the virtualenv and build outputs
	rm -rf $(VENV) build

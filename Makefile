# Two commands from a fresh clone (each creates .venv on first use):
#   make benchmark   # the default benchmark: torch and tf, dcgan and wgan
#   make test        # the whole test suite
# MNIST comes from DATA_DIR when set (default: ../shared/mnist if present),
# else $GANBENCH_DATA_DIR, ./data/mnist, the user cache, or a download.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
DATA_DIR ?= $(firstword $(wildcard ../shared/mnist))
ARGS ?=
PYTEST_ARGS ?= -q

INSTALLED := $(VENV)/.installed-$(notdir $(REQUIREMENTS))
DATA_FLAG := $(if $(DATA_DIR),--data-dir $(DATA_DIR))

.PHONY: install benchmark smoke test clean-venv

install: $(INSTALLED)

$(INSTALLED): $(REQUIREMENTS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

benchmark: install
	$(VENV)/bin/python run_benchmark.py $(DATA_FLAG) $(ARGS)

smoke: install
	$(VENV)/bin/python run_benchmark.py --profile smoke $(DATA_FLAG) $(ARGS)

test: install
	$(if $(DATA_DIR),GANBENCH_DATA_DIR=$(DATA_DIR)) $(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

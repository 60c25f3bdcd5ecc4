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

.PHONY: install benchmark smoke test test-isa clean-venv

install: $(INSTALLED)

$(INSTALLED): $(REQUIREMENTS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

benchmark: install
	$(VENV)/bin/python run_benchmark.py $(DATA_FLAG) $(ARGS)

smoke: install
	$(VENV)/bin/python run_benchmark.py --profile smoke $(DATA_FLAG) $(ARGS)

# One pytest worker per core (pytest-xdist), each kept to its core, a test
# file to a worker (its module fixtures built once), the longest files first
# (tests/conftest.py): most tests wait on a framework's start-up or a small
# model's Python overhead, which the workers overlap.
TEST_WORKERS ?= auto

test: install
	$(if $(DATA_DIR),GANBENCH_DATA_DIR=$(DATA_DIR)) $(VENV)/bin/python -m pytest tests \
	  -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# tests/parity once per CPU kernel set, each in its own process: oneDNN (in
# torch and tf), ATen and MKL pick kernels from the CPU's instruction set when
# they start, and each set rounds differently. Uncapped, capped at AVX2, and on
# an AVX-512 CPU capped at AVX-512 without its newer extensions (AMX, BF16);
# fails if any fails. tests/parity only: it runs float32 and float64, while on
# a bfloat16-capable CPU TensorFlow's bf16 matmul crashes under a cap below AVX-512 (tests/isa.py).
ISA_SETS := native avx2 $(if $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes),avx512)
ISA_CAPS_native :=
ISA_CAPS_avx2 := ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2
ISA_CAPS_avx512 := ONEDNN_MAX_CPU_ISA=AVX512_CORE ATEN_CPU_CAPABILITY=avx512 MKL_ENABLE_INSTRUCTIONS=AVX512

test-isa: install
	@failed=; for isa in $(ISA_SETS); do \
	  case $$isa in native) caps="$(ISA_CAPS_native)";; avx2) caps="$(ISA_CAPS_avx2)";; \
	    avx512) caps="$(ISA_CAPS_avx512)";; esac; \
	  echo "== tests/parity, $$isa kernels $$caps"; \
	  env $$caps $(if $(DATA_DIR),GANBENCH_DATA_DIR=$(DATA_DIR)) $(VENV)/bin/python -m pytest tests/parity \
	    --ignore=tests/parity/test_kernel_sets.py $(PYTEST_ARGS) || failed="$$failed $$isa"; \
	done; \
	if [ -n "$$failed" ]; then echo "tests/parity failed with kernels:$$failed"; exit 1; fi

clean-venv:
	rm -rf $(VENV)

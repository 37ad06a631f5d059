# make test  : create .venv if missing, install grokinterp with its dev, ray, slurm, log, images and qm9 extras (and
#              Debian's chromium for the browser test and dataset-fashion-mnist), run the test suite on
#              TEST_WORKERS=2 processes (pytest-xdist)
# make demo  : create .venv if missing, install, train the mod-113 model through the end of cleanup (preset mod113-demo), write
#              its figure report (9.7 min on 2 idle AMD EPYC cores from a fresh clone; rerun to resume after an interruption)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install test demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# --retries 1: where PyTorch's CPU index (named in requirements-torch.txt) cannot be reached, pip's default
# 5 retries cost ~8 s per package (torch and each of its dependencies) before it goes on without it
$(VENV)/.installed: $(PY) pyproject.toml requirements-torch.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q --retries 1 -r requirements-torch.txt
	$(PY) -m pip install -q -e ".[dev,ray,slurm,log,images,qm9]"
	touch $@

# the browser test opens the report in Debian's Chromium: installed here (as root, with apt-get) when missing;
# elsewhere the test is skipped and says why
$(VENV)/.chromium: | $(PY)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	  echo "chromium is not installed (Debian: apt-get install chromium): the browser test will be skipped"
	touch $@

# Fashion-MNIST for the fashion-omnigrok preset: Debian's dataset-fashion-mnist package (30 MB, IDX files under
# /usr/share/datasets/fashion-mnist), installed here as root when missing; the tests never read it
$(VENV)/.datasets: | $(PY)
	@[ -d /usr/share/datasets/fashion-mnist ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; } || \
	  echo "Fashion-MNIST is not installed (Debian: apt-get install dataset-fashion-mnist): the fashion-omnigrok preset needs it"
	touch $@

install: $(VENV)/.installed $(VENV)/.chromium $(VENV)/.datasets

# the suite runs on TEST_WORKERS processes (pytest-xdist); TEST_WORKERS=0 runs it in this one
TEST_WORKERS ?= 2

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS)

demo: install
	$(PY) -m grokinterp.train mod113-demo
	$(PY) -m grokinterp info checkpoints/mod113-demo
	$(PY) -m grokinterp report checkpoints/mod113-demo

bench: install
	$(PY) -m grokinterp.bench train --all

lint: install
	$(PY) -m ruff check grokinterp tests

clean:
	rm -rf $(VENV) .pytest_cache

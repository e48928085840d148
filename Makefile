# Developer and CI entry points. CI runs `bash .ci/run`, which installs and then runs `make test`.

PYTHON ?= $(shell command -v python >/dev/null 2>&1 && echo python || echo python3)
# Only lint the source trees that exist (git does not keep empty directories).
LINT_PATHS := $(wildcard src tests bench)

.PHONY: check test demo

check:
	ruff check $(LINT_PATHS)
	mypy
	lint-imports

test:
	$(MAKE) check
	$(PYTHON) -m pytest -q -p no:cacheprovider

demo:
	rightsflow demo

# Developer and CI entry points. CI runs `bash .ci/run`, which installs and then runs `make test`.

PYTHON ?= $(shell command -v python >/dev/null 2>&1 && echo python || echo python3)
# Only lint the source trees that exist (git does not keep empty directories).
LINT_PATHS := $(wildcard src tests bench)

.PHONY: check test demo

check:
	ruff check $(LINT_PATHS)
	mypy
	lint-imports

# axe-core for the browser tests, from the lockfile, when it is not installed yet (without npm
# the accessibility checks skip locally; CI installs npm and fails instead).
AXE := tests/e2e/browser/node_modules/axe-core/axe.min.js

test: | $(AXE)
	$(MAKE) check
	$(PYTHON) -m pytest -q -p no:cacheprovider

demo:
	rightsflow demo

$(AXE):
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/e2e/browser --no-audit --no-fund; \
	else echo "npm not found: the browser tests' accessibility checks will skip"; fi

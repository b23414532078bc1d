# The one entry point: `make run` serves the demo, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL := postgres://postgres@127.0.0.1:5432/test
REDIS_TEST_URL := redis://127.0.0.1:6379/0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: embed-example run run-scaled test test-embedded test-scaled lint install install-dev system-deps messages clean

# LOG_MESSAGE_PREVIEW: the demo's e-mails and SMS go to the log with their links (never names or numbers).
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_demo
	HOST=$(HOST) PORT=$(PORT) LOG_MESSAGE_PREVIEW=$${LOG_MESSAGE_PREVIEW:-true} exec $(BIN)/python manage.py serve --banner --janus

# Scaled mode: PostgreSQL + Redis, several web workers, a separate job worker.
# Needs DATABASE_URL and REDIS_URL in the environment.
run-scaled: $(VENV)/.installed
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "set DATABASE_URL and REDIS_URL"; exit 2; }
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_demo
	LOG_MESSAGE_PREVIEW=$${LOG_MESSAGE_PREVIEW:-true} $(BIN)/python manage.py worker & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py serve --banner --janus --host $(HOST) --port $(PORT) --workers $${WEB_WORKERS:-2}

# Serves examples/embed.html on http://localhost:8080, an allowed embedding origin of the demo.
embed-example:
	$(PYTHON) -m http.server 8080 --bind 127.0.0.1 --directory examples

# Exactly the locked versions, each file checked against its hash (requirements*.txt are compiled
# from requirements*.in by pip-compile, see README "Development"). pip itself is not upgraded
# from the network here: an unpinned upgrade would be the one unchecked download.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

# The dev lock holds the run-time lock's versions too (compiled with -c requirements.txt).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's packages the tests drive for real: Chromium for the browser tests (never a browser
# download by Playwright), coturn as the TURN relay and Janus as the events' SFU.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium coturn:/usr/bin/turnserver nginx:/usr/sbin/nginx janus:/usr/bin/janus
system-deps:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
		[ -x "$${entry#*:}" ] || missing="$$missing $${entry%%:*}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# axe-core for the accessibility test, from the npm registry (pinned in tests/browser/package-lock.json);
# the test loads it from this folder into the pages, never from a CDN.
AXE_JS := tests/browser/node_modules/axe-core/axe.min.js
.PHONY: axe
axe:
	@test -f $(AXE_JS) || npm ci --prefix tests/browser --no-audit --no-fund

# mypy's Django plugin imports the settings, which need a secret key (a fresh clone has none yet);
# type checking uses no secret, so a placeholder is given instead of generating one.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=$${SECRET_KEY:-type-checking-only} $(BIN)/mypy

test-embedded: $(VENV)/.installed-dev system-deps axe
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest

# The scaled pass leaves out the tests marked mode_independent: what they prove cannot differ
# between the modes, and the embedded pass runs them (the rule: tests/conftest.py).
test-scaled: $(VENV)/.installed-dev system-deps axe
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -m "not mode_independent"

test: lint test-embedded test-scaled

LOCALES := -l de -l tr -l ar -l uk -l ru
# Translations: extract strings, then compile. Needs GNU gettext (apt-get install gettext);
# the compiled .mo files are committed so that running the product does not.
messages: $(VENV)/.installed
	cd buergerbuero && ../$(BIN)/python ../manage.py makemessages $(LOCALES) --no-location --ignore "static/*"
	cd buergerbuero && ../$(BIN)/python ../manage.py makemessages -d djangojs $(LOCALES) --no-location
	cd buergerbuero && ../$(BIN)/python ../manage.py compilemessages

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache

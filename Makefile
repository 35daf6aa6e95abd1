.PHONY: run test bench install lint fmt lock audit backup restore

# Install missing Debian packages and the locked Python dependencies.
install:
	scripts/bootstrap.sh

# Everything on http://127.0.0.1:8000 with demo users and data; Ctrl-C stops it.
run:
	scripts/run.sh

# Throwaway PostgreSQL and Redis, ruff, migration check and the whole suite.
test:
	scripts/test.sh

# Speed and memory of PDFs and exports against their targets (throwaway services).
bench:
	scripts/bench.sh

# A backup of the local database and documents (make run's data), into var/backups (or
# OUT=folder); see docs/operations.md for production.
backup:
	scripts/manage.sh backup $(if $(OUT),--out "$(OUT)")

# Restore a backup into an empty database, e.g. a new data folder:
#   TRIALSITE_DATA=/var/tmp/trialsite-restored make restore FILE=var/backups/trialsite-backup-....tar
restore:
	@test -n "$(FILE)" || { echo "usage: make restore FILE=path/to/trialsite-backup-....tar" >&2; exit 2; }
	MIGRATE=0 scripts/manage.sh restore "$(FILE)"

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# Re-pin requirements.lock from pyproject.toml (in a scratch venv), with hashes.
lock:
	scripts/lock.sh

# Known vulnerabilities in the locked dependencies (pip-audit). Needs the network for the
# advisory database, so it is not part of `make test`.
audit: install
	.venv/bin/pip-audit --strict --disable-pip --require-hashes -r requirements.lock

#!/bin/sh
# The repository scenario on Debian 13 (trixie), whose apt verifies with sqv.
exec /bin/sh /e2e/tests/repo.sh

#!/bin/sh
# The API container's start (Dockerfile): migrate as the database's owner (DATABASE_URL), which
# also gives the service's own role, geo_service_app, its password (SERVICE_DB_PASSWORD); load
# the sample and make the first accounts when the database has none (their passwords go to
# var/initial-credentials.txt only, not to the container's log); then serve as geo_service_app.
set -eu
: "${DATABASE_URL:?set DATABASE_URL, the database owner's URL}"
: "${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD, the password of the API's own database role}"
geo-service migrate
geo-service sample --seed 1 --out /tmp/sample >/dev/null
geo-service load /tmp/sample/fengqiao_small_seed1.gpkg --if-empty
geo-service accounts init --if-empty --no-print-passwords
exec geo-service serve --host 0.0.0.0 --port 8000

# The API image: the package, its SQL and web assets. The database is a separate PostGIS service.
FROM node:20-slim AS assets
WORKDIR /web_map
COPY web_map/package.json web_map/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY geo_service ./geo_service
COPY sql ./sql
COPY web_map ./web_map
COPY --from=assets /web_map/node_modules ./web_map/node_modules
COPY data/boundaries ./data/boundaries
# editable: the package finds sql/, web_map/ and data/ beside it, as in a checkout
RUN pip install --no-cache-dir -e .
COPY scripts/container_start.sh ./scripts/
EXPOSE 8000
# Migrate as the owner, load the sample and make the first accounts into an empty database, then
# serve as the service's own role (geo_service_app).
CMD ["sh", "scripts/container_start.sh"]

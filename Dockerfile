# spapi-auth as a container: `spapi-auth serve` on PostgreSQL (pg), run as the unprivileged `node`
# user, listening on 0.0.0.0:3000. Build and run:
#   docker build -t spapi-auth .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://… -e LWA_CLIENT_ID=… … spapi-auth
# Configuration is the service's environment (docs/deployment.md); secrets are best given as
# NAME_FILE=/run/secrets/… mounted by the orchestrator. SQLite is not in the image: better-sqlite3
# is a native addon, and a container's disk is the wrong place for the seller vault anyway.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts off: better-sqlite3 (a dev and optional dependency) is not compiled; tsc needs none.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json tsconfig.json ./
COPY scripts/build.mjs scripts/
COPY src src
COPY README.md LICENSE ./
COPY docs docs
COPY bench/REPORT.md bench/refresh-rate.svg bench/
# The package as npm would publish it, and the pg version the lockfile pins.
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mv /tmp/spapi-auth-*.tgz /tmp/spapi-auth.tgz \
 && node -p "require('./package-lock.json').packages['node_modules/pg'].version" > /tmp/pg-version

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build /tmp/spapi-auth.tgz /tmp/pg-version /tmp/
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-save \
      /tmp/spapi-auth.tgz "pg@$(cat /tmp/pg-version)" \
 && rm /tmp/spapi-auth.tgz /tmp/pg-version \
 && npm cache clean --force
USER node
EXPOSE 3000
# /healthz: the process is up (readiness, store included, is /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1: `docker stop` sends SIGTERM, which the service handles (drains, then exits 0).
ENTRYPOINT ["node", "/app/node_modules/spapi-auth/dist/cli/main.js"]
CMD ["serve"]

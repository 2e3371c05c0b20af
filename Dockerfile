# Custos service image. PostgreSQL runs separately (see docker-compose.yml);
# the embedded development database is not used when DATABASE_URL is set.
# The web console is built in a stage of its own (Vite and Preact are build tools only); the image gets its output.
FROM node:24-bookworm-slim AS console
WORKDIR /build
COPY package.json package-lock.json ./
# Build tools only: no install scripts (the postgres.js patch is for the service image below).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build-console.ts ./scripts/
COPY src/console ./src/console
RUN node scripts/build-console.ts

FROM node:24-bookworm-slim
ENV NODE_ENV=production CUSTOS_ENV=production HOST=0.0.0.0 PORT=8080 CUSTOS_DATA_DIR=/var/lib/custos
WORKDIR /app
COPY package.json package-lock.json ./
# Run by postinstall: the patch of postgres.js (scripts/patch-postgres.mjs, docs/operations.md "Faults").
COPY scripts/patch-postgres.mjs ./scripts/
# Node.js runs the TypeScript sources itself (type stripping); dev tools (vitest, eslint, typescript) stay out.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY policies ./policies
COPY --from=console /build/dist/console ./dist/console
RUN mkdir -p /var/lib/custos && chown node:node /var/lib/custos
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The serving heap settings on the command line, so they hold from the first allocation (src/heapSettings.ts).
CMD ["node", "--heap-growing-percent=100", "--no-memory-reducer", "src/main.ts"]

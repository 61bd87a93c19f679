# syntax=docker/dockerfile:1
# One image for every Outbound process; the command picks the process (see docker-compose.yml).
# It cannot be built on the machines this project is developed on (no Docker engine there):
# keep it correct by reading, and build it where Docker runs.

FROM node:26-slim AS build
RUN npm install --global pnpm@10
WORKDIR /app
# Dependencies first, so that a source change does not download them again.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile \
 && pnpm build \
 && CI=true pnpm install --offline --frozen-lockfile --prod

FROM node:26-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/pnpm-workspace.yaml ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/packages ./packages
COPY --from=build --chown=node:node /app/services ./services
RUN mkdir -p /var/outbound/outbox && chown -R node:node /var/outbound
USER node
ENV OUTBOX_DIR=/var/outbound/outbox
EXPOSE 3000
CMD ["node", "services/api/dist/main.js"]

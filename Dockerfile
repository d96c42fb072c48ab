# One image for every Mycelium process; the command picks the service:
#   docker run mycelium node apps/spores/dist/main.js
FROM node:20-bookworm-slim AS build
WORKDIR /mycelium
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY libs/eventstore/package.json libs/eventstore/
COPY libs/messaging/package.json libs/messaging/
COPY libs/telemetry/package.json libs/telemetry/
COPY libs/testing/package.json libs/testing/
COPY apps/spores/package.json apps/spores/
COPY apps/consensus/package.json apps/consensus/
COPY apps/storage/package.json apps/storage/
COPY apps/deployment/package.json apps/deployment/
COPY apps/billing/package.json apps/billing/
COPY apps/healing/package.json apps/healing/
COPY apps/cli/package.json apps/cli/
COPY examples/internal-service/package.json examples/internal-service/
COPY tests/package.json tests/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /mycelium
ENV NODE_ENV=production HOST=0.0.0.0
COPY --from=build /mycelium /mycelium
USER node
CMD ["node", "apps/cli/dist/main.js", "--help"]

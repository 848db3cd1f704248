# One image for every hookyard service; the command picks the service.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY services/ingress/package.json services/ingress/
COPY services/router/package.json services/router/
COPY services/deliverer/package.json services/deliverer/
COPY services/replayer/package.json services/replayer/
COPY services/console/package.json services/console/
RUN npm ci --omit=dev --no-audit --no-fund
COPY packages packages
COPY services services
COPY schemas schemas
COPY examples examples
USER node
EXPOSE 8080
CMD ["node", "services/ingress/src/main.ts"]

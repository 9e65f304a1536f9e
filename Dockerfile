# wxbot: the README's set-up steps in an image. Untested here (no Docker engine on the build
# machines); kept minimal on purpose.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund
ENV NODE_ENV=production PORT=3000
EXPOSE 3000
HEALTHCHECK CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node itself, in exec form: it gets SIGTERM and stops gracefully. Under `npm start` the signal
# stops npm's `sh -c`, and wxbot never hears of it (it is killed with the container).
CMD ["node", "packages/cli/bin/wxbot.mjs", "start"]

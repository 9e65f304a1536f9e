import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBot, type Bot } from '@wxbot/core';
import { keepServingOnEscapedErrors, whyNoDurableQueue, parseConcurrency, stopOnSignal } from './lifecycle.ts';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { parsePort } from './port.ts';
import { parseCommand, UsageError } from './usage.ts';

/**
 * `wxbot worker`: the bot's plugins and channels without an HTTP server, taking jobs from
 * the durable queues (messages whose window closed, KF messages, every active send). Run as
 * many as the work needs next to the `wxbot start` instances that receive the callbacks.
 * `--metrics-port` serves this process's metrics (its jobs' wait and run times, retries,
 * failures) and `/healthz`, which no other process can report.
 */
export async function worker(args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    config: { type: 'string', short: 'c' },
    concurrency: { type: 'string' },
    'metrics-port': { type: 'string' },
    host: { type: 'string' },
  });
  // Checked before the config loads: a wrong number is wrong usage whatever the config says.
  const concurrency = parseConcurrency(values.concurrency);
  const metricsPort = parseMetricsPort(values['metrics-port'], values.host);
  await loadDotEnv();
  const { config, filepath } = await loadConfig(values.config);
  if (metricsPort !== undefined && config.metrics === false) throw new UsageError('--metrics-port serves the metrics, and the config turns them off (metrics: false)');
  const bot = createBot({ ...config, workers: false });
  if (!bot.durable) {
    console.error(`wxbot worker: this bot has no durable queue, so there is nothing for workers to take: ${whyNoDurableQueue(bot)}`);
    await bot.stop();
    return 1;
  }
  keepServingOnEscapedErrors(bot.log);
  let server: Server | undefined;
  try {
    await bot.init();
    if (metricsPort !== undefined) server = await serveMetrics(bot, metricsPort, values.host, config.metrics ? config.metrics.path : undefined);
  } catch (error) {
    // A plugin whose setup threw (named in the error), a taken port: nothing runs, the store closes.
    await bot.stop().catch(() => {});
    throw error;
  }
  await bot.startWorkers({ concurrency });
  bot.log.info(
    { config: filepath, concurrency, delivery: bot.delivery, ...(server && { metrics: metricsUrl(server, config.metrics ? config.metrics.path : undefined) }) },
    'wxbot worker started',
  );
  stopOnSignal(bot, {
    stopping: 'stopping: workers finish their jobs',
    stopped: 'wxbot worker stopped',
    close: async () => {
      if (!server) return;
      const closed = new Promise((done) => server.close(done));
      server.closeAllConnections();
      await closed;
    },
  });
  return 0;
}

function parseMetricsPort(value: string | undefined, host: string | undefined): number | undefined {
  if (value === undefined) {
    if (host !== undefined) throw new UsageError('--host is where --metrics-port listens: give --metrics-port too');
    return undefined;
  }
  const port = parsePort(value);
  if (port === undefined) throw new UsageError(`--metrics-port must be a port number 0–65535 (got "${value}")`);
  return port;
}

/** GET `path` (default /metrics): the bot's registry, as `wxbot start` serves it; GET /healthz: 200. */
async function serveMetrics(bot: Bot, port: number, host: string | undefined, path = '/metrics'): Promise<Server> {
  const { registry } = bot.metrics;
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === path) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => {
          bot.log.error({ err: error }, 'metrics: collecting failed');
          res.writeHead(500).end();
        },
      );
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`--metrics-port ${port} is in use: choose another port`, { cause: error }));
      else if (error.code === 'EACCES') reject(new Error(`--metrics-port ${port} needs more privileges (ports below 1024 usually need root)`, { cause: error }));
      else reject(error);
    });
    server.listen(port, host, () => resolve());
  });
  return server;
}

function metricsUrl(server: Server, path = '/metrics'): string {
  const { address, family, port } = server.address() as AddressInfo;
  const host = address === '::' || address === '0.0.0.0' ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address;
  return `http://${host}:${port}${path}`;
}

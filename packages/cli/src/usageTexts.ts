/**
 * The usage texts of every command, kept apart from the commands so `--help` and wrong usage
 * answer without loading the framework.
 */

/** `wxbot help`. */
export const USAGE = `wxbot — WeChat / WeCom chatbot framework

Usage:
  wxbot start [--config FILE] [--port N] [--host H]   run the bot in bot.config.ts
  wxbot keygen                                         print a fresh Token and EncodingAESKey
  wxbot simulate [options] [TEXT…]                     send a message to a running bot as WeChat would
                                                       and print its answer (-i: one per stdin line;
                                                       --fake-api: also its active sends)
  wxbot check [--config FILE]                          verify a config without starting the server
  wxbot worker [--config FILE] [--concurrency N]       with Redis: queue workers only (no callbacks)
  wxbot queue [--config FILE] [list|depth|retry|drop]  failed jobs with their reasons; retry or drop
  wxbot help [COMMAND]                                 this text, or a command's (also: wxbot COMMAND --help)

Port (start and simulate): --port, else the PORT environment variable, else the config's port,
else 3000. A .env file in the working directory is loaded first.

Exit status: 0 ok, 1 failed (a config error, a taken port, a failed check), 2 wrong usage.`;

/** `wxbot start --help`. */
export const START_USAGE = `wxbot start — run the bot in bot.config.ts

Usage:
  wxbot start [--config FILE] [--port N] [--host H] [--concurrency N] [--verbose]

Options:
  -c, --config FILE  the config (default: bot.config.ts / .mts / .mjs / .js, wxbot.config.*, or the
                     "wxbot" key of package.json, in the working directory)
  -p, --port N       port to listen on (0: any free port)
      --host H       address to listen on (default: every interface)
      --concurrency N  with Redis (durable delivery): jobs this process runs at once per queue;
                     without Redis (or with workers: false) it is wrong usage (exit 2)
      --verbose      with a config that throws, print its stack
  -h, --help         this text

Port: --port, else the PORT environment variable, else the config's port, else 3000.
A .env file in the working directory is loaded first.

SIGTERM or SIGINT stops gracefully: callbacks in progress get 5 s, queue workers (with Redis)
finish their jobs (10 s at most), then "wxbot stopped"; a second signal exits at once.

Exit status: 1 when the bot cannot start (a config error, a taken port), 2 on wrong usage.`;

/** `wxbot keygen --help`. */
export const KEYGEN_USAGE = `wxbot keygen — print a fresh Token and EncodingAESKey

Usage:
  wxbot keygen

Paste them into the WeChat / WeCom console (服务器配置 / 接收消息) and into WX_TOKEN and WX_AES_KEY
(or WECOM_TOKEN and WECOM_AES_KEY).`;

/** `wxbot check --help`. */
export const CHECK_USAGE = `wxbot check — verify a config without starting the server

Usage:
  wxbot check [--config FILE] [--verbose]

Options:
  -c, --config FILE  the config (default: as \`wxbot start\` finds it)
      --verbose      with a config that throws, print its stack
  -h, --help         this text

Prints one line per check (✓ passed, ⚠ warning, ✗ failed): the config loads (every problem of the
environment and of the plugins' options, each on its line), channels and their keys, the store
(Redis answers PING), whether delivery is durable (its queues and their jobs per state, the
workers' concurrency), the programs plugins run (ffmpeg), each plugin's setup (run on an in-memory
store, serving and sending nothing). Secrets are never printed.

Exit status: 0 when nothing failed, 1 when a check failed, 2 on wrong usage.`;

/** `wxbot simulate --help`. */
export const SIMULATE_USAGE = `wxbot simulate — talk to a running wxbot server as WeChat would

Usage:
  wxbot simulate [options] [TEXT…]      send one message and print the answer
  wxbot simulate -i [options]           send each line of stdin as a text (/quit or EOF ends)

Target:
  --url URL            the server (default http://127.0.0.1:PORT, PORT as for \`wxbot start\`:
                       --port, else $PORT, else the config's port, else 3000);
                       a URL with a path is the whole callback URL
  -p, --port N         the server's port on 127.0.0.1 (without --url)
  --channel KIND|NAME  officialAccount (default), wecomApp, wecomKf or wecomAiBot; with a config,
                       a channel name
  --path PATH          callback path (default: the channel's, /wx, /wecom/callback, /wecom/kf,
                       /wecom/aibot)
Credentials (else the config's channel, else dev mode's .wxbot/dev.json):
  --config FILE        read them from this config (default: bot.config.ts as \`wxbot start\` finds it)
  --verbose            with a config that throws, print its stack
  --token T  --aes-key K  --receive-id ID (AppID or CorpID)  --agent-id N  --secret S
Message:
  --type TYPE          text (default), image, voice, event, location or link; TEXT is the text,
                       the image's media id, the voice's recognition, "EVENT [KEY]" (below),
                       "LAT,LNG [LABEL]", or a link's URL or title
Events (--type event; TEXT "EVENT [KEY]", the first named is the default):
  officialAccount      subscribe [qrscene_KEY], unsubscribe, SCAN KEY, CLICK KEY, VIEW URL
  wecomApp             enter_agent, click KEY, view URL
  wecomKf              enter_session [SCENE_PARAM] only (the customer opens the chat)
  wecomAiBot           enter_chat, template_card_event KEY [TASK_ID], feedback_event [ID]
  --from USER          sender (default user-1)
  --mode MODE          Official Account: plain, safe or compat (default safe with a key, else plain)
Late and active answers:
  --fake-api           run a fake WeChat API and print every active send it gets
                       ("→ active: …"). It listens where the config's channel sends when that is
                       on this machine (dev mode: http://127.0.0.1:4000, nothing to set); else on
                       a random port, and the bot must be started pointing at it:
                       WX_API_BASE=URL WECOM_API_BASE=URL wxbot start (a config built on
                       envConfig()), or apiBaseUrl: URL on a hand-written channel
  --fake-api-port N    listen on port N instead: start the bot with that URL once, then
                       simulate as often as you like
  --wait MS            how long to wait for late answers (default 6000)
  --open-kfid ID       KF account (default a fresh wk-simulate-… each run, so the bot's stored
                       sync cursor of an earlier fake API is never reused)

WeChat Customer Service (wecomKf) has no passive replies: its callback only tells the bot to
call kf/sync_msg. So it needs --fake-api: the message is queued there, the callback is sent,
and the answers show up as kf/send_msg calls.

WeCom AI bot (wecomAiBot, callback mode: --token and --aes-key, no receive id): a text answer is
a stream that WeCom polls; simulate polls it the same way and prints each snapshot as it grows
("… stream: …"), then the finished answer ("← stream (finished …)"). Types: text, voice (TEXT
is WeCom's transcript), image, event (above). With --fake-api each message carries a response_url on the fake, and
what the bot sends there prints as "→ active: …" (the rest of an answer over 20480 bytes).
  --chat ID            send as a message of group chat ID (default: a single chat)
  --poll-interval MS   how often to poll a stream (default 1000; WeCom's is undocumented)

Exit status: 0 when every message got a verified answer, 1 on an HTTP error (4xx/5xx), an
answer that does not verify or an unreachable server, 2 on wrong usage.`;

/** `wxbot worker --help`. */
export const WORKER_USAGE = `wxbot worker — with Redis: run queue workers only (no HTTP server)

Usage:
  wxbot worker [--config FILE] [--concurrency N] [--metrics-port N [--host H]]

Options:
  -c, --config FILE     the config (default: as \`wxbot start\` finds it)
      --concurrency N   jobs this process runs at once per queue (a positive whole number)
      --metrics-port N  serve this process's /metrics (its jobs' wait and run times, retries,
                        failures by reason; queue depth) and /healthz on port N
      --host H          address the metrics listen on (default: every interface)
  -h, --help            this text

Runs the bot's plugins on jobs from the durable queues (messages whose window closed, KF
messages, every active send), next to the \`wxbot start\` instances that receive callbacks.
SIGTERM or SIGINT: workers finish their jobs (10 s at most, then those jobs run again on
another worker), then "wxbot worker stopped"; a second signal exits at once.

Exit status: 1 when the bot has no durable queue (no REDIS_URL or RedisStore) or cannot start
(a taken metrics port), 2 on wrong usage.`;

/** `wxbot queue --help`. */
export const QUEUE_USAGE = `wxbot queue — the durable queues

Usage:
  wxbot queue [--config FILE] [list] [--limit N]  failed jobs with their reasons, newest first
  wxbot queue [--config FILE] depth               jobs per queue and state
  wxbot queue [--config FILE] retry QUEUE ID      run a failed job again
  wxbot queue [--config FILE] drop QUEUE ID       remove a failed job for good
  wxbot queue [--config FILE] retry --all [QUEUE] run every failed job (of QUEUE) again, e.g. after an outage
  wxbot queue [--config FILE] drop --all [QUEUE]  remove every failed job (of QUEUE)

retry and drop touch failed jobs only: a waiting, delayed, active or completed job is left as it is.
list prints the newest 100 (--limit N) and says how many there are in all.

Exit status: 1 when the bot has no durable queue (no REDIS_URL or RedisStore), Redis cannot be
reached, or the job is missing or not failed; 2 on wrong usage.`;

/**
 * The agent console: one self-contained page (inline CSS and JS, no framework, nothing
 * fetched from elsewhere) that speaks the WebSocket protocol of README.md. Everything a user
 * or agent typed is put in the page with `textContent`, never parsed as HTML.
 */

/** Security headers of the page; `nonce` allows its own inline script and style only. */
export function consoleHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "img-src 'self' data: blob:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    // The token may be in the URL (?token=): keep it out of Referer headers and caches.
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
  };
}

/** What the page is built with. */
export interface ConsolePageOptions {
  wsPath: string;
  /** Image previews (`GET <it>/<mediaId>`) and uploads (`POST <it>`). */
  mediaPath?: string;
  /** Largest image an agent may send, in bytes. */
  maxImageBytes?: number;
  nonce: string;
  /** Ready-made answers the agent can pick (e.g. the FAQ's); none: the picker is hidden. */
  cannedReplies?: readonly { readonly label: string; readonly text: string }[];
}

/** The page, with the WebSocket path, the canned replies and the CSP nonce filled in. */
export function consoleHtml(options: ConsolePageOptions): string {
  // JSON in a script: escape "<" so no value can close the script element.
  const config = JSON.stringify({
    wsPath: options.wsPath,
    mediaPath: options.mediaPath ?? '',
    maxImageKb: Math.floor((options.maxImageBytes ?? 2 * 1024 * 1024) / 1024),
    canned: options.cannedReplies ?? [],
  }).replace(/</g, '\\u003c');
  return PAGE.replaceAll('__NONCE__', options.nonce).replace('__CONFIG__', config);
}

const PAGE = /* html */ `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>客服工作台 · wxbot</title>
<style nonce="__NONCE__">
:root { --bg:#f4f5f7; --panel:#fff; --line:#e2e4e8; --text:#1d2129; --muted:#6b7280; --accent:#07c160; --accent-dark:#06a452; --warn:#f59e0b; --bot:#64748b; --sel:#e8f7ef; --bubble-in:#fff; --bubble-bot:#eef2f7; --bubble-agent:#d8f5e4; }
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: var(--text); background: var(--bg); }
button { font: inherit; cursor: pointer; border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 6px 12px; }
button:hover:not(:disabled) { border-color: #c9ccd2; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover:not(:disabled) { background: var(--accent-dark); }
.hidden { display: none !important; }
#app { display: grid; grid-template-columns: 320px 1fr; height: 100vh; }
#side { display: flex; flex-direction: column; border-right: 1px solid var(--line); background: var(--panel); min-height: 0; }
#side header { padding: 12px 14px; border-bottom: 1px solid var(--line); display: flex; align-items: center; gap: 8px; }
#side header h1 { font-size: 15px; margin: 0; flex: 1; }
#conn { font-size: 12px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
#conn::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #d1d5db; }
#conn.on::before { background: var(--accent); }
#conn.off::before { background: #ef4444; }
#list { list-style: none; margin: 0; padding: 0; overflow-y: auto; flex: 1; }
#list li { padding: 10px 14px; border-bottom: 1px solid var(--line); cursor: pointer; display: grid; grid-template-columns: 1fr auto; gap: 2px 8px; }
#list li:hover { background: #fafafa; }
#list li.selected { background: var(--sel); }
#list .who { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#list .preview { color: var(--muted); font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; grid-column: 1 / 3; }
#list .meta { display: flex; gap: 6px; align-items: center; justify-content: flex-end; }
.badge { background: #ef4444; color: #fff; border-radius: 10px; font-size: 12px; padding: 0 7px; min-width: 20px; text-align: center; }
.chip { font-size: 11px; border-radius: 4px; padding: 1px 6px; color: #fff; background: var(--bot); white-space: nowrap; }
.chip.waiting { background: var(--warn); }
.chip.agent { background: var(--accent); }
#empty-list { color: var(--muted); padding: 24px 14px; text-align: center; }
#main { display: flex; flex-direction: column; min-width: 0; min-height: 0; }
#main header { padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--panel); display: flex; align-items: center; gap: 10px; min-height: 53px; }
#title { flex: 1; min-width: 0; }
#title .name { font-weight: 600; }
#title .sub { color: var(--muted); font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#messages { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 70%; padding: 8px 12px; border-radius: 10px; background: var(--bubble-in); border: 1px solid var(--line); white-space: pre-wrap; word-break: break-word; align-self: flex-start; }
.msg.out { align-self: flex-end; background: var(--bubble-bot); border-color: transparent; }
.msg.agent { background: var(--bubble-agent); }
.msg .by { display: block; font-size: 11px; color: var(--muted); margin-bottom: 2px; }
.msg.media { font-style: italic; }
.msg img.thumb { display: block; max-width: 100%; max-height: 240px; border-radius: 6px; margin-top: 4px; cursor: zoom-in; background: #f3f4f6; }
#attach { padding: 6px 10px; }
#placeholder { margin: auto; color: var(--muted); }
#composer { border-top: 1px solid var(--line); background: var(--panel); padding: 10px 16px; display: flex; gap: 10px; align-items: flex-end; }
#composer textarea { flex: 1; resize: none; height: 64px; font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; }
#composer textarea:focus { outline: 2px solid var(--accent); outline-offset: -1px; border-color: transparent; }
#notice { color: #b91c1c; font-size: 12px; padding: 0 16px 6px; background: var(--panel); min-height: 0; }
#login { position: fixed; inset: 0; background: rgba(17,24,39,.55); display: flex; align-items: center; justify-content: center; }
#login form { background: #fff; padding: 24px; border-radius: 10px; width: 340px; display: flex; flex-direction: column; gap: 10px; box-shadow: 0 10px 30px rgba(0,0,0,.2); }
#login h2 { margin: 0 0 4px; font-size: 17px; }
#login input { font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; }
#login-error { color: #b91c1c; font-size: 13px; min-height: 18px; }
#tools { display: flex; gap: 6px; align-items: center; padding: 6px 14px; border-bottom: 1px solid var(--line); font-size: 12px; color: var(--muted); }
#tools select, #tools button { font-size: 12px; padding: 2px 6px; }
#tools .spacer { flex: 1; }
#retry { position: fixed; top: 0; left: 0; right: 0; z-index: 5; display: flex; gap: 6px; align-items: center; padding: 6px 14px; background: #fef3c7; color: #92400e; font-size: 12px; border-bottom: 1px solid var(--line); }
#retry button { font-size: 12px; padding: 2px 8px; }
#retry .spacer { flex: 1; }
#list li:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
#lost { display: flex; gap: 8px; align-items: center; padding: 8px 14px; background: #fee2e2; color: #991b1b; font-size: 12px; border-bottom: 1px solid var(--line); }
#lost span { flex: 1; }
#lost button { font-size: 12px; padding: 2px 8px; }
#keys { color: var(--muted); font-size: 11px; padding: 6px 14px; border-top: 1px solid var(--line); }
#canned { max-width: 160px; font: inherit; font-size: 13px; padding: 6px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
#back { display: none; }
@media (max-width: 640px) {
  #app { grid-template-columns: 1fr; }
  #app.chatting #side { display: none; }
  #app:not(.chatting) #main { display: none; }
  #back { display: inline-block; padding: 6px 8px; }
  #main header { flex-wrap: wrap; gap: 6px; padding: 8px 10px; }
  #main header button { padding: 5px 8px; }
  #title { flex-basis: calc(100% - 60px); }
  .msg { max-width: 88%; }
  #composer { padding: 8px 10px; gap: 6px; flex-wrap: wrap; }
  #composer textarea { flex-basis: 100%; height: 56px; }
  #canned { flex: 1; max-width: none; }
  #keys { display: none; }
}
</style>
</head>
<body>
<div id="retry" class="hidden" role="status"><span id="retry-text"></span><span class="spacer"></span><button id="retry-now" type="button" data-i18n="retryNow"></button></div>
<div id="app">
  <aside id="side">
    <header><h1 data-i18n="conversations"></h1><span id="conn"></span></header>
    <div id="tools">
      <select id="lang" aria-label="Language / 语言"><option value="zh-CN">中文</option><option value="en">English</option></select>
      <span class="spacer"></span>
      <button id="notify" type="button" aria-pressed="false"></button>
    </div>
    <div id="lost" class="hidden" role="alert"><span id="lost-text"></span><button id="lost-ok" type="button" data-i18n="dismiss"></button></div>
    <ul id="list" role="listbox" data-i18n-label="conversations"></ul>
    <div id="empty-list" data-i18n="noConversations"></div>
    <div id="keys" data-i18n="keys"></div>
  </aside>
  <main id="main">
    <header>
      <button id="back" type="button" data-i18n-label="back">←</button>
      <div id="title"><div class="name"></div><div class="sub"></div></div>
      <button id="takeover" disabled data-i18n="takeover" data-i18n-title="takeoverKey"></button>
      <button id="release" disabled data-i18n="release" data-i18n-title="releaseKey"></button>
      <button id="close" disabled data-i18n="close" data-i18n-title="closeKey"></button>
    </header>
    <div id="messages"></div>
    <div id="notice" role="status"></div>
    <form id="composer">
      <textarea id="reply" data-i18n-placeholder="replyPlaceholder" disabled></textarea>
      <select id="canned" class="hidden" disabled data-i18n-label="canned"></select>
      <input id="image-file" type="file" accept="image/jpeg,image/png" class="hidden">
      <button id="attach" type="button" disabled data-i18n="image" data-i18n-title="sendImage"></button>
      <button id="send" class="primary" type="submit" disabled data-i18n="send"></button>
    </form>
  </main>
</div>
<div id="login" class="hidden">
  <form id="login-form">
    <h2 data-i18n="signIn"></h2>
    <input id="token" type="password" autocomplete="current-password" data-i18n-placeholder="token" data-i18n-label="token" required>
    <div id="login-error"></div>
    <button class="primary" type="submit" data-i18n="connect"></button>
  </form>
</div>
<script nonce="__NONCE__">
(() => {
  'use strict';
  const CONFIG = __CONFIG__;
  const $ = (id) => document.getElementById(id);
  const KEY = 'wxbot.agentToken';
  const LANG_KEY = 'wxbot.consoleLang';
  const NOTIFY_KEY = 'wxbot.consoleNotify';

  // Every text of the page, in Chinese (the default) and English.
  const TEXTS = {
    'zh-CN': {
      title: '客服工作台', conversations: '会话', noConversations: '暂无会话', back: '返回会话列表',
      pick: '请在左侧选择一个会话', selectConversation: '未选择会话',
      takeover: '接管', release: '交还机器人', close: '结束', takeoverKey: '接管 (Alt+T)', releaseKey: '交还机器人 (Alt+R)', closeKey: '交还并从列表移除 (Alt+C)',
      replyPlaceholder: '输入回复，Enter 发送，Shift+Enter 换行', send: '发送', canned: '快捷回复', cannedPick: '快捷回复…',
      signIn: '客服登录', token: '客服令牌', connect: '连接', badToken: '无法连接：请检查令牌。',
      offline: '离线', connecting: '连接中…', retryIn: '连接已断开，{s} 秒后重试', retryNow: '立即重试',
      you: '你', waiting: '等待接入', bot: '机器人', customer: '客户',
      heldBy: '{who} 正在处理', waitingAgent: '等待客服接入', byBot: '机器人应答中', reason: '原因：{r}',
      notifyOff: '开启新会话提醒', notifyOn: '新会话提醒：已开', notifyDenied: '浏览器已拒绝通知',
      newWaiting: '新会话等待接入', notConnected: '未连接', connectionLost: '连接已断开',
      keys: '↑/↓ 切换会话 · Alt+↑/↓ 在输入框中切换 · Alt+T 接管 · Alt+R 交还 · Alt+C 结束 · / 回复',
      lost: '服务器已重启，会话未保存：{n} 个会话已丢失，客户再发消息时将由机器人应答。', dismiss: '知道了',
      types: { image: '图片', voice: '语音', video: '视频', shortvideo: '小视频', file: '文件', location: '位置', link: '链接', miniprogram: '小程序', business_card: '名片', music: '音乐', news: '图文', markdown: 'Markdown', templateCard: '卡片', stream: '流式回答', other: '其他消息' },
      image: '图片', sendImage: '发送图片（JPG/PNG，也可粘贴）', imageLoading: '图片加载中…', imageFailed: '图片无法显示', uploading: '正在上传图片…', imageTooBig: '图片不能超过 {kb} KB', imageType: '只能发送 JPG 或 PNG 图片',
    },
    en: {
      title: 'Agent console', conversations: 'Conversations', noConversations: 'No open conversations', back: 'Back to the list',
      pick: 'Pick a conversation on the left.', selectConversation: 'Select a conversation',
      takeover: 'Take over', release: 'Release to bot', close: 'Close', takeoverKey: 'Take over (Alt+T)', releaseKey: 'Release to bot (Alt+R)', closeKey: 'Release and remove from the list (Alt+C)',
      replyPlaceholder: 'Type a reply — Enter sends, Shift+Enter for a new line', send: 'Send', canned: 'Canned replies', cannedPick: 'Canned reply…',
      signIn: 'Agent sign-in', token: 'Agent token', connect: 'Connect', badToken: 'Could not connect: check the token.',
      offline: 'offline', connecting: 'connecting…', retryIn: 'Disconnected: retrying in {s} s', retryNow: 'Retry now',
      you: 'you', waiting: 'waiting', bot: 'bot', customer: 'customer',
      heldBy: 'held by {who}', waitingAgent: 'waiting for an agent', byBot: 'answered by the bot', reason: 'reason: {r}',
      notifyOff: 'Notify me', notifyOn: 'Notifications: on', notifyDenied: 'The browser blocks notifications',
      newWaiting: 'A conversation is waiting', notConnected: 'not connected', connectionLost: 'connection lost',
      keys: '↑/↓ move · Alt+↑/↓ from the reply box · Alt+T take over · Alt+R release · Alt+C close · / reply',
      lost: 'The server restarted without saving conversations: {n} conversation(s) were lost; the bot answers those customers again.', dismiss: 'OK',
      image: 'Image', sendImage: 'Send an image (JPG/PNG, or paste one)', imageLoading: 'loading image…', imageFailed: 'image unavailable', uploading: 'uploading the image…', imageTooBig: 'images up to {kb} KB', imageType: 'send a JPG or PNG image',
    },
  };
  let lang = TEXTS[localStorage.getItem(LANG_KEY)] ? localStorage.getItem(LANG_KEY) : 'zh-CN';
  const t = (key, vars) => (TEXTS[lang][key] || key).replace(/\\{(\\w+)\\}/g, (_, name) => (vars && vars[name] !== undefined ? vars[name] : ''));

  const conversations = new Map();
  const histories = new Map();
  const pending = new Map();
  let serverInstance = '', lostCount = 0;
  function renderLost() {
    $('lost').classList.toggle('hidden', lostCount === 0);
    $('lost-text').textContent = lostCount ? t('lost', { n: lostCount }) : '';
  }
  let ws, me = '', selected = null, nextId = 1, everGreeted = false, retry = 0, retryTimer, countdownTimer, refreshTimer, retryAt = 0;
  // While the pointer is over the list its order is frozen, so nothing moves under it.
  let pointerInList = false, shownOrder = [];

  // A token in the URL is taken once and removed, so it is not left in history or screenshots.
  const params = new URLSearchParams(location.search);
  if (params.has('token')) {
    sessionStorage.setItem(KEY, params.get('token'));
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const time = (ms) => new Date(ms).toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit', hour12: false });
  const statusLabel = (c) => c.status === 'agent' ? (c.agent === me ? t('you') : c.agent) : c.status === 'waiting' ? t('waiting') : t('bot');
  const shortUser = (u) => u.length > 18 ? u.slice(0, 8) + '…' + u.slice(-6) : u;
  const nameOf = (c) => c.displayName || shortUser(c.user);
  // Message types in the page's language; the server's previews of media read "[image]".
  const typeLabel = (type) => (TEXTS[lang].types && TEXTS[lang].types[type]) || type;
  const previewText = (p) => { const m = /^\\[([a-z_]+)\\]$/.exec(p || ''); return m ? '[' + typeLabel(m[1]) + ']' : p || ''; };

  /** Puts the chosen language's texts into every marked element. */
  function applyLanguage() {
    document.documentElement.lang = lang;
    $('lang').value = lang;
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll('[data-i18n-label]')) node.setAttribute('aria-label', t(node.dataset.i18nLabel));
    for (const node of document.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
    renderCanned();
    renderLost();
    renderNotifyButton();
    renderConn();
    renderList();
    renderConversation();
  }

  let connState = 'offline';
  function setConn(state) { connState = state; renderConn(); }
  function renderConn() {
    const c = $('conn');
    c.textContent = connState === 'on' ? me : t(connState);
    c.className = connState === 'on' ? 'on' : connState === 'offline' ? 'off' : '';
  }
  function notice(text) { $('notice').textContent = text || ''; }

  function showLogin(error) {
    $('login').classList.remove('hidden');
    $('login-error').textContent = error || '';
    $('token').focus();
  }

  function connect() {
    const token = sessionStorage.getItem(KEY);
    if (!token) { showLogin(); return; }
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    $('retry').classList.add('hidden');
    setConn('connecting');
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const socket = new WebSocket(scheme + location.host + CONFIG.wsPath + '?token=' + encodeURIComponent(token));
    ws = socket;
    let greeted = false;
    socket.onmessage = (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch { return; }
      if (event.type === 'hello') { greeted = true; everGreeted = true; retry = 0; }
      handle(event);
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      for (const p of pending.values()) p.reject(new Error(t('connectionLost')));
      pending.clear();
      setConn('offline');
      updateControls();
      if (!greeted && !everGreeted) {
        // The browser hides the 401: a socket refused before hello means a bad token (or a down server).
        sessionStorage.removeItem(KEY);
        showLogin(t('badToken'));
        return;
      }
      retry = Math.min(retry + 1, 6);
      scheduleRetry(500 * 2 ** retry);
    };
  }

  /** Waits ms before reconnecting, counting down in the page; "retry now" skips the wait. */
  function scheduleRetry(ms) {
    retryAt = Date.now() + ms;
    const tick = () => { $('retry-text').textContent = t('retryIn', { s: Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)) }); };
    tick();
    $('retry').classList.remove('hidden');
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tick, 250);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, ms);
  }

  function command(type, fields) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error(t('notConnected'))); return; }
      const id = String(nextId++);
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify(Object.assign({ type, id }, fields)));
    });
  }

  function handle(event) {
    switch (event.type) {
      case 'hello': {
        // Another server process that keeps nothing: what this page showed is gone. Say so.
        if (serverInstance && event.instance !== serverInstance && event.persistent === false) {
          const lost = [...conversations.keys()].filter((id) => !event.conversations.some((c) => c.id === id)).length;
          if (lost > 0) { lostCount = lost; renderLost(); }
        }
        serverInstance = event.instance;
        me = event.agent.name;
        setConn('on');
        $('login').classList.add('hidden');
        conversations.clear();
        for (const c of event.conversations) conversations.set(c.id, c);
        histories.clear();
        if (selected && !conversations.has(selected)) selected = null;
        renderList();
        // Controls come back at once (they were disabled while offline), with the history after.
        renderConversation();
        if (selected) loadHistory(selected);
        break;
      }
      case 'conversation.opened':
      case 'conversation.updated': {
        const known = conversations.has(event.conversation.id);
        conversations.set(event.conversation.id, event.conversation);
        if (!known && event.conversation.status === 'waiting') notifyWaiting(event.conversation);
        renderList();
        if (event.conversation.id === selected) renderHeader();
        break;
      }
      case 'conversation.closed':
        conversations.delete(event.conversationId);
        histories.delete(event.conversationId);
        if (selected === event.conversationId) { selected = null; renderConversation(); }
        renderList();
        break;
      case 'message.in':
      case 'message.out': {
        const c = conversations.get(event.conversationId);
        if (c) {
          c.preview = event.message.text || event.message.summary || '[' + event.message.type + ']';
          c.lastMessageAt = Math.max(c.lastMessageAt || 0, event.lastMessageAt || event.message.at);
          if (event.type === 'message.in') c.unread = event.unread;
        }
        const list = histories.get(event.conversationId);
        if (list && !list.some((m) => m.id === event.message.id)) list.push(event.message);
        if (event.conversationId === selected) {
          renderMessages();
          // The agent is looking at it: mark it read (a history request does).
          if (event.type === 'message.in') { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => loadHistory(selected), 250); }
        }
        renderList();
        break;
      }
      case 'ack':
      case 'history':
      case 'error': {
        const p = event.id !== undefined && pending.get(String(event.id));
        if (p) { pending.delete(String(event.id)); event.type === 'error' ? p.reject(new Error(event.message)) : p.resolve(event); }
        else if (event.type === 'error') notice(event.message);
        break;
      }
    }
  }

  /** Conversations in list order: newest first, or as shown while the pointer is over the list. */
  function ordered() {
    const sorted = [...conversations.values()].sort((a, b) => b.lastMessageAt - a.lastMessageAt);
    if (!pointerInList) return sorted;
    const kept = shownOrder.filter((id) => conversations.has(id)).map((id) => conversations.get(id));
    return kept.concat(sorted.filter((c) => !shownOrder.includes(c.id)));
  }

  function renderList() {
    const list = $('list');
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren();
    const items = ordered();
    shownOrder = items.map((c) => c.id);
    let unread = 0;
    for (const c of items) {
      unread += c.unread || 0;
      const li = el('li', c.id === selected ? 'selected' : '');
      li.dataset.id = c.id;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(c.id === selected));
      li.tabIndex = c.id === selected || (!selected && c === items[0]) ? 0 : -1;
      li.append(el('span', 'who', nameOf(c)));
      const meta = el('span', 'meta');
      if (c.unread > 0) meta.append(el('span', 'badge', String(c.unread)));
      meta.append(el('span', 'chip ' + c.status, statusLabel(c)));
      li.append(meta, el('span', 'preview', previewText(c.preview)));
      li.title = c.channel + ' · ' + c.user;
      li.addEventListener('click', () => select(c.id));
      list.append(li);
    }
    $('empty-list').classList.toggle('hidden', items.length > 0);
    // Unread messages in the tab's title, so a background tab says there is something to do.
    document.title = (unread > 0 ? '(' + unread + ') ' : '') + t('title') + ' · wxbot';
    if (hadFocus) focusSelectedItem();
  }

  function focusSelectedItem() {
    const item = $('list').querySelector('li[tabindex="0"]');
    if (item) item.focus();
  }

  function select(id, options) {
    selected = id;
    notice('');
    $('app').classList.toggle('chatting', Boolean(id));
    renderList();
    renderConversation();
    if (!id) return;
    loadHistory(id);
    if (!options || !options.keepFocus) $('reply').focus();
  }

  /** Selects the conversation step places away in the list (keyboard navigation). */
  function move(step, keepFocus) {
    const ids = shownOrder;
    if (ids.length === 0) return;
    const at = ids.indexOf(selected);
    const next = at === -1 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
    select(ids[next], { keepFocus: true });
    if (!keepFocus) focusSelectedItem();
  }

  function loadHistory(id) {
    command('history', { conversationId: id, limit: 200 }).then((result) => {
      histories.set(id, result.messages);
      if (id === selected) renderMessages();
    }, (error) => notice(error.message));
  }

  function renderConversation() { renderHeader(); renderMessages(); }

  function renderHeader() {
    const c = selected && conversations.get(selected);
    const name = $('title').querySelector('.name');
    const sub = $('title').querySelector('.sub');
    if (!c) { name.textContent = t('selectConversation'); sub.textContent = ''; }
    else {
      name.textContent = c.displayName ? c.displayName + ' (' + shortUser(c.user) + ')' : c.user;
      const holder = c.status === 'agent' ? t('heldBy', { who: c.agent === me ? t('you') : c.agent }) : c.status === 'waiting' ? t('waitingAgent') : t('byBot');
      sub.textContent = [c.channel, c.openKfId, holder, c.reason && t('reason', { r: c.reason })].filter(Boolean).join(' · ');
    }
    updateControls();
  }

  function updateControls() {
    const c = selected && conversations.get(selected);
    const online = ws && ws.readyState === WebSocket.OPEN;
    $('takeover').disabled = !online || !c || (c.status === 'agent' && c.agent === me);
    $('release').disabled = !online || !c || c.status === 'bot';
    $('close').disabled = !online || !c;
    $('reply').disabled = !online || !c;
    $('send').disabled = !online || !c;
    $('canned').disabled = !online || !c;
    $('attach').disabled = !online || !c || !CONFIG.mediaPath;
    $('attach').classList.toggle('hidden', !CONFIG.mediaPath);
  }

  function renderMessages() {
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.replaceChildren();
    const list = selected && histories.get(selected);
    if (!selected) { const p = el('div', '', t('pick')); p.id = 'placeholder'; box.append(p); return; }
    if (!list) return;
    for (const m of list) {
      const bubble = el('div', 'msg ' + m.direction + (m.from === 'agent' ? ' agent' : '') + (m.text === undefined ? ' media' : ''));
      const by = m.from === 'user' ? t('customer') : m.from === 'agent' ? (m.agent === me ? t('you') : m.agent) : t('bot');
      bubble.append(el('span', 'by', by + ' · ' + time(m.at)));
      if (m.type === 'image' && m.mediaId && CONFIG.mediaPath) bubble.append(imagePreview(selected, m.mediaId));
      else bubble.append(document.createTextNode(m.text !== undefined ? m.text : '[' + typeLabel(m.type) + (m.summary ? ': ' + m.summary : '') + ']'));
      box.append(bubble);
    }
    if (atBottom || list.length < 30) box.scrollTop = box.scrollHeight;
  }

  // Images: fetched with the token in a header (never in a URL), shown from blob: URLs, kept per media id.
  const images = new Map();
  function imagePreview(conversationId, mediaId) {
    const holder = el('span', 'image', t('imageLoading'));
    let url = images.get(mediaId);
    if (!url) {
      url = fetch(CONFIG.mediaPath + '/' + encodeURIComponent(mediaId) + '?conversation=' + encodeURIComponent(conversationId), { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) } })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
        .then((blob) => URL.createObjectURL(blob));
      images.set(mediaId, url);
      url.catch(() => images.delete(mediaId));
    }
    url.then((src) => {
      const img = el('img', 'thumb');
      img.alt = t('image');
      img.src = src;
      img.addEventListener('click', () => window.open(src, '_blank', 'noopener'));
      holder.replaceChildren(img);
    }, () => { holder.textContent = '[' + t('imageFailed') + ']'; });
    return holder;
  }

  async function sendImage(file) {
    const id = selected;
    if (!id || !file) return;
    notice(t('uploading'));
    $('attach').disabled = true;
    try {
      const response = await fetch(CONFIG.mediaPath + '?conversation=' + encodeURIComponent(id), {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY), 'Content-Type': file.type || 'application/octet-stream' },
        body: file,
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 413) throw new Error(t('imageTooBig', { kb: CONFIG.maxImageKb }));
      if (response.status === 415) throw new Error(t('imageType'));
      if (!response.ok) throw new Error(answer.error || String(response.status));
      await command('reply', { conversationId: id, image: { mediaId: answer.mediaId } });
      notice('');
    } catch (error) {
      notice(error.message);
    } finally {
      updateControls();
    }
  }
  $('attach').addEventListener('click', () => $('image-file').click());
  $('image-file').addEventListener('change', () => {
    const file = $('image-file').files[0];
    $('image-file').value = '';
    if (file && file.size > CONFIG.maxImageKb * 1024) { notice(t('imageTooBig', { kb: CONFIG.maxImageKb })); return; }
    sendImage(file);
  });
  // A screenshot pasted into the reply box is sent as an image.
  $('reply').addEventListener('paste', (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.kind === 'file' && /^image\\/(png|jpeg)$/.test(i.type));
    if (!item) return;
    e.preventDefault();
    sendImage(item.getAsFile());
  });

  function renderCanned() {
    const picker = $('canned');
    const replies = CONFIG.canned || [];
    picker.classList.toggle('hidden', replies.length === 0);
    picker.replaceChildren(el('option', '', t('cannedPick')));
    picker.firstChild.value = '';
    replies.forEach((r, i) => { const o = el('option', '', r.label); o.value = String(i); picker.append(o); });
  }
  $('canned').addEventListener('change', () => {
    const r = (CONFIG.canned || [])[Number($('canned').value)];
    $('canned').value = '';
    if (!r) return;
    // Into the box, not sent: the agent may adapt it first.
    $('reply').value = r.text;
    $('reply').focus();
  });

  // New waiting conversations as browser notifications: opt-in, asked for with a click.
  const canNotify = typeof Notification !== 'undefined';
  function notifyEnabled() { return canNotify && Notification.permission === 'granted' && localStorage.getItem(NOTIFY_KEY) === '1'; }
  function renderNotifyButton() {
    const button = $('notify');
    button.classList.toggle('hidden', !canNotify);
    const on = notifyEnabled();
    button.textContent = canNotify && Notification.permission === 'denied' ? t('notifyDenied') : on ? t('notifyOn') : t('notifyOff');
    button.setAttribute('aria-pressed', String(on));
  }
  $('notify').addEventListener('click', async () => {
    if (notifyEnabled()) localStorage.setItem(NOTIFY_KEY, '0');
    else {
      const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
      localStorage.setItem(NOTIFY_KEY, permission === 'granted' ? '1' : '0');
    }
    renderNotifyButton();
  });
  function notifyWaiting(c) {
    if (!notifyEnabled()) return;
    const n = new Notification(t('newWaiting'), { body: nameOf(c) + (c.preview ? ': ' + c.preview : ''), tag: 'wxbot-' + c.id });
    n.onclick = () => { window.focus(); select(c.id); n.close(); };
  }

  function act(type) {
    if (!selected) return;
    notice('');
    command(type, { conversationId: selected }).catch((error) => notice(error.message));
  }
  $('takeover').addEventListener('click', () => act('takeover'));
  $('release').addEventListener('click', () => act('release'));
  $('close').addEventListener('click', () => act('close'));
  $('back').addEventListener('click', () => select(null));
  $('lost-ok').addEventListener('click', () => { lostCount = 0; renderLost(); });
  $('retry-now').addEventListener('click', () => connect());
  $('lang').addEventListener('change', () => { lang = $('lang').value; localStorage.setItem(LANG_KEY, lang); applyLanguage(); });
  $('list').addEventListener('pointerenter', () => { pointerInList = true; });
  $('list').addEventListener('pointerleave', () => { pointerInList = false; renderList(); });

  // Keyboard: the list moves with ↑/↓ (j/k), Alt+↑/↓ from anywhere; Alt+T/R/C act on the selection.
  document.addEventListener('keydown', (e) => {
    if (!$('login').classList.contains('hidden') || e.isComposing) return;
    const typing = e.target instanceof HTMLElement && (e.target.tagName === 'TEXTAREA' || e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT');
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      const actions = { KeyT: 'takeover', KeyR: 'release', KeyC: 'close' };
      if (actions[e.code]) { e.preventDefault(); if (!$(actions[e.code]).disabled) act(actions[e.code]); return; }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); move(e.key === 'ArrowDown' ? 1 : -1, typing); return; }
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'ArrowDown' || e.key === 'j') { e.preventDefault(); move(1); }
    else if (e.key === 'ArrowUp' || e.key === 'k') { e.preventDefault(); move(-1); }
    else if (e.key === 'Enter' || e.key === '/') { if (selected && !$('reply').disabled) { e.preventDefault(); $('reply').focus(); } }
    else if (e.key === 'Escape') { focusSelectedItem(); }
  });
  $('reply').addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); focusSelectedItem(); } });

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const box = $('reply');
    const text = box.value.trim();
    if (!text || !selected) return;
    notice('');
    $('send').disabled = true;
    command('reply', { conversationId: selected, text }).then(() => { box.value = ''; }, (error) => notice(error.message)).finally(updateControls);
  });
  $('reply').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('composer').requestSubmit(); }
  });
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    if (!token) return;
    sessionStorage.setItem(KEY, token);
    $('token').value = '';
    $('login-error').textContent = '';
    everGreeted = false;
    connect();
  });

  applyLanguage();
  connect();
})();
</script>
</body>
</html>
`;

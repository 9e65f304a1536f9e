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
      "img-src 'self' data:",
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

/** The page, with the WebSocket path and the CSP nonce filled in. */
export function consoleHtml(options: { wsPath: string; nonce: string }): string {
  // JSON in a script: escape "<" so no value can close the script element.
  const config = JSON.stringify({ wsPath: options.wsPath }).replace(/</g, '\\u003c');
  return PAGE.replaceAll('__NONCE__', options.nonce).replace('__CONFIG__', config);
}

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Agent console · wxbot</title>
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
</style>
</head>
<body>
<div id="app">
  <aside id="side">
    <header><h1>Conversations</h1><span id="conn">offline</span></header>
    <ul id="list" aria-label="Open conversations"></ul>
    <div id="empty-list">No open conversations</div>
  </aside>
  <main id="main">
    <header>
      <div id="title"><div class="name">Select a conversation</div><div class="sub"></div></div>
      <button id="takeover" disabled>Take over</button>
      <button id="release" disabled>Release to bot</button>
      <button id="close" disabled title="Release and remove from the list">Close</button>
    </header>
    <div id="messages"><div id="placeholder">Pick a conversation on the left.</div></div>
    <div id="notice" role="status"></div>
    <form id="composer">
      <textarea id="reply" placeholder="Type a reply — Enter sends, Shift+Enter for a new line" disabled></textarea>
      <button id="send" class="primary" type="submit" disabled>Send</button>
    </form>
  </main>
</div>
<div id="login" class="hidden">
  <form id="login-form">
    <h2>Agent sign-in</h2>
    <input id="token" type="password" autocomplete="current-password" placeholder="Agent token" aria-label="Agent token" required>
    <div id="login-error"></div>
    <button class="primary" type="submit">Connect</button>
  </form>
</div>
<script nonce="__NONCE__">
(() => {
  'use strict';
  const CONFIG = __CONFIG__;
  const $ = (id) => document.getElementById(id);
  const KEY = 'wxbot.agentToken';
  const conversations = new Map();
  const histories = new Map();
  const pending = new Map();
  let ws, me = '', selected = null, nextId = 1, everGreeted = false, retry = 0, retryTimer, refreshTimer;

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
  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  const statusLabel = (c) => c.status === 'agent' ? (c.agent === me ? 'you' : c.agent) : c.status === 'waiting' ? 'waiting' : 'bot';
  const shortUser = (u) => u.length > 18 ? u.slice(0, 8) + '…' + u.slice(-6) : u;

  function setConn(text, cls) { const c = $('conn'); c.textContent = text; c.className = cls || ''; }
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
    setConn('connecting…');
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
      for (const p of pending.values()) p.reject(new Error('connection lost'));
      pending.clear();
      setConn('offline', 'off');
      updateControls();
      if (!greeted && !everGreeted) {
        // The browser hides the 401: a socket refused before hello means a bad token (or a down server).
        sessionStorage.removeItem(KEY);
        showLogin('Could not connect: check the token.');
        return;
      }
      retry = Math.min(retry + 1, 6);
      retryTimer = setTimeout(connect, 500 * 2 ** retry);
    };
  }

  function command(type, fields) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error('not connected')); return; }
      const id = String(nextId++);
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify(Object.assign({ type, id }, fields)));
    });
  }

  function handle(event) {
    switch (event.type) {
      case 'hello':
        me = event.agent.name;
        setConn(me, 'on');
        $('login').classList.add('hidden');
        conversations.clear();
        for (const c of event.conversations) conversations.set(c.id, c);
        histories.clear();
        if (selected && !conversations.has(selected)) selected = null;
        renderList();
        if (selected) loadHistory(selected); else renderConversation();
        break;
      case 'conversation.opened':
      case 'conversation.updated':
        conversations.set(event.conversation.id, event.conversation);
        renderList();
        if (event.conversation.id === selected) renderHeader();
        break;
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
          c.lastMessageAt = Math.max(c.lastMessageAt || 0, event.message.at);
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

  function renderList() {
    const list = $('list');
    list.replaceChildren();
    const sorted = [...conversations.values()].sort((a, b) => b.lastMessageAt - a.lastMessageAt);
    for (const c of sorted) {
      const li = el('li', c.id === selected ? 'selected' : '');
      li.dataset.id = c.id;
      li.append(el('span', 'who', shortUser(c.user)));
      const meta = el('span', 'meta');
      if (c.unread > 0) meta.append(el('span', 'badge', String(c.unread)));
      meta.append(el('span', 'chip ' + c.status, statusLabel(c)));
      li.append(meta, el('span', 'preview', c.preview || ''));
      li.title = c.channel + ' · ' + c.user;
      li.addEventListener('click', () => select(c.id));
      list.append(li);
    }
    $('empty-list').classList.toggle('hidden', sorted.length > 0);
  }

  function select(id) {
    selected = id;
    notice('');
    renderList();
    renderConversation();
    loadHistory(id);
    $('reply').focus();
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
    if (!c) { name.textContent = 'Select a conversation'; sub.textContent = ''; }
    else {
      name.textContent = c.user;
      const holder = c.status === 'agent' ? 'held by ' + (c.agent === me ? 'you' : c.agent) : c.status === 'waiting' ? 'waiting for an agent' : 'answered by the bot';
      sub.textContent = [c.channel, c.openKfId, holder, c.reason && 'reason: ' + c.reason].filter(Boolean).join(' · ');
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
  }

  function renderMessages() {
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.replaceChildren();
    const list = selected && histories.get(selected);
    if (!selected) { const p = el('div', '', 'Pick a conversation on the left.'); p.id = 'placeholder'; box.append(p); return; }
    if (!list) return;
    for (const m of list) {
      const bubble = el('div', 'msg ' + m.direction + (m.from === 'agent' ? ' agent' : '') + (m.text === undefined ? ' media' : ''));
      const by = m.from === 'user' ? 'customer' : m.from === 'agent' ? (m.agent === me ? 'you' : m.agent) : 'bot';
      bubble.append(el('span', 'by', by + ' · ' + time(m.at)));
      bubble.append(document.createTextNode(m.text !== undefined ? m.text : '[' + m.type + (m.summary ? ': ' + m.summary : '') + ']'));
      box.append(bubble);
    }
    if (atBottom || list.length < 30) box.scrollTop = box.scrollHeight;
  }

  function act(type) {
    if (!selected) return;
    notice('');
    command(type, { conversationId: selected }).catch((error) => notice(error.message));
  }
  $('takeover').addEventListener('click', () => act('takeover'));
  $('release').addEventListener('click', () => act('release'));
  $('close').addEventListener('click', () => act('close'));

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

  connect();
})();
</script>
</body>
</html>
`;

// The demo page: one controller per cluster, talking to its JSON API through the balancer.
// Plain browser JavaScript, no build step. Data from the server only ever reaches the page as text.

const LOG_LIMIT = 40;
const POLL_MS = 1000;

/** Creates an element with text and attributes. */
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

/** A list of names as text: `Apples, Bread and Tea`. */
function names(list) {
  return list.length < 2 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

/**
 * What an instance row says, the same words on both clusters: `up`, `down · back in N s` while its
 * restart is pending, `starting…` while its new process boots, `down` when none is coming.
 */
function phaseLabel(instance, now) {
  if (instance.phase === 'up') return 'up';
  if (instance.phase === 'down') {
    if (instance.restartAt === null) return 'down';
    const seconds = Math.ceil((instance.restartAt - now) / 1000);
    if (seconds > 0) return `down · back in ${seconds} s`;
  }
  return 'starting…';
}

/**
 * What `before` had that `after` lacks, beyond what the action meant to change (`expect`): the
 * items (as many times as they were there) and the user, or null when nothing was lost.
 */
function lostBetween(before, after, expect) {
  if (!before || expect.reset) return null;
  const expected = [...before.basket];
  if (expect.removed !== undefined) {
    const at = expected.indexOf(expect.removed);
    if (at >= 0) expected.splice(at, 1);
  }
  const remaining = [...after.basket];
  const items = [];
  for (const item of expected) {
    const at = remaining.indexOf(item);
    if (at >= 0) remaining.splice(at, 1);
    else items.push(item);
  }
  const user = before.user !== null && after.user === null ? before.user : null;
  return items.length > 0 || user !== null ? { items, user } : null;
}

/** The session in words: `your basket (Apples and Tea) and your login as Jack`. */
function describe(basket, user) {
  const parts = [];
  if (basket.length > 0) parts.push(`your basket (${names(basket)})`);
  if (user !== null) parts.push(`your login as ${user}`);
  return names(parts);
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

class ClusterView {
  constructor(section) {
    this.kind = section.dataset.cluster;
    this.base = section.dataset.base;
    this.instances = [];
    this.served = new Map();
    this.lastServed = null;
    this.state = null;
    // One user's calls go one after the other, as a person clicking would see them answered: two
    // quick adds sent at once would each write the basket they read.
    this.queue = Promise.resolve();

    const body = document.getElementById('cluster-body').content.cloneNode(true);
    section.append(body);
    this.root = section;

    this.$ = (role) => section.querySelector(`[data-role="${role}"]`);
    this.wire();
  }

  wire() {
    const on = (action, fn) => {
      this.root.querySelector(`[data-action="${action}"]`).addEventListener('click', fn);
    };
    for (const button of this.root.querySelectorAll('[data-item]')) {
      button.addEventListener('click', () => this.add(button.dataset.item));
    }
    this.$('add-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      // `elements.item` would be the collection's item() method: look the field up by name.
      const input = event.currentTarget.elements.namedItem('item');
      if (await this.add(input.value)) input.value = '';
    });
    this.$('login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      await this.act('POST', '/login', { user: event.currentTarget.elements.namedItem('user').value });
      await this.loadSessions();
    });
    on('logout', async () => {
      await this.act('POST', '/logout', undefined, { reset: true });
      await this.loadSessions();
    });
    on('refresh', () => this.act('GET', '/state'));
    on('burst', async () => {
      for (let i = 0; i < 6; i++) await this.act('GET', '/state');
    });
    on('sessions', () => this.loadSessions());
    on('other-device', async () => {
      // Another device: the same login without this browser's cookies, so it gets a session of its own.
      await this.request('POST', '/login', { user: this.state?.user }, { credentials: 'omit' });
      await this.loadSessions();
    });
    on('everywhere', async () => {
      const reply = await this.request('POST', '/sessions/logout-everywhere');
      if (reply.ok) await this.act('GET', '/state', undefined, { reset: true });
      await this.loadSessions();
    });
    on('clear-log', () => this.$('log').replaceChildren());
    on('dismiss', () => {
      this.$('outcome').hidden = true;
    });
  }

  /** One API call through the balancer, after this view's previous ones, logged with the instance that served it. */
  request(method, path, body, init = {}) {
    const reply = this.queue.then(() => this.send(method, path, body, init));
    this.queue = reply.catch(() => {});
    return reply;
  }

  async send(method, path, body, init) {
    const started = performance.now();
    let status = 0;
    let json = null;
    let skipped = '';
    try {
      const res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        ...init,
      });
      status = res.status;
      skipped = res.headers.get('x-balancer-skipped') ?? '';
      json = await res.json().catch(() => null);
    } catch (err) {
      json = { error: err.message };
    }
    const instance = json?.instance ?? (path.startsWith('/instances') ? 'balancer' : '—');
    this.log({
      method,
      path,
      status,
      instance,
      skipped,
      ms: performance.now() - started,
      error: json?.error,
    });
    if (json?.instance) {
      this.lastServed = json.instance;
      this.served.set(json.instance, (this.served.get(json.instance) ?? 0) + 1);
      this.renderInstances();
    }
    return { ok: status >= 200 && status < 300, status, json };
  }

  /**
   * A call that answers with the shop state `{ instance, basket, user }`. `expect` says what the
   * call means to take away (`removed` item, or `reset` for a logout), so that anything else gone
   * is shown as lost; `killed` names the instance just killed from the page.
   */
  async act(method, path, body, expect = {}) {
    const reply = await this.request(method, path, body);
    if (reply.ok && reply.json && Array.isArray(reply.json.basket)) this.render(reply.json, expect);
    return reply.ok;
  }

  async add(item) {
    const name = String(item ?? '').trim();
    if (name === '') return false;
    const first = (this.state?.basket.length ?? 0) === 0;
    const ok = await this.act('POST', '/basket', { item: name });
    // The first item stores a new session: show it in the sessions panel.
    if (ok && first) await this.loadSessions();
    return ok;
  }

  render(state, expect = {}) {
    const before = this.state;
    this.state = state;
    const lost = lostBetween(before, state, expect);
    if (lost) this.showLost(lost, state, expect.killed);
    else if (expect.killed) this.showKept(before, state, expect.killed);
    const served = this.$('served');
    served.replaceChildren(
      'As ',
      el('strong', state.instance, { 'data-served-by': state.instance }),
      ' sees it',
    );

    const list = this.$('basket');
    list.replaceChildren();
    if (state.basket.length === 0) list.append(el('li', 'The basket is empty.', { class: 'empty' }));
    state.basket.forEach((item) => {
      const li = el('li', null, { class: 'item' });
      const remove = el('button', 'Remove', {
        type: 'button',
        'aria-label': `Remove ${item}`,
        class: 'quiet',
      });
      remove.addEventListener('click', () => this.act('DELETE', `/basket/${encodeURIComponent(item)}`));
      li.append(el('span', item), remove);
      list.append(li);
    });

    const loggedIn = typeof state.user === 'string';
    this.$('login-form').hidden = loggedIn;
    this.$('signed-in').hidden = !loggedIn;
    this.$('user-name').textContent = state.user ?? '';
    for (const action of ['other-device', 'everywhere']) {
      this.root.querySelector(`[data-action="${action}"]`).disabled = !loggedIn;
    }
  }

  /** The banner saying what the session lost, and why. */
  showLost(lost, state, killed) {
    const gone = [];
    if (lost.items.length > 0)
      gone.push(
        lost.items.length === 1
          ? `the item ${lost.items[0]}`
          : `${lost.items.length} items (${names(lost.items)})`,
      );
    if (lost.user !== null) gone.push(`the login as ${lost.user}`);
    const why = killed
      ? `${killed} went down and your session went with it: ${state.instance} has never seen you.`
      : `${state.instance} does not know your session: it lived in another instance's memory.`;
    this.outcome('lost', 'Session lost', `${why} Gone: ${names(gone)}.`);
    // The login form is back: empty, as for a stranger, not with the old name still typed in.
    if (lost.user !== null) this.$('login-form').elements.namedItem('user').value = '';
  }

  /** The banner after a kill that cost nothing, and why. */
  showKept(before, state, killed) {
    const had = before ? describe(before.basket, before.user) : '';
    let text;
    if (had === '') {
      text = `${killed} went down; ${state.instance} answered. Your session held nothing yet: add items or log in, then kill the instance marked last request.`;
    } else if (this.kind === 'shared') {
      text = `${killed} went down; ${state.instance} still has ${had}, read from the shared table.`;
    } else {
      text = `${killed} went down, but your session lives in ${state.instance}'s memory: kill that one to see it lost.`;
    }
    this.outcome('kept', 'Session kept', text);
  }

  outcome(kind, title, text) {
    const box = this.$('outcome');
    box.className = `outcome ${kind}`;
    box.setAttribute('role', kind === 'lost' ? 'alert' : 'status');
    this.$('outcome-title').textContent = title;
    this.$('outcome-text').textContent = text;
    box.hidden = false;
  }

  async loadSessions() {
    const reply = await this.request('GET', '/sessions');
    if (!reply.ok || !reply.json) return;
    const { live, capped, user, sessions, instance } = reply.json;
    const where = this.kind === 'shared' ? 'in the shared table' : `in ${instance}'s memory`;
    this.$('live').replaceChildren(
      'Live sessions ',
      where,
      ': ',
      el('strong', `${live}${capped ? '+' : ''}`),
    );
    const hint = this.$('sessions-hint');
    const list = this.$('sessions');
    list.replaceChildren();
    if (user === null) {
      hint.textContent = 'Log in to see your sessions.';
      return;
    }
    hint.textContent = `${user}'s sessions (${sessions.length}):`;
    for (const s of sessions) {
      const li = el('li', null);
      li.append(el('code', s.id), ` since ${time(s.createdAt)}`);
      if (s.current) li.append(' ', el('span', 'this browser', { class: 'pill' }));
      list.append(li);
    }
  }

  log({ method, path, status, instance, skipped, ms, error }) {
    const li = el('li', null, { class: status >= 200 && status < 300 ? 'ok' : 'bad' });
    li.append(
      el('time', time(Date.now())),
      el('span', `${method} ${path}`, { class: 'req' }),
      el('span', `→ ${instance}`, { class: 'who' }),
      el('span', `${status || 'failed'} · ${Math.round(ms)} ms`, { class: 'status' }),
    );
    if (skipped) li.append(el('span', `${skipped} was down: retried`, { class: 'note' }));
    if (error && !(status >= 200 && status < 300)) li.append(el('span', error, { class: 'note' }));
    const log = this.$('log');
    log.prepend(li);
    while (log.children.length > LOG_LIMIT) log.lastElementChild.remove();
  }

  async pollInstances() {
    try {
      const res = await fetch(`${this.base}/instances`, { cache: 'no-store' });
      if (res.ok) {
        this.instances = await res.json();
        this.renderInstances();
      }
    } catch {
      // The balancer itself is down (the demo stopped): keep the last view.
    }
  }

  renderInstances() {
    const list = this.$('instances');
    // Re-render in place so that focus stays on a kill button while the list refreshes.
    for (const instance of this.instances) {
      let li = list.querySelector(`[data-name="${instance.name}"]`);
      if (!li) {
        li = el('li', null, { 'data-name': instance.name, class: 'instance' });
        const kill = el('button', 'Kill', {
          type: 'button',
          class: 'danger',
          'aria-label': `Kill ${instance.name}`,
        });
        kill.addEventListener('click', () => this.kill(instance.name));
        li.append(
          el('span', instance.name, { class: 'name' }),
          el('span', '', { class: 'state' }),
          el('span', '', { class: 'count' }),
          kill,
        );
        list.append(li);
      }
      li.classList.toggle('down', instance.phase === 'down');
      li.classList.toggle('starting', instance.phase === 'starting');
      li.classList.toggle('last', instance.name === this.lastServed);
      li.querySelector('.state').textContent = phaseLabel(instance, Date.now());
      const count = this.served.get(instance.name) ?? 0;
      li.querySelector('.count').textContent =
        instance.name === this.lastServed ? `last request · served ${count}` : `served ${count}`;
      li.querySelector('button').disabled = !instance.alive;
    }
  }

  async kill(name) {
    const reply = await this.request('POST', `/instances/${encodeURIComponent(name)}/kill`);
    await this.pollInstances();
    // Ask again at once: the balancer sends it to a live instance, which shows what it knows.
    if (reply.ok) {
      await this.act('GET', '/state', undefined, { killed: name });
      await this.loadSessions();
    }
  }

  async start() {
    await this.pollInstances();
    await this.act('GET', '/state');
    await this.loadSessions();
    setInterval(() => this.pollInstances(), POLL_MS);
  }
}

const views = [...document.querySelectorAll('[data-cluster]')].map((section) => new ClusterView(section));
await Promise.all(views.map((view) => view.start()));

// "Your devices" and "Trace of the last request": a panel under the shared cluster. Sign in from two
// browsers with one name, see both here, sign the other out. The trace shows what baton did for the
// instance's previous request (load, store calls, commit), recorded from its tracing channels.
// Data from the server only ever reaches the page as text.

const REFRESH_MS = 3000;

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function mount(section) {
  const base = section.dataset.base;
  const panel = el('div', null, { class: 'panel devices-panel', 'data-role': 'devices-panel' });
  const devicesTitle = el('h3', 'Your devices', { class: 'sub' });
  const hint = el('p', 'Log in to see where you are signed in.', { class: 'hint' });
  const list = el('ul', null, { class: 'sessions', 'data-role': 'devices' });
  const row = el('div', null, { class: 'row' });
  const refresh = el('button', 'Refresh', { type: 'button' });
  const others = el('button', 'Sign out other devices', {
    type: 'button',
    class: 'danger',
    'data-action': 'sign-out-others',
  });
  others.disabled = true;
  row.append(refresh, others);
  const traceTitle = el('h3', 'Trace of the last request', { class: 'sub' });
  const traceHead = el('p', 'No request traced yet.', { class: 'hint', 'data-role': 'trace-head' });
  const trace = el('ol', null, { class: 'log', 'data-role': 'trace' });
  panel.append(devicesTitle, hint, list, row, traceTitle, traceHead, trace);
  section.append(panel);

  async function get(path) {
    const res = await fetch(base + path, { cache: 'no-store' });
    return res.json();
  }

  async function update() {
    try {
      const [devices, last] = await Promise.all([get('/devices'), get('/trace')]);
      list.replaceChildren(
        ...(devices.devices ?? []).map((d) =>
          el('li', `${d.description}${d.current ? ' (this browser)' : ''} — last seen ${ago(d.lastSeenAt)}`),
        ),
      );
      hint.hidden = devices.user !== null;
      others.disabled = devices.user === null || (devices.devices ?? []).length < 2;
      const t = last.trace;
      if (t) {
        traceHead.textContent = `${t.method} ${t.path} on ${last.instance}`;
        trace.replaceChildren(
          ...t.steps.map((s) => {
            const detail = Object.entries(s.detail)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ');
            return el(
              'li',
              `+${s.startMs.toFixed(1)} ms  ${s.name}  ${s.durationMs.toFixed(1)} ms  ${detail}`,
            );
          }),
        );
      }
    } catch {
      // The cluster may be restarting; the next refresh tries again.
    }
  }

  refresh.addEventListener('click', update);
  others.addEventListener('click', async () => {
    await fetch(`${base}/devices/sign-out-others`, { method: 'POST' });
    await update();
  });
  void update();
  setInterval(update, REFRESH_MS);
}

const shared = document.querySelector('[data-cluster="shared"]');
if (shared) mount(shared);

// Fleetguard dashboard: plain JavaScript, no build step. It reads the operator API with the key
// the user gives once (kept in localStorage) and renders the fleet at a glance, the device table
// and a device page (#/devices/<id>). Every value from the API is put in the page as text, never
// as HTML.
(function () {
  'use strict';

  const KEY_STORAGE = 'fleetguard.apiKey';
  // The FRs and integrity statuses are the service's (kernel.js, from @fleetguard/common).
  const KERNEL = window.FLEETGUARD_KERNEL;
  const STATUSES = KERNEL.integrityStatuses;
  const ATTENTION = KERNEL.attentionStatuses;
  const FRS = KERNEL.frs;
  const LEVELS = ['0', '1', '2', '3', '4'];
  const LEVEL_COLOURS = ['#c62828', '#ef8a17', '#e2c044', '#6bab5a', '#1a7f37'];
  const PAGE_SIZE = 25;
  const FAILING_LIMIT = 10;
  const POLL_MS = 30000;
  /** The named events of GET /api/v1/events (its keep-alive `ping` is not one of them). */
  const EVENT_TYPES = ['attestation.result', 'attestation.failed', 'attestation.stale', 'device.enrolled', 'device.revoked', 'score.changed', 'score.below-target', 'pki.finding'];

  const state = {
    key: localStorage.getItem(KEY_STORAGE) || '',
    summary: null,
    products: new Map(),
    filters: { status: '', productId: '', belowTarget: '' },
    cursors: [null],
    chart: null,
    events: null,
    pollTimer: null,
    refreshTimer: null,
    route: null,
    next: null,
  };

  const $ = (sel, root) => (root || document).querySelector(sel);

  /** h('td', {class: 'num'}, 'text', child, [more]) builds an element; strings become text nodes. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    const add = (c) => {
      if (c === undefined || c === null || c === false) return;
      if (Array.isArray(c)) c.forEach(add);
      else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    };
    children.forEach(add);
    return el;
  }

  const badge = (status) => h('span', { class: `badge s-${status || 'none'}` }, status || 'none');
  const dash = (v) => (v === undefined || v === null || v === '' ? '–' : v);

  function relTime(iso) {
    if (!iso) return h('span', { class: 'muted' }, 'never');
    const t = new Date(iso);
    const s = Math.round((Date.now() - t.getTime()) / 1000);
    const text = s < 60 ? `${Math.max(s, 0)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`;
    return h('time', { datetime: t.toISOString(), title: t.toISOString() }, text);
  }

  function vectorText(v) {
    if (!v || typeof v !== 'object') return '–';
    return FRS.map((fr) => (typeof v[fr] === 'number' ? v[fr] : '·')).join(' ');
  }

  function productName(id) {
    const p = state.products.get(id);
    return p ? p.name : id ? id.slice(0, 8) : '–';
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, opts) {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${state.key}`, Accept: 'application/json' }, cache: 'no-store' });
    let body = null;
    const text = await res.text();
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    if (res.status === 401 && !(opts && opts.login)) {
      forgetKey('The service refused the API key (401). Enter a valid key.');
      throw new ApiError(401, 'unauthorized');
    }
    if (!res.ok) throw new ApiError(res.status, (body && body.message) || `${res.status} ${res.statusText}`);
    return body;
  }

  /** For endpoints that may not exist yet or may be empty: null instead of an error. */
  async function apiOptional(path) {
    try {
      return await api(path);
    } catch (e) {
      if (e instanceof ApiError && e.status !== 401) return null;
      throw e;
    }
  }

  function showError(message) {
    const el = $('#error');
    el.textContent = message || '';
    el.hidden = !message;
  }

  // ---------------------------------------------------------------- key

  function showLogin(message) {
    document.body.dataset.state = 'login';
    $('#login').hidden = false;
    $('#overview').hidden = true;
    $('#device').hidden = true;
    $('#zone').hidden = true;
    $('#signout').hidden = true;
    $('#refresh').hidden = true;
    $('#login-error').textContent = message || '';
    $('#api-key').focus();
  }

  function forgetKey(message) {
    localStorage.removeItem(KEY_STORAGE);
    state.key = '';
    stopLive();
    showLogin(message);
  }

  async function login(ev) {
    ev.preventDefault();
    const key = $('#api-key').value.trim();
    if (!key) return;
    state.key = key;
    try {
      await api('/api/v1/fleet/summary', { login: true });
    } catch (e) {
      state.key = '';
      $('#login-error').textContent =
        e.status === 401 ? 'The service does not know this key (401).' : e.status === 403 ? 'This key lacks the operator, manufacturer or auditor role (403).' : `Could not check the key: ${e.message}`;
      return;
    }
    localStorage.setItem(KEY_STORAGE, key);
    $('#api-key').value = '';
    start();
  }

  // ---------------------------------------------------------------- overview

  async function loadProducts() {
    const list = await apiOptional('/api/v1/products');
    state.products = new Map((Array.isArray(list) ? list : []).map((p) => [p.id, p]));
    const select = $('#filter-product');
    const current = state.filters.productId;
    select.replaceChildren(h('option', { value: '' }, 'any'), ...[...state.products.values()].map((p) => h('option', { value: p.id }, p.name)));
    select.value = current;
  }

  async function loadSummary() {
    const s = await api('/api/v1/fleet/summary');
    state.summary = s;
    for (const st of STATUSES) setCount(st, s.byStatus ? s.byStatus[st] : undefined);
    setCount('total', s.total);
    setCount('belowTarget', s.belowTarget);
    setCount('products', s.products);
    setCount('scored', s.scored);
    renderSlDistribution(s.slDistribution || {});
    renderFirmware(s.firmwareVersions || []);
  }

  function setCount(name, n) {
    for (const el of document.querySelectorAll(`[data-count="${name}"]`)) el.textContent = typeof n === 'number' ? String(n) : '–';
  }

  function renderSlDistribution(dist) {
    const table = $('#sl-table');
    table.tHead.replaceChildren(h('tr', null, h('th', null, 'SL-C'), FRS.map((fr) => h('th', { class: 'num' }, fr))));
    table.tBodies[0].replaceChildren(
      ...LEVELS.map((l) => h('tr', { dataset: { level: l } }, h('td', null, `SL ${l}`), FRS.map((fr) => h('td', { class: 'num', dataset: { fr } }, String((dist[fr] && dist[fr][l]) || 0))))),
    );
    if (!window.Chart) return; // the table above still shows the numbers
    const datasets = LEVELS.map((l, i) => ({ label: `SL ${l}`, data: FRS.map((fr) => (dist[fr] && dist[fr][l]) || 0), backgroundColor: LEVEL_COLOURS[i] }));
    if (state.chart) {
      state.chart.data.datasets.forEach((d, i) => (d.data = datasets[i].data));
      state.chart.update('none');
      return;
    }
    state.chart = new window.Chart($('#sl-chart'), {
      type: 'bar',
      data: { labels: FRS, datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { position: 'right' }, tooltip: { mode: 'index' } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'devices' } } },
      },
    });
  }

  function renderFirmware(rows) {
    const body = $('#firmware-table').tBodies[0];
    if (!rows.length) {
      body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 3 }, 'No device has reported firmware yet.')));
      return;
    }
    body.replaceChildren(...rows.map((r) => h('tr', null, h('td', null, r.productName || productName(r.productId)), h('td', { class: 'mono' }, r.version), h('td', { class: 'num' }, String(r.count)))));
  }

  async function loadFailing() {
    const page = await api(`/api/v1/devices?status=${ATTENTION.join(',')}&limit=${FAILING_LIMIT}`);
    const body = $('#failing-table').tBodies[0];
    const items = page.items || [];
    if (!items.length) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 5 }, 'None: every active device has a fresh affirming result.')));
    else
      body.replaceChildren(
        ...items.map((d) =>
          h('tr', { dataset: { deviceId: d.id } }, h('td', { class: 'mono' }, h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.id)), h('td', null, productName(d.productId)), h('td', null, badge(d.integrity)), h('td', null, dash(d.attestation && d.attestation.status), ' ', relTime(d.attestation && d.attestation.at)), h('td', null, relTime(d.attestation && d.attestation.affirmedAt))),
        ),
      );
    const more = $('#failing-more');
    more.hidden = !page.next;
    more.textContent = page.next ? `More than ${FAILING_LIMIT}: filter the device table by integrity to see them all.` : '';
  }

  /** The certificate audit (GET /api/v1/pki/audit): counts per kind, the first 50 findings. */
  async function loadPkiAudit() {
    const audit = await apiOptional('/api/v1/pki/audit?days=30');
    const body = $('#pki-audit-table').tBodies[0];
    const findings = (audit && audit.findings) || [];
    $('#pki-audit-count').textContent = audit ? String(findings.length) : '–';
    const counts = new Map();
    for (const f of findings) counts.set(f.kind, (counts.get(f.kind) || 0) + 1);
    $('#pki-audit-kinds').textContent = [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
    if (!findings.length) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 4 }, audit ? 'No finding.' : 'The certificate audit is not available.')));
    else
      body.replaceChildren(
        ...findings.slice(0, 50).map((f) => {
          const ids = f.deviceId ? [f.deviceId] : f.deviceIds || [];
          return h(
            'tr',
            { dataset: { kind: f.kind } },
            h('td', null, f.kind),
            h('td', null, badge(f.severity)),
            h('td', { class: 'mono' }, ids.length ? ids.map((id, i) => [i ? ', ' : '', h('a', { href: `#/devices/${encodeURIComponent(id)}` }, id)]) : f.caGeneration ? `issuing CA ${f.caGeneration}` : '–'),
            h('td', null, f.detail),
          );
        }),
      );
  }

  /** Advisories by exposed device count, and the exposed devices by the worst severity that exposes them. */
  async function loadExposure() {
    const [advisories, exposed] = await Promise.all([apiOptional('/api/v1/advisories'), apiOptional('/api/v1/devices?exposed=true&limit=500')]);
    const body = $('#advisories-table').tBodies[0];
    const items = (advisories && advisories.items) || [];
    if (!items.length) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 5 }, 'No advisory on record.')));
    else
      body.replaceChildren(
        ...[...items]
          .sort((a, b) => b.exposedDevices - a.exposedDevices)
          .map((a) => h('tr', { dataset: { advisoryId: a.id } }, h('td', { class: 'mono' }, a.trackingId), h('td', null, a.title), h('td', null, badge(a.severity)), h('td', { class: 'num' }, dash(a.maxCvss)), h('td', { class: 'num' }, String(a.exposedDevices)))),
      );
    const devices = (exposed && exposed.items) || [];
    $('#exposed-count').textContent = exposed ? `${devices.length}${exposed.next ? '+' : ''}` : '–';
    // Each device counts once, under the worst severity among the advisories that expose it.
    const order = ['critical', 'high', 'medium', 'low', 'none', 'unknown'];
    const worst = new Map();
    await Promise.all(
      devices.slice(0, 100).map(async (d) => {
        const e = await apiOptional(`/api/v1/devices/${encodeURIComponent(d.id)}/exposure`);
        const sev = e && e.advisories.length ? e.advisories.map((a) => a.severity).sort((x, y) => order.indexOf(x) - order.indexOf(y))[0] : null;
        if (sev) worst.set(sev, (worst.get(sev) || 0) + 1);
      }),
    );
    $('#exposure-severity').textContent = worst.size ? `by severity${devices.length > 100 ? ' (first 100)' : ''}: ${order.filter((o) => worst.has(o)).map((o) => `${o} ${worst.get(o)}`).join(', ')}` : '';
  }

  function listQuery() {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) q.set('cursor', cursor);
    return q;
  }

  async function loadDevices() {
    const table = $('#devices-table');
    table.dataset.loading = 'true';
    const page = await api(`/api/v1/devices?${listQuery()}`);
    const items = page.items || [];
    const body = table.tBodies[0];
    if (!items.length) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No device matches.')));
    else
      body.replaceChildren(
        ...items.map((d) =>
          h(
            'tr',
            { dataset: { deviceId: d.id, integrity: d.integrity } },
            h('td', { class: 'mono' }, h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.id)),
            h('td', null, productName(d.productId)),
            h('td', null, badge(d.integrity)),
            h('td', { class: 'mono' }, dash(d.firmware && d.firmware.version)),
            h('td', null, dash(d.attestation && d.attestation.status), ' ', d.attestation && d.attestation.at ? relTime(d.attestation.at) : ''),
            h('td', { class: 'mono' }, vectorText(d.levels && d.levels.evidenced)),
            h('td', null, d.levels && d.levels.belowTarget === true ? h('span', { class: 'below-target' }, 'yes') : d.levels && d.levels.belowTarget === false ? 'no' : '–'),
            h('td', null, relTime(d.lastSeenAt)),
          ),
        ),
      );
    state.next = page.next || null;
    $('#next-page').disabled = !state.next;
    $('#prev-page').disabled = state.cursors.length <= 1;
    $('#page-info').textContent = `page ${state.cursors.length}, ${items.length} device${items.length === 1 ? '' : 's'}`;
    for (const card of document.querySelectorAll('.card[data-status]')) card.classList.toggle('active', card.dataset.status === state.filters.status);
    table.dataset.loading = 'false';
  }

  function setFilters(changes) {
    Object.assign(state.filters, changes);
    $('#filter-status').value = state.filters.status;
    $('#filter-product').value = state.filters.productId;
    $('#filter-below').value = state.filters.belowTarget;
    state.cursors = [null];
    loadDevices().catch(report);
  }

  /** Zones are the operator's (operator and auditor keys); hidden for a key that cannot list them. */
  async function loadZones() {
    const zones = await apiOptional('/api/v1/zones');
    const panel = $('#zones-panel');
    panel.hidden = !Array.isArray(zones);
    if (!Array.isArray(zones)) return;
    const body = $('#zones-table').tBodies[0];
    if (!zones.length) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 3 }, 'No zone yet (fleetctl zone create, or POST /api/v1/zones).')));
    else
      body.replaceChildren(
        ...zones.map((z) =>
          h('tr', { dataset: { zoneId: z.id } }, h('td', null, h('a', { href: `#/zones/${encodeURIComponent(z.id)}` }, z.name)), h('td', { class: 'num' }, String(z.devices)), h('td', { class: 'mono' }, vectorText(z.targetLevels))),
        ),
      );
  }

  async function loadOverview() {
    await loadProducts();
    await Promise.all([loadSummary(), loadFailing(), loadDevices(), loadExposure().catch(() => undefined), loadZones().catch(() => undefined), loadPkiAudit().catch(() => undefined)]);
    document.body.dataset.state = 'ready';
  }

  // ---------------------------------------------------------------- device page

  function section(title, ...content) {
    return h('section', { class: 'panel' }, h('h2', null, title), ...content);
  }

  function facts(pairs) {
    return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v === undefined || v === null || v === '' ? '–' : v)]));
  }

  function renderExposure(e) {
    if (!e) return section('Exposure', h('p', { class: 'muted' }, 'Exposure is not available from the service.'));
    const head = facts([
      ['attested release', e.attestedRelease ? e.attestedRelease.version : 'none (never affirmed)'],
      ['security support', e.unsupported ? 'ended' : 'yes'],
    ]);
    if (!e.advisories.length) return section('Exposure', head, h('p', { id: 'exposure-none', class: 'muted' }, 'No advisory affects the attested release.'));
    const rows = e.advisories.flatMap((a) => a.findings.map((f) => h('tr', null, h('td', { class: 'mono' }, a.trackingId), h('td', null, f.vulnerability), h('td', null, `${f.component.name} ${f.component.version || ''}`), h('td', null, f.matchedBy), h('td', null, badge(a.severity)))));
    return section('Exposure', head, h('table', { id: 'exposure-table', class: 'compact' }, h('thead', null, h('tr', null, h('th', null, 'advisory'), h('th', null, 'vulnerability'), h('th', null, 'component'), h('th', null, 'matched by'), h('th', null, 'severity'))), h('tbody', null, rows)));
  }

  async function loadDevicePage(id) {
    const root = $('#device');
    root.dataset.loaded = 'false';
    root.replaceChildren(h('p', { class: 'muted' }, `Loading ${id}…`));
    let d;
    try {
      d = await api(`/api/v1/devices/${encodeURIComponent(id)}`);
    } catch (e) {
      root.replaceChildren(h('p', null, h('a', { href: '#/' }, '← fleet')), h('p', { class: 'error' }, e.status === 404 ? `No device ${id} (or not one of yours).` : `Could not load ${id}: ${e.message}`));
      root.dataset.loaded = 'true';
      return;
    }
    if (!state.summary) await loadSummary().catch(() => undefined);
    const [attestations, score, releases, product, exposure] = await Promise.all([
      apiOptional(`/api/v1/devices/${encodeURIComponent(id)}/attestations?limit=1`),
      apiOptional(`/api/v1/devices/${encodeURIComponent(id)}/score`),
      apiOptional(`/api/v1/products/${encodeURIComponent(d.productId)}/firmware`),
      apiOptional(`/api/v1/products/${encodeURIComponent(d.productId)}`),
      apiOptional(`/api/v1/devices/${encodeURIComponent(id)}/exposure`),
    ]);
    if (state.route !== `device:${id}`) return; // the user went elsewhere meanwhile
    const result = attestations && Array.isArray(attestations.items) ? attestations.items[0] || null : null;
    // A Linux device (TCG boot log, IMA): its decoded events and entries with what failed and why.
    const linux = result && result.claims && result.claims.linux ? await apiOptional(`/api/v1/devices/${encodeURIComponent(id)}/attestations/${encodeURIComponent(result.id)}/linux-evidence`) : null;
    if (state.route !== `device:${id}`) return;
    const releaseList = Array.isArray(releases) ? releases : [];
    const version = (result && result.firmwareVersion) || (d.firmware && d.firmware.version);
    const release = releaseList.find((r) => r.version === version) || null;
    const integrity = d.integrity; // the service's verdict (GET /devices/:id), never recomputed here

    root.replaceChildren(
      h('p', null, h('a', { href: '#/' }, '← fleet')),
      h('div', { class: 'device-head' }, h('h1', null, d.id), badge(integrity)),
      h(
        'div',
        { class: 'grid' },
        section(
          'Identity',
          facts([
            ['device id', h('span', { class: 'mono' }, d.id)],
            ['product', product ? `${product.name} (${product.componentType})` : productName(d.productId)],
            ['status', d.status],
            ['integrity', badge(integrity)],
            ['operator', d.operatorId],
            ['enrolled', relTime(d.enrolledAt)],
            ['last seen', relTime(d.lastSeenAt)],
          ]),
        ),
        section(
          'Certificate and firmware',
          facts([
            ['serial', d.certificate && h('span', { class: 'mono' }, d.certificate.serial)],
            ['not after', d.certificate && d.certificate.notAfter ? new Date(d.certificate.notAfter).toISOString() : null],
            ['key type', d.keyType],
            ['TPM attestation key', d.hasAttestationKey ? 'registered' : 'none'],
            ['firmware', d.firmware && d.firmware.version],
            ['security counter', d.firmware && d.firmware.securityCounter],
            ['release', release ? `${release.status}${release.digest ? ` · ${release.digest}` : ''}` : version ? 'not a known release' : null],
          ]),
        ),
      ),
      renderResult(result, attestations),
      linux ? renderLinuxEvidence(linux) : renderEventLog(result, release, version),
      renderScore(score, d, product),
      renderGrades(score),
      renderExposure(exposure),
    );
    root.dataset.loaded = 'true';
  }

  function renderResult(result, attestations) {
    if (!result) {
      return section('Last attestation result', h('p', { id: 'attestation-none', class: 'muted' }, attestations ? 'No attestation result yet.' : 'Attestation history is not available from the service.'));
    }
    const findings = Array.isArray(result.findings) ? result.findings : [];
    const reasons = Array.isArray(result.reasons) ? result.reasons : [];
    return section(
      'Last attestation result',
      facts([
        ['status', badge(result.status)],
        ['at', relTime(result.createdAt)],
        ['firmware', result.firmwareVersion],
        ['trust vector', result.trustVector ? h('span', { class: 'mono' }, Object.entries(result.trustVector).map(([k, v]) => `${k}=${v}`).join('  ')) : null],
      ]),
      h('h3', null, 'Reasons'),
      reasons.length ? h('ul', { id: 'attestation-reasons', class: 'reasons' }, reasons.map((r) => h('li', null, r))) : h('p', { class: 'muted' }, 'No reasons given.'),
      findings.length
        ? h(
            'table',
            { id: 'attestation-findings', class: 'compact' },
            h('thead', null, h('tr', null, h('th', null, 'stage'), h('th', null, 'code'), h('th', null, 'claim'), h('th', null, 'message'))),
            h('tbody', null, findings.map((f) => h('tr', null, h('td', null, dash(f.stage)), h('td', { class: 'mono' }, dash(f.code)), h('td', { class: 'mono' }, dash(f.claim)), h('td', null, dash(f.message))))),
          )
        : null,
    );
  }

  /**
   * The reported boot events beside the release's reference values, with the appraisal's verdict:
   * the findings the service recorded against the reference values (stage `reference-values`),
   * never a comparison made here. A finding that names its event (`event`, the index in the log)
   * marks that row; the others are listed above the table as the service gave them.
   */
  function renderEventLog(result, release, version) {
    const events = result && result.claims && result.claims.boot && Array.isArray(result.claims.boot.events) ? result.claims.boot.events : [];
    const reference = release && release.referenceValues && Array.isArray(release.referenceValues.events) ? release.referenceValues.events : null;
    const title = 'Boot event log against the reference values';
    if (!events.length) return section(title, h('p', { id: 'event-log-none', class: 'muted' }, 'The last result carries no boot event log.'));
    const findings = (Array.isArray(result.findings) ? result.findings : []).filter((f) => f && f.stage === 'reference-values');
    const placed = (i) => findings.filter((f) => f.event === i);
    const unplaced = findings.filter((f) => typeof f.event !== 'number');
    const note = reference ? `Reference values of release ${release.version}, shown at the same position.` : `No reference values for firmware ${version || '(unknown)'}: the events are shown alone.`;
    const rows = [];
    const n = Math.max(events.length, reference ? reference.length : 0);
    for (let i = 0; i < n; i++) {
      const e = events[i];
      const r = reference ? reference[i] : undefined;
      const own = placed(i);
      rows.push(
        h(
          'tr',
          { class: own.length ? 'mismatch' : '', dataset: { component: (e && e.component) || (r && r.component) || '' } },
          h('td', { class: 'num' }, String(i)),
          h('td', { class: 'num' }, dash(e ? e.pcr : r && r.pcr)),
          h('td', null, dash(e ? e.component : r && r.component)),
          h('td', { class: 'mono digest-actual' }, dash(e && digestText(e.digest))),
          reference ? h('td', { class: 'mono digest-reference' }, dash(r && digestText(r.digest))) : null,
          h('td', null, own.map((f) => h('div', { class: 'finding' }, h('span', { class: 'badge bad' }, f.code), ' ', f.message))),
        ),
      );
    }
    return section(
      title,
      h('p', { class: 'muted' }, note),
      unplaced.length
        ? h('ul', { id: 'event-log-findings', class: 'reasons' }, unplaced.map((f) => h('li', { dataset: { code: f.code } }, h('span', { class: 'badge bad' }, f.code), ' ', f.message)))
        : findings.length
          ? null
          : h('p', { id: 'event-log-ok', class: 'muted' }, 'The appraisal found nothing against the reference values.'),
      h(
        'table',
        { id: 'event-log', class: 'compact' },
        h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', { class: 'num' }, 'PCR'), h('th', null, 'component'), h('th', null, 'reported digest'), reference ? h('th', null, 'reference digest') : null, h('th', null, 'finding'))),
        h('tbody', null, rows),
      ),
    );
  }

  /** A digest as text: lower case, without a `sha256:` prefix (display only). */
  const digestText = (x) => (typeof x === 'string' ? x.toLowerCase().replace(/^sha256:/, '') : '');

  const verdictCell = (findings) =>
    h('td', null, findings.length ? findings.map((f) => h('div', { class: 'finding' }, h('span', { class: 'badge bad' }, f.code), ' ', f.message)) : h('span', { class: 'badge ok' }, 'ok'));

  /** A Linux device's last result: boot events decoded against the measured-boot policy, IMA entries against the runtime policy. */
  function renderLinuxEvidence(v) {
    const boot = v.boot;
    const bootRows = boot && Array.isArray(boot.events)
      ? boot.events.map((e) =>
          h(
            'tr',
            { class: e.findings.length ? 'mismatch' : '', dataset: { event: String(e.index) } },
            h('td', { class: 'num' }, String(e.index)),
            h('td', { class: 'num' }, String(e.pcr)),
            h('td', { class: 'mono' }, e.type),
            h('td', { class: 'mono' }, dash(e.label)),
            h('td', { class: 'mono digest-actual' }, dash(e.digests.sha256 || Object.values(e.digests)[0])),
            verdictCell(e.findings),
          ),
        )
      : [];
    const failedEvents = bootRows.length ? boot.events.filter((e) => e.findings.length).length : 0;
    const other = Array.isArray(v.findings) ? v.findings : [];
    const bootSection = section(
      'Measured boot: TCG event log against the policy',
      h('p', { class: 'muted', id: 'boot-summary' }, boot && boot.error ? `The log could not be read: ${boot.error}` : `${bootRows.length} events, banks ${(boot && boot.banks.join(', ')) || '–'}; ${failedEvents ? `${failedEvents} event(s) failed` : 'no event failed'}.`),
      other.length ? h('ul', { id: 'linux-findings', class: 'reasons' }, other.map((f) => h('li', { dataset: { code: f.code } }, h('span', { class: 'mono' }, f.code), ` · ${f.message}`))) : null,
      bootRows.length
        ? h(
            'details',
            { open: true },
            h('summary', null, 'boot events'),
            h(
              'table',
              { id: 'boot-events', class: 'compact' },
              h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', { class: 'num' }, 'PCR'), h('th', null, 'type'), h('th', null, 'what'), h('th', null, 'sha256'), h('th', null, 'verdict'))),
              h('tbody', null, bootRows),
            ),
          )
        : null,
    );
    if (!v.ima) return h('div', { id: 'linux-evidence' }, bootSection);
    const ima = v.ima;
    const failedEntries = ima.entries.filter((e) => e.findings.length).length;
    const imaSection = section(
      'IMA runtime measurements against the runtime policy',
      h('p', { class: 'muted', id: 'ima-summary' }, ima.error ? `The list could not be read: ${ima.error}` : `${ima.total} entries sent from position ${ima.offset}; ${failedEntries ? `${failedEntries} entry(ies) failed` : 'no entry failed'}${ima.omitted ? `; ${ima.omitted} passing entries not shown` : ''}.`),
      ima.entries.length
        ? h(
            'table',
            { id: 'ima-entries', class: 'compact' },
            h('thead', null, h('tr', null, h('th', { class: 'num' }, 'entry'), h('th', null, 'template'), h('th', null, 'file'), h('th', null, 'digest'), h('th', null, 'verdict'))),
            h(
              'tbody',
              null,
              ima.entries.map((e) =>
                h(
                  'tr',
                  { class: e.findings.length ? 'mismatch' : '', dataset: { entry: String(e.position) } },
                  h('td', { class: 'num' }, String(e.position)),
                  h('td', { class: 'mono' }, e.template),
                  h('td', { class: 'mono' }, e.path),
                  h('td', { class: 'mono digest-actual' }, `${e.alg}:${e.digest}`),
                  verdictCell(e.findings),
                ),
              ),
            ),
          )
        : null,
    );
    return h('div', { id: 'linux-evidence' }, bootSection, imaSection);
  }

  function renderScore(score, d, product) {
    const evidenced = (score && score.evidenced) || (d.levels && d.levels.evidenced) || null;
    const declared = (score && score.declared) || (d.levels && d.levels.declared) || null;
    const target = (score && score.target) || (product && product.targetLevels) || null;
    if (!evidenced && !declared) return section('SL-C against the target', h('p', { id: 'score-none', class: 'muted' }, 'No score yet: the device has not reported its hardening.'));
    const gaps = (score && score.gaps) || {};
    const cell = (v) => h('td', { class: 'num' }, typeof v === 'number' ? String(v) : '–');
    const rows = FRS.map((fr) => {
      const e = evidenced && evidenced[fr];
      const t = target && target[fr];
      const below = typeof e === 'number' && typeof t === 'number' && e < t;
      return h(
        'tr',
        { dataset: { fr } },
        h('td', null, fr),
        cell(e),
        cell(declared && declared[fr]),
        cell(t),
        h('td', null, typeof t !== 'number' || typeof e !== 'number' ? '–' : below ? h('span', { class: 'below-target' }, `below by ${t - e}`) : h('span', { class: 'meets-target' }, 'meets')),
      );
    });
    const gapBlocks = FRS.filter((fr) => gaps[fr] && Array.isArray(gaps[fr].items) && gaps[fr].items.length).map((fr) =>
      h(
        'details',
        { dataset: { gapFr: fr }, open: gaps[fr].items.length <= 5 },
        h('summary', { class: 'gap-fr' }, `${fr}: target ${dash(gaps[fr].target)}, achieved ${dash(gaps[fr].achieved)} · ${gaps[fr].items.length} unmet`),
        h('ul', { class: 'reasons' }, gaps[fr].items.map((it) => h('li', null, h('span', { class: 'mono' }, it.id), ` · ${it.status}`, it.reason ? ` · ${it.reason}` : ''))),
      ),
    );
    return section(
      'SL-C against the target',
      h(
        'table',
        { id: 'sl-vector', class: 'compact' },
        h('thead', null, h('tr', null, h('th', null, 'FR'), h('th', { class: 'num' }, 'evidenced'), h('th', { class: 'num' }, 'declared'), h('th', { class: 'num' }, 'target'), h('th', null, ''))),
        h('tbody', null, rows),
      ),
      score ? null : h('p', { class: 'muted' }, 'Gaps are not available from the service; the vectors come from the device record.'),
      score ? h('p', { id: 'sl-label', class: 'muted' }, `${score.label || 'SL-C as configured'}: what this device, as it is set up now, is shown to reach (catalog ${score.catalogVersion}, rules ${score.rulesVersion}). Target: the product's claimed SL-C.`) : null,
      score && score.sl4Notes && Object.keys(score.sl4Notes).length ? h('ul', { id: 'sl4-notes', class: 'reasons muted' }, Object.entries(score.sl4Notes).map(([fr, note]) => h('li', { dataset: { fr } }, `${fr}: ${note}`))) : null,
      gapBlocks.length ? [h('h3', null, 'Gaps'), gapBlocks] : score ? h('p', { class: 'muted' }, 'No gaps against the target.') : null,
      renderLifecycleFindings(score),
    );
  }

  // ---------------------------------------------------------------- zone page

  const deviceLink = (id) => h('a', { class: 'mono', href: `#/devices/${encodeURIComponent(id)}` }, id);
  const lvl = (v) => (typeof v === 'number' ? String(v) : '–');

  /** A zone: SL-T against SL-A per FR, the devices holding each FR down, the gaps, the countermeasures, the exports. */
  async function loadZonePage(id) {
    const root = $('#zone');
    root.dataset.loaded = 'false';
    root.replaceChildren(h('p', { class: 'muted' }, 'Loading the zone…'));
    let z;
    try {
      z = await api(`/api/v1/zones/${encodeURIComponent(id)}`);
    } catch (e) {
      root.replaceChildren(h('p', null, h('a', { href: '#/' }, '← fleet')), h('p', { class: 'error' }, e.status === 404 ? 'No such zone (or not one of yours).' : `Could not load the zone: ${e.message}`));
      root.dataset.loaded = 'true';
      return;
    }
    if (state.route !== `zone:${id}`) return;
    const a = z.assessment;
    const rows = FRS.map((fr) => {
      const f = a.perFr[fr];
      const below = f.slA === null || f.slA < f.slT;
      const held = f.heldDownBy || [];
      return h(
        'tr',
        { class: below ? 'zone-below' : 'zone-ok', dataset: { fr } },
        h('td', null, fr),
        h('td', { class: 'num sl-t' }, lvl(f.slT)),
        h('td', { class: 'num sl-a' }, lvl(f.slA)),
        h('td', { class: 'num' }, lvl(f.slAWithoutCountermeasures)),
        h('td', null, below ? h('span', { class: 'below-target' }, f.slA === null ? 'no device' : `below by ${f.slT - f.slA}`) : h('span', { class: 'meets-target' }, 'meets')),
        h('td', { class: 'held-down' }, held.length ? held.slice(0, 10).map((d, i) => [i ? ', ' : '', deviceLink(d)]) : '–', held.length > 10 ? ` and ${held.length - 10} more` : ''),
      );
    });
    const gapRows = FRS.flatMap((fr) =>
      (a.perFr[fr].gaps || []).map((g) =>
        h('tr', { dataset: { fr, requirement: g.requirement } }, h('td', null, fr), h('td', { class: 'mono' }, g.requirement), h('td', { class: 'num' }, String(g.sl)), h('td', null, g.devices.slice(0, 10).map((d, i) => [i ? ', ' : '', deviceLink(d)]), g.devices.length >= 10 ? ' …' : '')),
      ),
    );
    const cms = a.countermeasures || [];
    const exportButton = (format, label) => h('button', { type: 'button', dataset: { export: format }, onclick: () => exportFile(`/api/v1/zones/${encodeURIComponent(z.id)}/assessment?format=${format}`, `assessment-zone-${z.id}.${format === 'oscal' ? 'oscal.json' : format}`).catch(report) }, label);
    root.replaceChildren(
      h('p', null, h('a', { href: '#/' }, '← fleet')),
      h('div', { class: 'device-head' }, h('h1', null, `Zone ${z.name}`), a.belowTarget.length ? h('span', { class: 'badge s-contraindicated' }, `below target: ${a.belowTarget.join(', ')}`) : h('span', { class: 'badge s-affirming' }, 'meets its target')),
      section(
        `SL-T against SL-A per FR (${a.devices} device${a.devices === 1 ? '' : 's'})`,
        h('p', { class: 'muted' }, 'SL-A is the lowest SL-C as configured among the zone’s devices, from graded evidence; a recorded compensating countermeasure raises its requirement only, and the level without countermeasures is shown beside it.'),
        h(
          'table',
          { id: 'zone-levels', class: 'compact' },
          h('thead', null, h('tr', null, h('th', null, 'FR'), h('th', { class: 'num' }, 'SL-T'), h('th', { class: 'num' }, 'SL-A'), h('th', { class: 'num' }, 'SL-A without countermeasures'), h('th', null, ''), h('th', null, 'held down by'))),
          h('tbody', null, rows),
        ),
        h('div', { class: 'exports' }, exportButton('html', 'Assessment report (HTML)'), exportButton('csv', 'CSV'), exportButton('json', 'JSON'), exportButton('oscal', 'OSCAL')),
      ),
      section(
        'Gaps against SL-T',
        gapRows.length
          ? h('table', { id: 'zone-gaps', class: 'compact' }, h('thead', null, h('tr', null, h('th', null, 'FR'), h('th', null, 'requirement'), h('th', { class: 'num' }, 'SL'), h('th', null, 'devices missing it'))), h('tbody', null, gapRows))
          : h('p', { id: 'zone-no-gaps', class: 'muted' }, 'No gaps: every requirement up to the target is met, not applicable, or covered by a countermeasure.'),
      ),
      section(
        'Compensating countermeasures',
        cms.length
          ? h(
              'table',
              { id: 'zone-countermeasures', class: 'compact' },
              h('thead', null, h('tr', null, h('th', null, 'requirement'), h('th', null, 'justification'), h('th', null, 'recorded'), h('th', null, 'raised'))),
              h('tbody', null, cms.map((c) => h('tr', null, h('td', { class: 'mono' }, c.requirement), h('td', null, c.description), h('td', null, relTime(c.recordedAt)), h('td', null, c.raised.length ? c.raised.map((r) => `${r.fr}: ${r.devices.length} device(s)`).join(', ') : 'no level raised')))),
            )
          : h('p', { class: 'muted' }, 'None recorded.'),
      ),
    );
    root.dataset.loaded = 'true';
  }

  /** Files behind the key: fetched with it in a header, then handed to the browser. */
  async function exportFile(url, fallbackName) {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${state.key}` }, cache: 'no-store' });
    if (!res.ok) throw new ApiError(res.status, `export refused: ${res.status} ${res.statusText}`);
    const name = (/filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '') || [])[1] || fallbackName;
    const href = URL.createObjectURL(await res.blob());
    const link = h('a', { href, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  }

  const FALLBACK_TEXT = {
    'no-report': 'the device has sent no hardening report',
    'attestation-not-affirming': 'its latest appraisal is not affirming',
    'stale-report': 'its report is older than the maximum age',
    'firmware-mismatch': 'its report names another firmware than the attested one',
  };

  /** Each scored item's grade (attested, observed, reported, declared), and whether the report's facts count. */
  function renderGrades(score) {
    if (!score || !Array.isArray(score.items)) return null;
    const counts = {};
    for (const it of score.items) if (it.status === 'evidenced' && it.grade) counts[it.grade] = (counts[it.grade] || 0) + 1;
    const grades = ['attested', 'observed', 'reported', 'declared'];
    const fallback = score.report && score.report.fallback;
    return section(
      'Evidence grades',
      h(
        'p',
        { id: 'report-counts', dataset: { counts: String(!!(score.report && score.report.counts)) } },
        score.report && score.report.counts
          ? 'The device’s reported facts count as evidence: the latest appraisal affirms, the report is fresh and names the attested firmware.'
          : h('span', { class: 'below-target' }, `The device’s reported facts do not count: ${FALLBACK_TEXT[fallback] || fallback || 'unknown reason'}.`),
      ),
      h('p', { id: 'grade-counts' }, 'evidenced items by grade: ', grades.map((g, i) => [i ? ' · ' : '', h('span', { class: `badge g-${g}`, dataset: { grade: g } }, g), ` ${counts[g] || 0}`])),
      h(
        'details',
        { open: false },
        h('summary', null, `all ${score.items.length} items`),
        h(
          'table',
          { id: 'grade-items', class: 'compact' },
          h('thead', null, h('tr', null, h('th', null, 'requirement'), h('th', null, 'FR'), h('th', { class: 'num' }, 'SL'), h('th', null, 'status'), h('th', null, 'grade'), h('th', null, 'reason'))),
          h(
            'tbody',
            null,
            score.items.map((it) =>
              h('tr', { dataset: { item: it.id, grade: it.grade || '' } }, h('td', { class: 'mono' }, it.id), h('td', null, `FR${it.fr}`), h('td', { class: 'num' }, String(it.sl)), h('td', null, it.status), h('td', null, it.grade ? h('span', { class: `badge g-${it.grade}` }, it.grade) : '–'), h('td', null, dash(it.reason))),
            ),
          ),
        ),
      ),
    );
  }

  /** The 62443-4-1 lifecycle's findings on the attested release, against the FR and requirement they bear on. */
  function renderLifecycleFindings(score) {
    const findings = score && Array.isArray(score.lifecycleFindings) ? score.lifecycleFindings : [];
    if (!findings.length) return score ? h('p', { id: 'lifecycle-findings-none', class: 'muted' }, 'No lifecycle findings on the attested release.') : null;
    return [
      h('h3', null, 'Lifecycle findings (IEC 62443-4-1)'),
      h(
        'table',
        { id: 'lifecycle-findings', class: 'compact' },
        h('thead', null, h('tr', null, h('th', null, 'FR'), h('th', null, 'requirement'), h('th', null, 'finding'), h('th', null, 'severity'), h('th', null, 'why'))),
        h('tbody', null, findings.map((f) => h('tr', { dataset: { code: f.code } }, h('td', null, f.fr), h('td', { class: 'mono' }, dash(f.requirement)), h('td', { class: 'mono' }, f.code), h('td', null, dash(f.severity)), h('td', null, f.reason)))),
      ),
    ];
  }

  /** The report needs the key in a header, so it is fetched and handed to the browser as a file. */
  async function exportReport(format) {
    const res = await fetch(`/api/v1/fleet/report?format=${format}`, { headers: { Authorization: `Bearer ${state.key}` }, cache: 'no-store' });
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (await res.json()).message || message;
      } catch (_) {
        /* not JSON */
      }
      throw new ApiError(res.status, `export refused: ${message}`);
    }
    const name = (/filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '') || [])[1] || `fleetguard-report.${format}`;
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------- live updates

  function setLive(text, on) {
    const el = $('#live');
    el.textContent = text;
    el.classList.toggle('on', !!on);
  }

  async function streamTicket() {
    const res = await fetch('/api/v1/events/tickets', { method: 'POST', headers: { Authorization: `Bearer ${state.key}`, Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(`ticket: HTTP ${res.status}`);
    return (await res.json()).ticket;
  }

  async function startLive(attempt = 0) {
    stopLive();
    if (!window.EventSource) return startPolling();
    // EventSource cannot send headers, and a key in a URL ends up in logs: the key buys a
    // single-use, short-lived ticket (in a header) and the ticket opens the stream.
    let ticket;
    try {
      ticket = await streamTicket();
    } catch (_) {
      return startPolling();
    }
    const es = new EventSource(`/api/v1/events?ticket=${encodeURIComponent(ticket)}`);
    state.events = es;
    const onEvent = (ev) => {
      let data = null;
      try {
        data = ev && ev.data ? JSON.parse(ev.data) : null;
      } catch (_) {
        data = null;
      }
      scheduleRefresh(data);
    };
    es.onopen = () => {
      attempt = 0;
      setLive('live', true);
    };
    es.onmessage = onEvent;
    for (const t of EVENT_TYPES) es.addEventListener(t, onEvent);
    es.onerror = () => {
      // A ticket opens one stream: any reconnect needs a fresh one, so reconnect by hand.
      es.close();
      if (state.events !== es) return;
      state.events = null;
      if (attempt >= 3) return startPolling();
      setLive('reconnecting…', false);
      state.liveTimer = setTimeout(() => void startLive(attempt + 1), 1000 * (attempt + 1));
    };
  }

  function startPolling() {
    setLive(`polling every ${POLL_MS / 1000} s`, false);
    clearInterval(state.pollTimer);
    state.pollTimer = setInterval(() => scheduleRefresh(null), POLL_MS);
  }

  function stopLive() {
    if (state.events) state.events.close();
    state.events = null;
    clearTimeout(state.liveTimer);
    clearInterval(state.pollTimer);
    state.pollTimer = null;
    setLive('offline', false);
  }

  /** Many events can come at once (a fleet reconnecting): refresh at most once a second. */
  function scheduleRefresh(data) {
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = null;
      refresh(data).catch(report);
    }, 1000);
  }

  async function refresh(data) {
    if (!state.key) return;
    if (state.route && state.route.startsWith('device:')) {
      const id = state.route.slice('device:'.length);
      if (!data || !data.deviceId || data.deviceId === id) await loadDevicePage(id);
      return;
    }
    if (state.route && state.route.startsWith('zone:')) {
      await loadZonePage(state.route.slice('zone:'.length));
      return;
    }
    await Promise.all([loadSummary(), loadFailing(), loadDevices(), loadExposure().catch(() => undefined), loadPkiAudit().catch(() => undefined)]);
  }

  // ---------------------------------------------------------------- routing

  function report(e) {
    if (e instanceof ApiError && e.status === 401) return;
    showError(`Something went wrong: ${e && e.message ? e.message : e}`);
  }

  function route() {
    if (!state.key) return showLogin();
    showError('');
    $('#login').hidden = true;
    $('#signout').hidden = false;
    $('#refresh').hidden = false;
    const m = /^#\/devices\/(.+)$/.exec(location.hash);
    const zm = /^#\/zones\/(.+)$/.exec(location.hash);
    $('#zone').hidden = !zm;
    if (zm) {
      const id = decodeURIComponent(zm[1]);
      state.route = `zone:${id}`;
      $('#overview').hidden = true;
      $('#device').hidden = true;
      window.scrollTo(0, 0);
      loadZonePage(id).catch(report);
    } else if (m) {
      const id = decodeURIComponent(m[1]);
      state.route = `device:${id}`;
      $('#overview').hidden = true;
      $('#device').hidden = false;
      window.scrollTo(0, 0);
      loadDevicePage(id).catch(report);
    } else {
      state.route = 'overview';
      $('#device').hidden = true;
      $('#overview').hidden = false;
      loadOverview().catch(report);
    }
  }

  function start() {
    $('#login').hidden = true;
    void startLive();
    route();
  }

  /** The status cards and the integrity filter's options, one per status the service knows. */
  function renderStatusControls() {
    const cards = $('#status-cards');
    const first = cards.firstElementChild;
    for (const st of STATUSES) {
      cards.insertBefore(h('button', { type: 'button', class: `card s-${st}`, dataset: { status: st } }, h('span', { class: 'count', dataset: { count: st } }, '–'), h('span', { class: 'label' }, st)), first);
    }
    $('#filter-status').append(...STATUSES.map((st) => h('option', { value: st }, st)));
  }

  function wire() {
    renderStatusControls();
    $('#login-form').addEventListener('submit', login);
    $('#signout').addEventListener('click', () => forgetKey(''));
    $('#refresh').addEventListener('click', () => refresh(null).catch(report));
    $('#filter-status').addEventListener('change', (e) => setFilters({ status: e.target.value }));
    $('#filter-product').addEventListener('change', (e) => setFilters({ productId: e.target.value }));
    $('#filter-below').addEventListener('change', (e) => setFilters({ belowTarget: e.target.value }));
    $('#filter-clear').addEventListener('click', () => setFilters({ status: '', productId: '', belowTarget: '' }));
    $('#export-csv').addEventListener('click', () => exportReport('csv').catch(report));
    $('#export-json').addEventListener('click', () => exportReport('json').catch(report));
    for (const card of document.querySelectorAll('.card[data-status]')) {
      card.addEventListener('click', () => setFilters({ status: state.filters.status === card.dataset.status ? '' : card.dataset.status }));
    }
    $('.card[data-below]').addEventListener('click', () => setFilters({ belowTarget: state.filters.belowTarget === 'true' ? '' : 'true' }));
    $('#next-page').addEventListener('click', () => {
      if (!state.next) return;
      state.cursors.push(state.next);
      loadDevices().catch(report);
    });
    $('#prev-page').addEventListener('click', () => {
      if (state.cursors.length <= 1) return;
      state.cursors.pop();
      loadDevices().catch(report);
    });
    window.addEventListener('hashchange', route);
  }

  wire();
  if (state.key) start();
  else showLogin();
})();

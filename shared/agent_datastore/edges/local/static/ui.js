// Agent Data Store viewer: talks only to the public API (POST /v1/...).
// Namespaces and keys travel in JSON bodies, never in URL paths, and every
// piece of stored data reaches the page through textContent, never as HTML.
"use strict";
(function () {
  const PAGE = 50;
  const state = { namespace: null, key: null, prefix: "", cursors: [null], page: 0, record: null };
  const $ = (id) => document.getElementById(id);

  function headers() {
    const h = { "Content-Type": "application/json" };
    const user = $("user").value.trim();
    const token = $("token").value.trim();
    if (token) h["Authorization"] = "Bearer " + token;
    else if (user) h["X-User-Id"] = user;
    const agent = $("agent").value.trim();
    if (agent) h["X-Agent-Name"] = agent;
    return h;
  }

  async function call(operation, body) {
    const response = await fetch("/v1/" + operation, { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new Error((error.code || response.status) + ": " + (error.message || response.statusText));
    }
    return data;
  }

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  // A namespace or key as text nodes with a <wbr> after each ':' and '/', so that a long
  // name wraps at its separators (CSS adds '-'), not in the middle of a word.
  function fillName(element, name) {
    element.replaceChildren();
    for (const part of name.split(/(?<=[:/])/)) {
      if (element.firstChild) element.appendChild(document.createElement("wbr"));
      element.appendChild(document.createTextNode(part));
    }
    element.title = name;
    return element;
  }

  // A clickable name in a table cell: a real button, so the keyboard reaches it too.
  function nameCell(row, name, onPick) {
    const td = cell(row, "", "name");
    const button = fillName(document.createElement("button"), name);
    button.className = "pick";
    button.addEventListener("click", () => guard(onPick));
    td.appendChild(button);
    return td;
  }

  function formatBytes(n) {
    if (n < 1024) return n + "\u00a0B";
    if (n < 1048576) return (n / 1024).toFixed(1) + "\u00a0KiB";
    return (n / 1048576).toFixed(2) + "\u00a0MiB";
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // "just now", "12 min ago", "3 hours ago", "in 59 min", "2 days ago"...
  function relative(iso, now) {
    const seconds = (Date.parse(iso) - now) / 1000;
    const size = Math.abs(seconds);
    if (size < 45) return seconds <= 0 ? "just now" : "in a few seconds";
    const steps = [[3600, 60, "min"], [86400, 3600, "hour"], [2592000, 86400, "day"],
                   [31536000, 2592000, "month"], [Infinity, 31536000, "year"]];
    for (const [below, unit, word] of steps) {
      if (size < below - unit / 2) {
        const n = Math.max(1, Math.round(size / unit));
        const text = word === "min" ? n + " min" : plural(n, word);
        return seconds < 0 ? text + " ago" : "in " + text;
      }
    }
    return iso;
  }

  // <time datetime="2026-12-02T18:35:48.785Z" title="2026-12-02T18:35:48.785Z">3 min ago</time>
  function timeElement(iso) {
    const time = document.createElement("time");
    time.dateTime = iso;
    time.title = iso;
    time.textContent = relative(iso, Date.now());
    return time;
  }

  function refreshTimes() {
    const now = Date.now();
    for (const time of document.querySelectorAll("time[datetime]")) {
      time.textContent = relative(time.dateTime, now);
    }
  }

  async function guard(action) {
    try {
      await action();
    } catch (error) {
      status(String(error.message || error), true);
    }
  }

  function user() {
    return $("user").value.trim() || "local";
  }

  function shellQuote(text) {
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  // What a user with no data can do about it: the exact command for this server and this user.
  function showEmpty(empty) {
    $("empty").hidden = !empty;
    document.querySelector("main").classList.toggle("alone", empty);
    $("namespaces").hidden = empty;
    if (!empty) return;
    const origin = window.location.origin;
    const tokenMode = document.body.dataset.auth !== "none";
    const example = '{"namespace": "notes", "key": "hello", "value": {"text": "world"}}';
    const who = tokenMode ? '-H "Authorization: Bearer $TOKEN"' : "-H " + shellQuote("X-User-Id: " + user());
    $("empty-title").textContent = tokenMode
      ? "No data for this token's user yet."
      : "No data for user " + JSON.stringify(user()) + " yet.";
    $("empty-curl").textContent = "curl -s " + origin + "/v1/set \\\n  " + who + " \\\n  -d '" + example + "'";
    // The SDK sends no X-User-Id: without a token it acts as the user "local".
    const sdk = tokenMode || user() === "local";
    $("empty-sdk-block").hidden = !sdk;
    $("empty-sdk").textContent = "from agent_datastore_sdk import DataStore\n\n" +
      "notes = DataStore(" + JSON.stringify(origin) + (tokenMode ? ", token=\"<your token>\"" : "") +
      ", namespace=\"notes\")\nnotes.set(\"hello\", {\"text\": \"world\"})";
  }

  async function loadNamespaces() {
    const needToken = document.body.dataset.auth !== "none" && !$("token").value.trim();
    $("need-token").hidden = !needToken;
    document.querySelector("main").classList.toggle("alone", needToken);
    if (needToken) {
      $("namespaces").hidden = true;
      $("empty").hidden = true;
      $("ns-count").textContent = "";
      status("no token", false);
      return;
    }
    status("loading…", false);
    const data = await call("stats", {});
    const body = $("namespaces").querySelector("tbody");
    body.replaceChildren();
    for (const row of data.namespaces) {
      const tr = document.createElement("tr");
      tr.dataset.namespace = row.namespace;
      if (row.namespace === state.namespace) tr.className = "selected";
      nameCell(tr, row.namespace, () => selectNamespace(row.namespace));
      cell(tr, String(row.keys), "num");
      cell(tr, formatBytes(row.bytes), "num").title = row.bytes + " bytes (values and metadata as compact JSON)";
      cell(tr, "", "when").appendChild(timeElement(row.updatedAt));
      body.appendChild(tr);
    }
    $("ns-count").textContent = plural(data.namespaces.length, "namespace");
    showEmpty(data.namespaces.length === 0);
    status("loaded " + new Date().toLocaleTimeString("en-GB"), false);
  }

  async function selectNamespace(namespace) {
    state.namespace = namespace;
    state.cursors = [null];
    state.page = 0;
    showRecord(null);
    for (const tr of $("namespaces").querySelectorAll("tbody tr")) {
      tr.className = tr.dataset.namespace === namespace ? "selected" : "";
    }
    const title = fillName(document.createElement("span"), namespace);
    title.className = "name";
    $("keys-title").replaceChildren("Keys of ", title);
    $("no-namespace").hidden = true;
    $("keys-tools").hidden = false;
    await loadKeys();
  }

  async function loadKeys() {
    if (state.namespace === null) return;
    const request = { namespace: state.namespace, limit: PAGE };
    if (state.prefix) request.prefix = state.prefix;
    const cursor = state.cursors[state.page];
    if (cursor) request.cursor = cursor;
    const data = await call("list_keys", request);
    state.cursors[state.page + 1] = data.next_cursor;
    const body = $("keys").querySelector("tbody");
    body.replaceChildren();
    for (const key of data.keys) {
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      if (key === state.key) tr.className = "selected";
      nameCell(tr, key, () => selectKey(key));
      const actions = cell(tr, "", "actions");
      const remove = document.createElement("button");
      remove.textContent = "delete";
      remove.className = "danger";
      remove.title = "delete this key";
      remove.addEventListener("click", () => guard(() => deleteKey(key, null)));
      actions.appendChild(remove);
      body.appendChild(tr);
    }
    const none = data.keys.length === 0;
    $("no-keys").hidden = !none;
    $("no-keys").textContent = state.prefix
      ? "No key starts with " + JSON.stringify(state.prefix) + "."
      : "This namespace has no keys (any more): press Refresh.";
    $("page").textContent = "page " + (state.page + 1);
    $("prev").disabled = state.page === 0;
    $("next").disabled = !data.next_cursor;
  }

  async function selectKey(key) {
    const data = await call("get", { namespace: state.namespace, key: key, include_record: true, track_access: false });
    for (const tr of $("keys").querySelectorAll("tbody tr")) {
      tr.className = tr.dataset.key === key ? "selected" : "";
    }
    if (!data.found) {
      showRecord(null);
      status("key " + JSON.stringify(key) + " no longer exists", true);
      return;
    }
    state.key = key;
    showRecord(data.record);
  }

  function showRecord(record) {
    state.record = record;
    $("record").hidden = record === null;
    $("no-record").hidden = record !== null;
    if (record === null) {
      state.key = null;
      return;
    }
    fillName($("record-key"), record.key);
    $("record-value").textContent = JSON.stringify(record.value, null, 2);
    $("record-size").textContent = formatBytes(new TextEncoder().encode(JSON.stringify(record.value)).length) + " as compact JSON";
    const metadata = record.metadata;
    const noMetadata = metadata === null || (typeof metadata === "object" && Object.keys(metadata).length === 0);
    $("record-metadata").textContent = noMetadata ? "none" : JSON.stringify(metadata, null, 2);
    $("record-metadata").classList.toggle("muted", noMetadata);
    const fields = $("record-fields");
    fields.replaceChildren();
    for (const name of ["namespace", "version", "createdByAgent", "lastAccessedByAgent", "accessCount",
                        "createdAt", "updatedAt", "expiresAt"]) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      const value = record[name];
      if (value === null || value === undefined) {
        dd.textContent = name === "expiresAt" ? "never" : "—";
        dd.className = "muted";
      } else if (name.endsWith("At")) {
        dd.appendChild(timeElement(value));
      } else if (name === "namespace") {
        fillName(dd, value).className = "name";
      } else {
        dd.textContent = String(value);
      }
      fields.append(dt, dd);
    }
  }

  async function deleteKey(key, version) {
    if (!window.confirm("Delete key " + JSON.stringify(key) + " from namespace " + JSON.stringify(state.namespace) + "?")) {
      return;
    }
    const request = { namespace: state.namespace, key: key };
    if (version !== null) request.if_version = version; // do not delete a value changed since it was shown
    const data = await call("delete", request);
    status(data.deleted ? "deleted " + JSON.stringify(key) : JSON.stringify(key) + " was already gone", false);
    if (state.key === key) showRecord(null);
    await loadNamespaces();
    await loadKeys();
  }

  function start() {
    const auth = document.body.dataset.auth;
    $("user-field").hidden = auth !== "none";
    $("token-field").hidden = auth === "none"; // without auth the server reads X-User-Id only
    window.setInterval(refreshTimes, 30000);
    $("refresh").addEventListener("click", () => guard(loadNamespaces));
    $("prefix").addEventListener("change", () => guard(async () => {
      state.prefix = $("prefix").value;
      state.cursors = [null];
      state.page = 0;
      await loadKeys();
    }));
    $("prev").addEventListener("click", () => guard(async () => { state.page -= 1; await loadKeys(); }));
    $("next").addEventListener("click", () => guard(async () => { state.page += 1; await loadKeys(); }));
    $("record-delete").addEventListener("click", () => guard(() => deleteKey(state.record.key, state.record.version)));
    for (const id of ["user", "token"]) {
      $(id).addEventListener("change", () => guard(async () => {
        state.namespace = null;
        showRecord(null);
        $("keys").querySelector("tbody").replaceChildren();
        $("keys-title").textContent = "Keys";
        $("no-namespace").hidden = false;
        $("keys-tools").hidden = true;
        $("no-keys").hidden = true;
        await loadNamespaces();
      }));
    }
    guard(loadNamespaces);
  }

  start();
})();

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

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(2) + " MiB";
  }

  async function guard(action) {
    try {
      await action();
    } catch (error) {
      status(String(error.message || error), true);
    }
  }

  async function loadNamespaces() {
    const data = await call("stats", {});
    const body = $("namespaces").querySelector("tbody");
    body.replaceChildren();
    for (const row of data.namespaces) {
      const tr = document.createElement("tr");
      tr.dataset.namespace = row.namespace;
      if (row.namespace === state.namespace) tr.className = "selected";
      const name = cell(tr, row.namespace, "name");
      name.addEventListener("click", () => guard(() => selectNamespace(row.namespace)));
      cell(tr, String(row.keys), "num");
      cell(tr, formatBytes(row.bytes), "num");
      cell(tr, row.updatedAt);
      body.appendChild(tr);
    }
    $("ns-count").textContent = data.namespaces.length + " namespaces";
    status("ready", false);
  }

  async function selectNamespace(namespace) {
    state.namespace = namespace;
    state.cursors = [null];
    state.page = 0;
    showRecord(null);
    for (const tr of $("namespaces").querySelectorAll("tbody tr")) {
      tr.className = tr.dataset.namespace === namespace ? "selected" : "";
    }
    $("keys-title").textContent = "Keys of " + namespace;
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
      const name = cell(tr, key, "name");
      name.addEventListener("click", () => guard(() => selectKey(key)));
      const actions = cell(tr, "");
      const remove = document.createElement("button");
      remove.textContent = "delete";
      remove.className = "danger";
      remove.title = "delete this key";
      remove.addEventListener("click", () => guard(() => deleteKey(key, null)));
      actions.appendChild(remove);
      body.appendChild(tr);
    }
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
    $("record-key").textContent = record.key;
    $("record-value").textContent = JSON.stringify(record.value, null, 2);
    $("record-metadata").textContent = JSON.stringify(record.metadata, null, 2);
    const fields = $("record-fields");
    fields.replaceChildren();
    for (const name of ["namespace", "version", "createdByAgent", "lastAccessedByAgent", "accessCount",
                        "createdAt", "updatedAt", "expiresAt"]) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = record[name] === null ? "—" : String(record[name]);
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
        await loadNamespaces();
      }));
    }
    guard(loadNamespaces);
  }

  start();
})();

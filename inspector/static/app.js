// sparring inspector: the episode list (live, over server-sent events) and the episode view.
//
// Model output is untrusted. Everything here is built with createElement and textContent (the
// `h` helper below); no string is ever parsed as HTML, and the server's Content-Security-Policy
// forbids inline script, so a <script> inside an agent's message is shown, never run.
"use strict";

const FILTERS = ["search", "game", "role", "verdict", "min_reward", "max_reward", "version"];
const ROLES = ["proposer", "solver", "verifier", "judge", "planner", "refiner"];

const state = {
  source: null, // EventSource
  rows: new Map(), // episode id -> <li>
  pending: [], // summaries received but not yet drawn (drawn once per animation frame)
  ready: false,
  selected: null, // episode id
  episode: null, // the open episode (full)
  tab: "conversation",
  games: new Set(),
  roles: new Set(),
  verdictNames: new Set(),
};

// ---------- DOM helpers (text only, never HTML) ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

function fmtTime(unix) {
  const d = new Date(unix * 1000);
  const today = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour12: false });
  return today ? time : `${d.toLocaleDateString()} ${time}`;
}

function fmtSeconds(s) {
  if (s >= 60) return `${(s / 60).toFixed(1)} min`;
  if (s >= 1) return `${s.toFixed(2)} s`;
  return `${(s * 1000).toFixed(s >= 0.01 ? 0 : 1)} ms`;
}

function fmtNum(x) {
  if (x === null || x === undefined) return "–";
  return Number.isInteger(x) ? String(x) : x.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
}

function roleBadge(role) {
  return h("span", { class: `role role-${ROLES.includes(role) ? role : "other"}` }, role);
}

function rewardClass(r) {
  return r > 0 ? "pos" : r < 0 ? "neg" : "zero";
}

// ---------- filters and the live stream ----------

function readFilters() {
  const values = {};
  for (const el of $("filters").elements) {
    if (el.name && el.value.trim() !== "") values[el.name] = el.value.trim();
  }
  return values;
}

function writeFilters(values) {
  for (const el of $("filters").elements) if (el.name) el.value = values[el.name] || "";
}

function connect() {
  if (state.source) state.source.close();
  const filters = readFilters();
  const query = new URLSearchParams(filters).toString();
  const keep = new URLSearchParams(query);
  const url = `${location.pathname}${query ? "?" + query : ""}${location.hash}`;
  history.replaceState(null, "", url);
  state.rows.clear();
  state.pending = [];
  state.ready = false;
  $("episodes").replaceChildren();
  updateCount();
  const source = new EventSource(`/api/stream?${keep}`);
  state.source = source;
  setLive("connecting");
  source.addEventListener("open", () => { if (!state.ended) setLive("live"); });
  source.addEventListener("error", () => { if (!state.ended) setLive("reconnecting"); });
  source.addEventListener("episode", (ev) => {
    state.pending.push(JSON.parse(ev.data));
    scheduleDraw();
  });
  source.addEventListener("ready", (ev) => {
    drawPending();
    state.ready = true;
    showStatus(JSON.parse(ev.data));
  });
  source.addEventListener("status", (ev) => showStatus(JSON.parse(ev.data)));
}

function setLive(what) {
  const el = $("live");
  state.ended = what === "ended";  // a finished run stays "ended", whatever the stream does
  el.dataset.state = what;
  el.textContent = what;
}

function showStatus(status) {
  $("run").textContent = status.run || "";
  if (status.ended) setLive("ended");
  const box = $("status");
  box.hidden = !status.error;
  box.textContent = status.error || "";
}

function remember(list, seen, value) {
  if (seen.has(value)) return;
  seen.add(value);
  $(list).append(h("option", { value }));
}

let drawScheduled = false;
function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    drawPending();
  });
}

function drawPending() {
  if (!state.pending.length) return;
  const fragment = document.createDocumentFragment();
  // Events arrive oldest first; the list shows newest first.
  for (const summary of state.pending.reverse()) {
    if (state.rows.has(summary.id)) continue;
    const row = episodeRow(summary);
    if (state.ready) row.classList.add("fresh");
    state.rows.set(summary.id, row);
    fragment.append(row);
    remember("games", state.games, summary.game);
    // Whatever roles and verdicts a game has become suggestions in the filter boxes.
    for (const role of summary.roles) remember("roles", state.roles, role);
    for (const v of summary.verdicts) {
      remember("verdicts", state.verdictNames, v.name);
      remember("verdicts", state.verdictNames, `!${v.name}`);
    }
  }
  state.pending = [];
  $("episodes").prepend(fragment);
  updateCount();
}

function updateCount() {
  const n = state.rows.size;
  $("count").textContent = `${n} episode${n === 1 ? "" : "s"}${Object.keys(readFilters()).length ? " match" : ""}`;
  $("list-empty").hidden = n > 0;
}

function episodeRow(s) {
  const verdicts = s.verdicts.map((v) =>
    h("span", { class: `badge ${v.ok === v.total ? "ok" : v.ok === 0 ? "bad" : "mixed"}` },
      v.total > 1 ? `${v.name} ${v.ok}/${v.total}` : `${v.name} ${v.ok ? "✓" : "✗"}`));
  const rewards = Object.entries(s.rewards).map(([role, r]) =>
    h("span", { class: `reward ${rewardClass(r)}`, title: `mean ${role} reward` }, `${role} ${fmtNum(r)}`));
  const row = h("li", { class: "episode", tabindex: "0", dataset: { id: s.id } },
    h("div", { class: "row-top" },
      h("span", { class: "game" }, s.game),
      h("span", { class: "headline" }, s.headline)),
    h("div", { class: "row-meta" },
      h("span", { class: "when" }, fmtTime(s.started_at)),
      h("span", { class: "version", title: "policy version" }, `v${s.policy_version}`),
      verdicts, rewards,
      s.errors ? h("span", { class: "badge bad" }, `${s.errors} error${s.errors > 1 ? "s" : ""}`) : null,
      h("span", { class: "dim" }, `${s.tokens} tok · ${fmtSeconds(s.duration_s)}`)));
  row.addEventListener("click", () => openEpisode(s.id));
  if (s.id === state.selected) row.classList.add("selected");
  return row;
}

// ---------- one episode ----------

async function openEpisode(id) {
  state.selected = id;
  for (const row of document.querySelectorAll(".episode.selected")) row.classList.remove("selected");
  const row = state.rows.get(id);
  if (row) row.classList.add("selected");
  if (location.hash !== `#${id}`) history.replaceState(null, "", `${location.pathname}${location.search}#${id}`);
  const response = await fetch(`/api/episodes/${encodeURIComponent(id)}`);
  if (!response.ok) {
    $("detail").replaceChildren(h("div", { class: "placeholder" }, await response.text()));
    return;
  }
  const data = await response.json();
  if (state.selected !== id) return; // another episode was opened meanwhile
  state.episode = data.episode;
  state.trained = data.trained || {};
  renderEpisode();
}

function rewardsBySample(ep) {
  // The advantage the trainer trained each sample with, from its ledger (`trained`); a sample
  // it has not trained (yet, or ever: no signal, too stale) has none.
  const trained = state.trained || {};
  const bySample = new Map();
  for (const r of ep.rewards) {
    const t = trained[r.sample_id];
    const advantage = t && t.advantage !== null && t.advantage !== undefined ? t.advantage : undefined;
    bySample.set(r.sample_id, { ...r, advantage, step: t ? t.step : undefined });
  }
  return bySample;
}

function verdictsBySample(ep) {
  const map = new Map();
  for (const v of ep.verdicts) {
    if (!v.sample_id) continue;
    if (!map.has(v.sample_id)) map.set(v.sample_id, []);
    map.get(v.sample_id).push(v);
  }
  return map;
}

function comparableGroups(ep) {
  // Turns that answered the same question: by reward group, else by role and node.
  const rewards = rewardsBySample(ep);
  const groups = new Map();
  ep.turns.forEach((turn, i) => {
    const r = turn.sample_id ? rewards.get(turn.sample_id) : null;
    const key = r ? `group …${r.group_id.slice(-8)}` : `${turn.role} · ${turn.node}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ turn, index: i });
  });
  return [...groups.entries()].filter(([, members]) => members.length > 1);
}

function renderEpisode() {
  const ep = state.episode;
  if (!ep) return;
  const tokens = ep.turns.reduce((a, t) => a + t.prompt_tokens + t.completion_tokens, 0);
  const compare = comparableGroups(ep);
  if (state.tab === "compare" && !compare.length) state.tab = "conversation";
  const tabs = [
    ["conversation", `Conversation (${ep.turns.length})`],
    ["compare", `Side by side${compare.length ? "" : " (none)"}`],
    ["graph", `Graph & timing (${ep.path.length})`],
    ["raw", "JSON"],
  ];
  const params = Object.entries(ep.task.params).map(([k, v]) =>
    h("span", { class: "param" }, h("span", { class: "param-key" }, k), " ", typeof v === "string" ? v : JSON.stringify(v)));
  $("detail").replaceChildren(append(document.createDocumentFragment(), [
    h("header", { class: "ep-header" },
      h("div", { class: "ep-title" },
        h("span", { class: "game" }, ep.game),
        h("span", { class: "ep-id", title: "episode id" }, ep.id),
        ep.task.split === "eval" ? h("span", { class: "badge mixed" }, "eval") : null),
      h("div", { class: "ep-task" }, h("span", { class: "label" }, "task"), params.length ? params : "(no parameters)"),
      h("div", { class: "ep-meta" },
        meta("version", `v${ep.policy_version}`), meta("worker", ep.worker || "–"),
        meta("started", fmtTime(ep.started_at)), meta("took", fmtSeconds(ep.duration_s)),
        meta("tokens", String(tokens)),
        Object.entries(ep.stats).map(([k, v]) => meta(k, fmtNum(v))))),
    ep.errors.length ? h("section", { class: "errors" }, h("h3", {}, "Errors"), ep.errors.map((e) => h("pre", {}, e))) : null,
    outcome(ep),
    h("nav", { class: "tabs" }, tabs.map(([key, label]) =>
      h("button", { type: "button", class: `tab${state.tab === key ? " active" : ""}`, disabled: key === "compare" && !compare.length,
        dataset: { tab: key }, onclick: () => { state.tab = key; renderEpisode(); } }, label))),
    h("section", { class: `tab-body tab-${state.tab}` },
      state.tab === "conversation" ? conversation(ep)
        : state.tab === "compare" ? sideBySide(ep, compare)
        : state.tab === "graph" ? graphView(ep)
        : h("pre", { class: "raw" }, JSON.stringify(ep, null, 2)))]));
}

function meta(label, value) {
  return h("span", { class: "meta" }, h("span", { class: "label" }, label), " ", value);
}

function outcome(ep) {
  const rewards = rewardsBySample(ep);
  const verdicts = ep.verdicts.map((v) =>
    h("li", { class: `verdict ${v.ok ? "ok" : "bad"}` },
      h("span", { class: "verdict-mark" }, v.ok ? "✓" : "✗"), roleBadge(v.role),
      h("span", { class: "verdict-name" }, v.name),
      h("span", { class: "verdict-reason" }, v.reason || "")));
  const rows = [...rewards.values()].map((r) =>
    h("tr", {},
      h("td", {}, roleBadge(r.role)),
      h("td", { class: `num ${rewardClass(r.reward)}` }, fmtNum(r.reward)),
      h("td", { class: "num", title: r.step === undefined ? "not trained (yet)" : `trained at step ${r.step}` }, r.advantage === undefined ? "–" : fmtNum(r.advantage)),
      h("td", { class: "mono dim" }, r.group_id.slice(-8)),
      h("td", { class: "mono dim" }, r.sample_id.slice(-8)),
      h("td", {}, r.reason)));
  return h("section", { class: "outcome" },
    h("div", {}, h("h3", {}, "Verdicts"),
      verdicts.length ? h("ul", { class: "verdicts" }, verdicts) : h("p", { class: "dim" }, "No checked verdicts.")),
    h("div", {}, h("h3", {}, "Rewards"),
      rows.length ? h("table", { class: "rewards" },
        h("thead", {}, h("tr", {}, ["role", "reward", "advantage", "group", "sample", "why"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)) : h("p", { class: "dim" }, "No rewards assigned.")));
}

// ---------- calls that answered a tool call (sub-agents) ----------

function callLinks(ep) {
  // A tool that runs another role (hiersearch's sub-agents) names the calls that answered it in
  // `data.calls`; those turns are drawn under that tool call. An id named twice goes under the
  // first parent (in turn order), a link that would close a cycle is dropped, so the links form
  // a forest and every turn is drawn exactly once. Returns the turn indices under each tool
  // call (keyed "turn:call") and the top-level turns, each in ep.turns order.
  const byId = new Map();
  ep.turns.forEach((turn, i) => { if (turn.call_id && !byId.has(turn.call_id)) byId.set(turn.call_id, i); });
  const under = new Map(), parent = new Map();
  const isAncestor = (j, i) => { for (let k = i; k !== undefined; k = parent.get(k)) if (k === j) return true; return false; };
  ep.turns.forEach((turn, i) => turn.tool_calls.forEach((call, c) => {
    const ids = call.data && Array.isArray(call.data.calls) ? call.data.calls : [];
    for (const id of ids) {
      const j = byId.get(id);
      if (j === undefined || parent.has(j) || isAncestor(j, i)) continue;
      parent.set(j, i);
      const key = `${i}:${c}`;
      if (!under.has(key)) under.set(key, []);
      under.get(key).push(j);
    }
  }));
  const roots = ep.turns.map((_, i) => i).filter((i) => !parent.has(i));
  return { under, roots };
}

function conversation(ep) {
  const rewards = rewardsBySample(ep);
  const verdicts = verdictsBySample(ep);
  if (!ep.turns.length) return h("p", { class: "dim" }, "No turns recorded.");
  const links = callLinks(ep);
  const card = (i) => turnCard(ep.turns[i], i, rewards, verdicts, false, { links, card, turns: ep.turns });
  return h("ol", { class: "turns" }, links.roots.map(card));
}

function turnCard(turn, i, rewards, verdicts, compact = false, nest = null) {
  const r = turn.sample_id ? rewards.get(turn.sample_id) : null;
  const vs = turn.sample_id ? verdicts.get(turn.sample_id) || [] : [];
  const prompt = turn.messages;
  return h("li", { class: `turn turn-${turn.role}` },
    h("div", { class: "turn-head" },
      h("span", { class: "turn-index" }, `#${i + 1}`), roleBadge(turn.role),
      h("span", { class: "node", title: "graph node" }, turn.node),
      h("span", { class: "dim" }, `v${turn.policy_version}`),
      h("span", { class: "dim", title: "prompt → completion tokens" }, `${turn.prompt_tokens} → ${turn.completion_tokens} tok`),
      h("span", { class: "dim" }, fmtSeconds(turn.duration_s)),
      vs.map((v) => h("span", { class: `badge ${v.ok ? "ok" : "bad"}`, title: v.reason }, `${v.name} ${v.ok ? "✓" : "✗"}`)),
      r ? h("span", { class: `reward ${rewardClass(r.reward)}`, title: r.reason }, `reward ${fmtNum(r.reward)}`) : null,
      r && r.advantage !== undefined ? h("span", { class: "dim", title: `the trainer's advantage (step ${r.step})` }, `adv ${fmtNum(r.advantage)}`) : null),
    compact || !prompt.length ? null : h("details", { class: "prompt" },
      h("summary", {}, `Prompt · ${prompt.length} message${prompt.length > 1 ? "s" : ""}`,
        h("span", { class: "preview" }, preview(prompt[prompt.length - 1].content))),
      h("div", { class: "messages" }, prompt.map((m) =>
        h("div", { class: `msg msg-${m.role}` }, h("div", { class: "msg-role" }, m.role), h("div", { class: "text" }, m.content))))),
    h("div", { class: "msg msg-assistant completion" },
      h("div", { class: "msg-role" }, `${turn.role} wrote`),
      h("div", { class: "text" }, turn.completion || "(empty)")),
    turn.tool_calls.length ? h("div", { class: "tools" }, turn.tool_calls.map((call, c) =>
      toolCall(call, nest ? { cards: subCalls(nest, nest.links.under.get(`${i}:${c}`) || []) } : undefined))) : null,
    turn.parsed !== null && turn.parsed !== undefined ? h("div", { class: "parsed" },
      h("span", { class: "label" }, "parsed"), h("code", {}, typeof turn.parsed === "string" ? turn.parsed : JSON.stringify(turn.parsed))) : null);
}

function preview(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 110 ? flat.slice(0, 109) + "…" : flat;
}

function subCalls(nest, indices) {
  // The turns that answered one tool call, each its own card, indented under the tool's result.
  if (!indices.length) return null;
  return h("ol", { class: "sub-turns" }, indices.map((j) => {
    const turn = nest.turns[j];
    return h("li", { class: "sub-call" },
      h("details", { open: true },
        h("summary", {}, "answered by ", h("span", { class: "sub-role" }, turn.role), " (", h("span", { class: "node" }, turn.node), ")"),
        h("ol", { class: "sub-card" }, nest.card(j))));
  }));
}

function toolCall(call, sub = undefined) {
  // `sub`: in the conversation, the cards of the turns that answered this call (or null).
  const args = Object.entries(call.arguments).map(([k, v]) =>
    h("span", { class: "arg" }, h("span", { class: "param-key" }, k), "=", typeof v === "string" ? v : JSON.stringify(v)));
  return h("div", { class: `tool${call.error ? " failed" : ""}` },
    h("div", { class: "tool-head" },
      h("span", { class: "tool-name" }, call.name), h("span", { class: "tool-args" }, args),
      h("span", { class: "dim" }, fmtSeconds(call.duration_s))),
    call.error ? h("div", { class: "tool-error" }, call.error) : null,
    toolResult(call.result),
    toolData(call.data || {}, sub !== undefined),
    sub ? sub.cards : null);
}

function toolData(data, nested = false) {
  // What the tool kept for the record and the model never read (a search's hit ids and scores).
  if (Array.isArray(data.calls)) return delegationData(data, nested);
  const entries = Object.entries(data);
  if (!entries.length) return null;
  const show = (v) => Array.isArray(v)
    ? v.map((x) => (x && typeof x === "object" ? Object.values(x).map((y) => typeof y === "number" ? fmtNum(y) : String(y)).join(" ") : String(x))).join(" · ")
    : (typeof v === "string" ? v : JSON.stringify(v));
  return h("div", { class: "tool-data dim" },
    entries.map(([k, v]) => h("div", {}, h("span", { class: "param-key" }, k), " ", show(v))));
}

function delegationData(data, nested) {
  // A sub-agent call's record: which documents its refiner kept and dropped, and how it refined.
  // The calls themselves are drawn as cards under it (where the view nests them), not as ids.
  const ids = (name, list) => h("div", { class: `doc-ids doc-ids-${name}` },
    h("span", { class: "param-key" }, name), " ",
    list.length ? h("ul", { class: "id-list" }, list.map((id) => h("li", {}, String(id)))) : h("span", {}, "none"));
  const rest = Object.entries(data).filter(([k]) => !["calls", "kept", "dropped", "refiner"].includes(k));
  return h("div", { class: "tool-data delegation dim" },
    "refiner" in data ? h("div", { class: "refiner-mode" }, h("span", { class: "param-key" }, "refiner"), " ", String(data.refiner)) : null,
    Array.isArray(data.kept) ? ids("kept", data.kept) : null,
    Array.isArray(data.dropped) ? ids("dropped", data.dropped) : null,
    rest.map(([k, v]) => h("div", {}, h("span", { class: "param-key" }, k), " ", typeof v === "string" ? v : JSON.stringify(v))),
    nested ? null : h("div", {}, h("span", { class: "param-key" }, "calls"), ` ${data.calls.length}, drawn under this call in the Conversation tab`));
}

function toolResult(result) {
  // A search tool's result is often a JSON list of documents: show each as a card.
  let docs = null;
  try {
    const parsed = JSON.parse(result);
    if (Array.isArray(parsed) && parsed.length) docs = parsed;
  } catch (_) { /* plain text result */ }
  if (!docs) return result ? h("div", { class: "tool-result text" }, result) : null;
  return h("ol", { class: "docs" }, docs.map((d, i) => {
    if (typeof d !== "object" || d === null) return h("li", { class: "doc" }, h("div", { class: "text" }, String(d)));
    const title = d.title ?? d.id ?? `document ${i + 1}`;
    const body = d.text ?? d.content ?? d.body ?? JSON.stringify(d);
    const extra = Object.entries(d).filter(([k]) => !["title", "id", "text", "content", "body"].includes(k));
    return h("li", { class: "doc" },
      h("div", { class: "doc-title" }, String(title), extra.map(([k, v]) => h("span", { class: "dim" }, ` ${k} ${typeof v === "number" ? fmtNum(v) : String(v)}`))),
      h("div", { class: "text" }, String(body)));
  }));
}

function sideBySide(ep, groups) {
  const rewards = rewardsBySample(ep);
  const verdicts = verdictsBySample(ep);
  return groups.map(([key, members]) => {
    const solvedCount = members.filter(({ turn }) => (verdicts.get(turn.sample_id) || []).some((v) => v.ok)).length;
    return h("div", { class: "compare-group" },
      h("h3", {}, `${members[0].turn.role} · ${members[0].turn.node} · ${members.length} attempts`,
        h("span", { class: "dim" }, ` · ${key} · ${solvedCount} judged ok`)),
      members[0].turn.messages.length ? h("details", { class: "prompt" },
        h("summary", {}, "Shared prompt (first attempt's)", h("span", { class: "preview" }, preview(members[0].turn.messages.at(-1).content))),
        h("div", { class: "messages" }, members[0].turn.messages.map((m) =>
          h("div", { class: `msg msg-${m.role}` }, h("div", { class: "msg-role" }, m.role), h("div", { class: "text" }, m.content))))) : null,
      h("ol", { class: "columns" }, members.map(({ turn, index }) => turnCard(turn, index, rewards, verdicts, true))));
  });
}

function graphView(ep) {
  return h("div", { class: "graph" },
    ep.path.length ? pathView(ep) : h("p", { class: "dim" }, "No graph path recorded."),
    callTree(ep));
}

function pathView(ep) {
  const t0 = Math.min(...ep.path.map((p) => p.started_at));
  const end = Math.max(...ep.path.map((p) => p.started_at + p.duration_s));
  const span = Math.max(end - t0, 1e-9);
  const totals = new Map();
  for (const p of ep.path) {
    const t = totals.get(p.node) || { visits: 0, seconds: 0 };
    t.visits += 1; t.seconds += p.duration_s;
    totals.set(p.node, t);
  }
  const busy = [...totals.values()].reduce((a, t) => a + t.seconds, 0) || 1;
  return [
    h("h3", {}, "Path taken"), graphSvg(ep.path, totals),
    h("h3", {}, "Timeline"),
    h("ol", { class: "timeline" }, ep.path.map((p) => {
      const bar = h("span", { class: "bar", title: `${p.node}: ${fmtSeconds(p.duration_s)}` });
      bar.style.marginLeft = `${((p.started_at - t0) / span) * 100}%`;
      bar.style.width = `${Math.max((p.duration_s / span) * 100, 0.4)}%`;
      return h("li", {}, h("span", { class: "node" }, p.node), h("span", { class: "track" }, bar), h("span", { class: "num dim" }, fmtSeconds(p.duration_s)));
    })),
    h("h3", {}, "Time per node"),
    h("table", { class: "rewards" },
      h("thead", {}, h("tr", {}, ["node", "visits", "total", "mean", "share"].map((c) => h("th", {}, c)))),
      h("tbody", {}, [...totals.entries()].map(([node, t]) => h("tr", {},
        h("td", { class: "node" }, node), h("td", { class: "num" }, String(t.visits)),
        h("td", { class: "num" }, fmtSeconds(t.seconds)), h("td", { class: "num" }, fmtSeconds(t.seconds / t.visits)),
        h("td", { class: "num" }, `${((t.seconds / busy) * 100).toFixed(1)}%`)))))];
}

function callTree(ep) {
  // Every turn by role and node, under the tool call that ran it (the conversation's nesting):
  // planner -> ⚙ local -> local_agent and its refiner's judgements, with each call's time and
  // reward. A tool call that ran no other turn is left out, so a flat episode is a flat list.
  if (!ep.turns.length) return null;
  const { under, roots } = callLinks(ep);
  const rewards = rewardsBySample(ep);
  const item = (i) => {
    const turn = ep.turns[i];
    const r = turn.sample_id ? rewards.get(turn.sample_id) : null;
    const branches = turn.tool_calls.map((call, c) => [call, under.get(`${i}:${c}`) || []])
      .filter(([, kids]) => kids.length)
      .map(([call, kids]) => h("li", { class: "call-tool" },
        h("span", { class: "call-line" }, h("span", { class: "tool-name" }, call.name),
          call.data && call.data.refiner !== undefined ? h("span", { class: "dim" }, `refiner ${call.data.refiner}`) : null),
        h("ul", {}, kids.map(item))));
    return h("li", { class: `call call-${turn.role}`, dataset: { index: String(i) } },
      h("span", { class: "call-line" },
        h("span", { class: "turn-index" }, `#${i + 1}`), roleBadge(turn.role),
        h("span", { class: "node" }, turn.node),
        h("span", { class: "dim" }, fmtSeconds(turn.duration_s)),
        r ? h("span", { class: `reward ${rewardClass(r.reward)}`, title: r.reason }, `reward ${fmtNum(r.reward)}`) : null),
      branches.length ? h("ul", {}, branches) : null);
  };
  return [h("h3", { class: "call-tree-title" }, "Call tree"), h("ul", { class: "call-tree" }, roots.map(item))];
}

function svg(tag, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function graphSvg(path, totals) {
  // Nodes left to right in order of first visit; forward edges as arrows, edges back to an
  // earlier node (loops) as arcs under the row; each edge labelled with how often it was taken.
  const nodes = [...totals.keys()];
  const x = new Map(nodes.map((n, i) => [n, 20 + i * 170]));
  const edges = new Map();
  for (let i = 1; i < path.length; i++) {
    const prev = path[i - 1];
    // Visits of one node that overlap in time are parallel branches (fan-out), not a loop.
    if (prev.node === path[i].node && path[i].started_at < prev.started_at + prev.duration_s) continue;
    const key = `${path[i - 1].node}\u0000${path[i].node}`;
    edges.set(key, (edges.get(key) || 0) + 1);
  }
  const W = 20 + nodes.length * 170, H = 150, y = 30, bw = 130, bh = 46;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "graph-svg", role: "img" });
  const defs = svg("defs", {});
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }));
  defs.append(marker);
  root.append(defs);
  for (const [key, count] of edges) {
    const [a, b] = key.split("\u0000");
    const xa = x.get(a), xb = x.get(b);
    let d, lx, ly;
    if (xb > xa) { d = `M${xa + bw},${y + bh / 2} L${xb},${y + bh / 2}`; lx = (xa + bw + xb) / 2; ly = y + bh / 2 - 6; }
    else {
      const sx = xa + bw / 2, ex = xb + bw / 2, depth = xa === xb ? 40 : 60;
      d = xa === xb ? `M${sx - 15},${y + bh} C${sx - 40},${y + bh + depth} ${sx + 40},${y + bh + depth} ${sx + 15},${y + bh}`
        : `M${sx},${y + bh} C${sx},${y + bh + depth} ${ex},${y + bh + depth} ${ex},${y + bh}`;
      lx = (sx + ex) / 2; ly = y + bh + depth - 4;
    }
    root.append(svg("path", { d, class: "edge", "marker-end": "url(#arrow)" }));
    root.append(svg("text", { x: lx, y: ly, class: "edge-label", "text-anchor": "middle" }, `×${count}`));
  }
  for (const n of nodes) {
    const t = totals.get(n);
    root.append(svg("rect", { x: x.get(n), y, width: bw, height: bh, rx: 8, class: "node-box" }));
    root.append(svg("text", { x: x.get(n) + bw / 2, y: y + 19, class: "node-label", "text-anchor": "middle" }, n.length > 18 ? n.slice(0, 17) + "…" : n));
    root.append(svg("text", { x: x.get(n) + bw / 2, y: y + 36, class: "node-sub", "text-anchor": "middle" }, `×${t.visits} · ${fmtSeconds(t.seconds)}`));
  }
  return h("div", { class: "graph-scroll" }, root);
}

// ---------- keyboard and start-up ----------

function moveSelection(step) {
  const rows = [...document.querySelectorAll(".episode")];
  if (!rows.length) return;
  const at = rows.findIndex((r) => r.dataset.id === state.selected);
  const next = rows[Math.min(Math.max(at + step, 0), rows.length - 1)];
  next.scrollIntoView({ block: "nearest" });
  openEpisode(next.dataset.id);
}

document.addEventListener("keydown", (ev) => {
  const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
  if (typing) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  if (ev.key === "j" || ev.key === "ArrowDown") { moveSelection(1); ev.preventDefault(); }
  else if (ev.key === "k" || ev.key === "ArrowUp") { moveSelection(-1); ev.preventDefault(); }
  else if (ev.key === "/") { $("f-search").focus(); ev.preventDefault(); }
  else if (ev.key === "c" && state.episode) { state.tab = state.tab === "compare" ? "conversation" : "compare"; renderEpisode(); }
});

document.addEventListener("DOMContentLoaded", () => {
  writeFilters(Object.fromEntries(new URLSearchParams(location.search)));
  let timer = null;
  $("filters").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(connect, 250);
  });
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); connect(); });
  $("f-clear").addEventListener("click", () => { writeFilters({}); connect(); });
  connect();
  if (location.hash.length > 1) openEpisode(decodeURIComponent(location.hash.slice(1)));
});

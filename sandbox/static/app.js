/* failed-payments demo workbench.
 *
 * A Slack-like channel drawn from what the Slack stand-in recorded: the bot's messages rendered
 * from their Block Kit, digest threads, ephemeral replies and modals. Clicks, commands and modal
 * submissions go to /demo/api/..., which has the Slack stand-in sign them and send them to the
 * bot's /slack/events, as Slack would. Polls every second; no build step, no framework.
 */
"use strict";

const POLL_MS = 1000;
const ui = {
  state: null,
  version: "",
  user: localStorage.getItem("fp-demo-user") || "",
  channel: localStorage.getItem("fp-demo-channel") || "",
  thread: null, // {channel, ts}
  payment: null, // payment id shown in the books panel
  booksJson: "",
  booksRows: {},
  booksNote: null, // {text, error}: what the last edit in the books panel did
  hiddenEphemeral: new Set(),
  seen: {}, // channel -> number of top-level messages seen
  seenEphemeral: null, // ephemeral ids already shown (null until the first state)
  openView: "",
  home: false, // the app's Home tab is shown instead of a channel
};

const $ = (sel, root = document) => root.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "html") el.innerHTML = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- text: plain, emoji, mrkdwn ------------------------------------------------------------
// Emoji the bot writes, drawn as small badges so they show without an emoji font.
const EMOJI = {
  white_check_mark: ["✓", "ok"], heavy_check_mark: ["✓", "ok-text"], x: ["✗", "bad"],
  warning: ["⚠", "warn"], no_entry: ["–", "stop"], rotating_light: ["!", "stop"],
  arrows_counterclockwise: ["↻", "info"], hourglass_flowing_sand: ["⌛", "plain"],
  hourglass: ["⌛", "plain"], information_source: ["i", "info"], tada: ["★", "party"],
  chart_with_upwards_trend: ["↗", "trend"], chart_with_downwards_trend: ["↘", "trend"],
  large_green_circle: ["●", "ok-text"], red_circle: ["●", "bad-text"],
};

function escapeHtml(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}
function unescapeSlack(s) {
  return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (m, name) => {
    const e = EMOJI[name];
    return e ? `<span class="emo emo-${e[1]}" title="${m}">${e[0]}</span>` : m;
  });
}
function plainHtml(text, emoji = true) {
  const html = escapeHtml(text || "");
  return emoji ? emojify(html) : html;
}
function userName(id) {
  const u = (ui.state?.users || []).find((x) => x.id === id);
  return u ? u.name : id;
}
function channelName(id) {
  const c = (ui.state?.channels || []).find((x) => x.id === id);
  return c ? c.name : id;
}

/** A Slack date token (``!date^<unix>^<format>[^<link>]``) in the reader's local time. */
function slackDate(target, fallback) {
  const [, unix, format] = target.split("^");
  const when = new Date(Number(unix) * 1000);
  if (!format || Number.isNaN(when.getTime())) return fallback || "";
  const day = (opts) => when.toLocaleDateString(undefined, opts);
  const parts = {
    date_num: day({ year: "numeric", month: "2-digit", day: "2-digit" }),
    date: day({ year: "numeric", month: "long", day: "numeric" }),
    date_short: day({ year: "numeric", month: "short", day: "numeric" }),
    date_long: day({ weekday: "long", year: "numeric", month: "long", day: "numeric" }),
    date_pretty: day({ year: "numeric", month: "long", day: "numeric" }),
    date_short_pretty: day({ year: "numeric", month: "short", day: "numeric" }),
    date_long_pretty: day({ weekday: "long", year: "numeric", month: "long", day: "numeric" }),
    time: when.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }),
    time_secs: when.toLocaleTimeString(),
  };
  return format.replace(/\{(\w+)\}/g, (m, k) => parts[k] ?? m);
}

/** Slack mrkdwn (the subset the bot writes) as safe HTML. */
function mrkdwn(text) {
  const keep = [];
  const stash = (html) => `\u0000${keep.push(html) - 1}\u0000`;
  let s = String(text || "");
  // code blocks and spans first: nothing inside them is formatted
  s = s.replace(/```([\s\S]*?)```/g, (m, code) => stash(`<pre>${escapeHtml(unescapeSlack(code))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (m, code) => stash(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  // links, mentions and specials: <...>
  s = s.replace(/<([^<>\n]+)>/g, (m, inner) => stash(renderAngle(inner)));
  // the rest: entities decoded, then escaped again for HTML
  s = escapeHtml(unescapeSlack(s));
  s = s.replace(/(^|[\s(~_])\*([^*\n]+?)\*(?=$|[\s).,:;!?~_]|\u0000)/g, "$1<b>$2</b>");
  s = s.replace(/(^|[\s(~*>])_([^_\n]+?)_(?=$|[\s).,:;!?~*<]|\u0000)/g, "$1<i>$2</i>");
  s = s.replace(/(^|[\s(*_])~([^~\n]+?)~(?=$|[\s).,:;!?*_])/g, "$1<s>$2</s>");
  s = s.replace(/^&gt; ?(.*)$/gm, "<blockquote>$1</blockquote>");
  s = emojify(s).replace(/\n/g, "<br>");
  return s.replace(/\u0000(\d+)\u0000/g, (m, i) => keep[Number(i)]);
}

function renderAngle(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    return `<span class="mention">@${escapeHtml(userName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention">#${escapeHtml(label || channelName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("!date^")) {
    // <!date^unix^format|fallback>: Slack shows the time in the reader's own time zone
    return `<span class="date" title="${escapeHtml(label || "")}">${escapeHtml(slackDate(target, label))}</span>`;
  }
  if (target.startsWith("!")) {
    const name = label || target.slice(1).replace(/^subteam\^/, "");
    return `<span class="mention special">${escapeHtml(name.startsWith("@") ? name : "@" + name)}</span>`;
  }
  const url = unescapeSlack(target);
  const shown = inlineFormat(escapeHtml(unescapeSlack(label || target)));
  const perma = url.match(/^https:\/\/sandbox\.slack\.local\/archives\/([A-Z0-9]+)\/p(\d+)(\d{6})/);
  if (perma) {
    // a permalink of the Slack stand-in: jump to the message on this page
    return `<a href="#" data-channel="${perma[1]}" data-ts="${perma[2]}.${perma[3]}" class="permalink">${shown}</a>`;
  }
  const qbo = url.match(/^https:\/\/app\.(?:sandbox\.)?qbo\.intuit\.com\/app\/(invoice|recvpayment|creditmemo|customerdetail)\?\w+=(\w+)/);
  if (qbo) {
    // a link into QuickBooks: in the demo, the books are in the side panel
    const kind = { invoice: "invoice", recvpayment: "payment", creditmemo: "creditmemo",
      customerdetail: "customer" }[qbo[1]];
    return `<a href="#" data-qbo-kind="${kind}" data-qbo-id="${escapeHtml(qbo[2])}" class="qbo-link">${shown}</a>`;
  }
  if (/^(https?:|mailto:)/i.test(url)) {
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${shown}</a>`;
  }
  return shown;
}
function inlineFormat(html) {
  return html.replace(/(^|[\s(])\*([^*\n]+?)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+?)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>");
}
function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

function textObject(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  return plainHtml(obj.text, obj.emoji !== false);
}

function fmtTime(ts) {
  const d = new Date(Number(ts) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fmtMoney(amount, currency = "USD") {
  if (amount === null || amount === undefined || amount === "") return "—";
  let s = String(amount);
  const neg = s.startsWith("-");
  if (neg) s = s.slice(1);
  let [whole, frac = ""] = s.split(".");
  frac = (frac + "00").slice(0, 2); // display only; the server sends exact decimals
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const body = `${whole}.${frac}`;
  const sign = neg ? "-" : "";
  return currency === "USD" ? `${sign}$${body}` : `${sign}${body} ${currency}`;
}

// ---- Block Kit -------------------------------------------------------------------------------
/** Render a message's blocks. ``ctx`` says where a click on an element goes. */
function renderBlocks(blocks, ctx) {
  const root = h("div", { class: "bk" });
  for (const b of blocks || []) {
    const el = renderBlock(b, ctx);
    if (el) root.append(el);
  }
  return root;
}

function renderBlock(b, ctx) {
  switch (b.type) {
    case "header":
      return h("div", { class: "bk-header", html: textObject(b.text) });
    case "section": {
      const sec = h("div", { class: "bk-section", dataset: { blockId: b.block_id || "" } });
      const main = h("div", { class: "bk-section-text mrk" });
      if (b.text) main.append(h("div", { html: textObject(b.text) }));
      if (b.fields && b.fields.length) {
        main.append(h("div", { class: "bk-fields" },
          b.fields.map((f) => h("div", { class: "mrk", html: textObject(f) }))));
      }
      sec.append(main);
      if (b.accessory) {
        const acc = renderElement(b.accessory, b, ctx);
        if (acc) sec.append(h("div", {}, acc));
      }
      return sec;
    }
    case "context":
      return h("div", { class: "bk-context mrk" }, (b.elements || []).map((e) =>
        e.type === "image"
          ? h("img", { src: e.image_url, alt: e.alt_text || "", width: 16, height: 16 })
          : h("span", { html: textObject(e) })));
    case "divider":
      return h("hr", { class: "bk-divider" });
    case "actions":
      return h("div", { class: "bk-actions", dataset: { blockId: b.block_id || "" } },
        (b.elements || []).map((e) => renderElement(e, b, ctx)).filter(Boolean));
    case "input":
      return renderInput(b);
    case "image":
      return h("img", { src: b.image_url, alt: b.alt_text || "", style: "max-width:360px" });
    default:
      return b.text ? h("div", { class: "bk-text-fallback mrk", html: textObject(b.text) }) : null;
  }
}

function renderElement(e, block, ctx) {
  if (e.type === "button") {
    const cls = ["btn", e.style || ""].join(" ").trim();
    const btn = h("button", { type: "button", class: cls, dataset: { actionId: e.action_id || "" } },
      h("span", { html: textObject(e.text) }));
    if (e.url) {
      btn.addEventListener("click", () => window.open(e.url, "_blank", "noopener"));
      return btn;
    }
    btn.addEventListener("click", () => {
      const action = { action_id: e.action_id, block_id: block.block_id || "", value: e.value || "",
        type: "button", text: e.text };
      if (ctx.payment) selectPayment(ctx.payment);
      if (e.confirm) showConfirm(e.confirm, () => sendClick(ctx, action, btn));
      else sendClick(ctx, action, btn);
    });
    return btn;
  }
  if (e.type === "static_select") {
    const sel = renderSelect(e);
    if (ctx && ctx.kind !== "view") {
      sel.addEventListener("change", () => {
        const opt = (e.options || []).find((o) => o.value === sel.value);
        if (!opt) return;
        sendClick(ctx, { action_id: e.action_id, block_id: block.block_id || "", type: "static_select",
          selected_option: opt }, null);
      });
    }
    return sel;
  }
  return null;
}

function renderSelect(e) {
  const sel = h("select", { dataset: { actionId: e.action_id || "" } });
  sel.append(h("option", { value: "", disabled: true, selected: !e.initial_option },
    e.placeholder ? e.placeholder.text : "Choose…"));
  const opts = e.options || (e.option_groups || []).flatMap((g) => g.options || []);
  for (const o of opts) {
    sel.append(h("option", { value: o.value,
      selected: e.initial_option && e.initial_option.value === o.value }, o.text.text));
  }
  return sel;
}

function renderInput(b) {
  const wrap = h("div", { class: "bk-input", dataset: { blockId: b.block_id || "" } });
  wrap.append(h("label", { class: "bk-label", html: textObject(b.label) }));
  const e = b.element || {};
  let field;
  if (e.type === "static_select" || e.type === "radio_buttons") field = renderSelect(e);
  else if (e.type === "datepicker") {
    field = h("input", { type: "date", dataset: { actionId: e.action_id || "" } });
    if (e.initial_date) field.value = e.initial_date;
  } else if (e.type === "users_select") {
    field = h("select", { dataset: { actionId: e.action_id || "" } },
      h("option", { value: "", disabled: true, selected: !e.initial_user }, "Choose a person…"),
      ...(ui.state?.users || []).map((u) => h("option", { value: u.id, selected: e.initial_user === u.id },
        `${u.name} (${u.role})`)));
  } else if (e.type === "plain_text_input") {
    field = e.multiline
      ? h("textarea", { rows: 3, dataset: { actionId: e.action_id || "" } })
      : h("input", { type: "text", dataset: { actionId: e.action_id || "" } });
    if (e.initial_value) field.value = e.initial_value;
  } else field = h("div", { class: "muted" }, `(${e.type} input)`);
  field.dataset.type = e.type || "";
  wrap.append(field);
  if (b.hint) wrap.append(h("div", { class: "muted", html: textObject(b.hint) }));
  wrap.append(h("div", { class: "err", dataset: { errFor: b.block_id || "" } }));
  return wrap;
}

// ---- dialogs --------------------------------------------------------------------------------
function openDialog(build) {
  const dialog = $("#dialog");
  dialog.replaceChildren(...build());
  $("#overlay").hidden = false;
}
function closeDialog() {
  $("#overlay").hidden = true;
  $("#dialog").replaceChildren();
  ui.openView = "";
}

function showConfirm(c, onOk) {
  openDialog(() => {
    const ok = h("button", { type: "button", class: `btn ${c.style === "danger" ? "danger solid" : "primary"}`,
      id: "confirm-ok", html: textObject(c.confirm || { type: "plain_text", text: "Yes" }) });
    const deny = h("button", { type: "button", class: "btn", id: "confirm-deny",
      html: textObject(c.deny || { type: "plain_text", text: "Cancel" }) });
    ok.addEventListener("click", () => { closeDialog(); onOk(); });
    deny.addEventListener("click", closeDialog);
    return [
      h("div", { class: "dialog-head", html: textObject(c.title) }),
      h("div", { class: "dialog-body mrk", html: textObject(c.text) }),
      h("div", { class: "dialog-foot" }, deny, ok),
    ];
  });
  $("#confirm-ok").focus();
}

function showView(v) {
  const key = `${v.id}:${v.hash || ""}`;
  if (ui.openView === key) return;
  ui.openView = key;
  const view = v.view || {};
  openDialog(() => {
    const body = renderBlocks(view.blocks, { kind: "view" });
    const close = h("button", { type: "button", class: "btn", id: "view-close",
      html: textObject(view.close || { type: "plain_text", text: "Cancel" }) });
    const foot = h("div", { class: "dialog-foot" }, close);
    if (view.submit) {
      const submit = h("button", { type: "button", class: "btn primary", id: "view-submit",
        html: textObject(view.submit) });
      submit.addEventListener("click", () => submitView(v, body, submit));
      foot.append(submit);
    }
    close.addEventListener("click", async () => {
      closeDialog();
      await api("view-close", { user: ui.user, view_id: v.id });
      refreshSoon();
    });
    return [h("div", { class: "dialog-head", html: textObject(view.title) }),
      h("div", { class: "dialog-body" }, body), foot];
  });
}

async function submitView(v, body, btn) {
  const values = {};
  for (const input of body.querySelectorAll(".bk-input")) {
    const field = input.querySelector("[data-action-id]");
    if (!field) continue;
    const blockId = input.dataset.blockId;
    const actionId = field.dataset.actionId;
    const type = field.dataset.type;
    values[blockId] = values[blockId] || {};
    if (type === "static_select" || type === "radio_buttons") {
      const view = v.view || {};
      const block = (view.blocks || []).find((b) => b.block_id === blockId);
      const opt = ((block?.element?.options) || []).find((o) => o.value === field.value);
      values[blockId][actionId] = { type, selected_option: opt || null };
    } else if (type === "datepicker") {
      values[blockId][actionId] = { type, selected_date: field.value || null };
    } else if (type === "users_select") {
      values[blockId][actionId] = { type, selected_user: field.value || null };
    } else {
      values[blockId][actionId] = { type, value: field.value };
    }
  }
  btn.disabled = true;
  const res = await api("view-submit", { user: ui.user, view_id: v.id, values });
  btn.disabled = false;
  if (res.errors) {
    for (const [blockId, msg] of Object.entries(res.errors)) {
      const el = body.querySelector(`[data-err-for="${CSS.escape(blockId)}"]`);
      if (el) el.textContent = msg;
    }
    return;
  }
  if (!res.ok) { toast(res.error || "The bot did not accept the form", true); return; }
  closeDialog();
  refreshSoon();
}

let toastTimer = null;
function toast(text, error = false) {
  const t = $("#toast");
  t.textContent = text;
  t.className = error ? "toast error" : "toast";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

// ---- talking to the demo server --------------------------------------------------------------
async function api(path, body) {
  try {
    const res = await fetch(`/demo/api/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
    if (!res.ok && data.ok === undefined) data.ok = false;
    return data;
  } catch (err) {
    return { ok: false, error: `The demo server does not answer (${err.message})` };
  }
}

async function sendClick(ctx, action, btn) {
  if (btn) btn.disabled = true;
  const res = ctx.kind === "home" ? await api("home-click", { user: ui.user, action }) : await api("click", {
    user: ui.user, channel: ctx.channel, message_ts: ctx.ts, thread_ts: ctx.thread_ts || null,
    ephemeral: !!ctx.ephemeral, action,
  });
  if (!res.ok) toast(res.error || "The click did not reach the bot", true);
  refreshSoon();
  setTimeout(() => { if (btn) btn.disabled = false; }, 1500);
}

async function sendCommand(text) {
  text = text.trim();
  if (!text) return;
  const m = text.match(/^(\/\S+)\s*([\s\S]*)$/);
  if (!m) {
    toast("This demo channel takes slash commands: try /failed-payments help", true);
    return;
  }
  if (m[1] !== "/failed-payments") {
    toast(`${m[1]} is not a valid command here. Try /failed-payments help`, true);
    return;
  }
  $("#composer-input").value = "";
  const res = await api("command", { user: ui.user, channel: ui.channel, command: m[1], text: m[2] });
  if (!res.ok) toast(res.error || "The command did not reach the bot", true);
  refreshSoon();
}

async function runSync(btn) {
  btn.disabled = true;
  btn.textContent = "Syncing…";
  const res = await api("sync", {});
  btn.disabled = false;
  btn.textContent = "Run ConnectBooster sync";
  if (!res.ok) { toast(res.error || "The sync did not run", true); return; }
  const r = res.report || {};
  const synced = (r.synced || []).length;
  const failed = Object.keys(r.failed || {}).length;
  toast(`ConnectBooster sync: ${synced} synced, ${failed} still failing` +
    (r.aborted ? ` (stopped: ${r.aborted})` : ""));
  ui.lastSync = res;
  refreshSoon();
}

// ---- rendering the workbench -------------------------------------------------------------------
function render() {
  const s = ui.state;
  if (!s) return;
  $("#workspace-name").textContent = s.workspace || "Sandbox MSP";
  const notice = $("#notice");
  notice.hidden = !s.notice;
  notice.textContent = s.notice || "";
  document.body.classList.toggle("has-notice", !!s.notice);
  $("#redis-state").textContent = s.redis || "";
  renderUsers();
  renderChannels();
  renderChannel();
  renderThread();
  revealNewEphemeral();
  const view = (s.views || [])[(s.views || []).length - 1];
  if (view) showView(view);
  else if (ui.openView) closeDialog();
}

function renderUsers() {
  const box = $("#users");
  box.replaceChildren(...ui.state.users.map((u, i) => {
    const b = h("button", { type: "button", role: "radio", "aria-checked": String(u.id === ui.user),
      dataset: { user: u.id } },
      h("span", { class: `avatar small u${i % 3}` }, initials(u.name)),
      h("span", {}, u.name, h("span", { class: "role" }, u.role)));
    b.addEventListener("click", () => setUser(u.id));
    return b;
  }));
}

function renderChannels() {
  const list = $("#channels");
  list.replaceChildren(...ui.state.channels.map((c) => {
    const count = (ui.state.messages[c.id] || []).length;
    const unread = c.id === ui.channel ? 0 : Math.max(0, count - (ui.seen[c.id] || 0));
    const b = h("button", { type: "button", class: [c.id === ui.channel && !ui.home ? "active" : "",
      unread ? "unread" : ""].join(" "), dataset: { channel: c.id } },
      h("span", {}, `# ${c.name}`), unread ? h("span", { class: "badge" }, unread) : null);
    b.addEventListener("click", () => setChannel(c.id));
    return h("li", {}, b);
  }));
}

/** The app's Home tab (what views.publish left for the acting user), in place of a channel. */
function renderHome() {
  const home = ui.state.home;
  $("#channel-title").textContent = "Failed Payments · Home";
  $("#channel-purpose").textContent = "The app's Home tab, as the acting user sees it";
  $("#channel-meta").textContent = "";
  const items = home && home.blocks
    ? [h("div", { class: "msg home-view" }, h("div", { class: "msg-body" },
        renderBlocks(home.blocks, { kind: "home" })))]
    : [h("div", { class: "empty" }, "Opening the Home tab…")];
  replaceKeepingScroll($("#messages"), items);
}

async function openHome() {
  ui.home = true;
  ui.thread = null;
  render();
  const res = await api("home", { user: ui.user });
  if (!res.ok) toast(res.error || "The Home tab did not open", true);
  refreshSoon();
}

function renderChannel() {
  const s = ui.state;
  document.body.classList.toggle("home-open", ui.home);
  const homeBtn = $("#home-open");
  if (homeBtn) homeBtn.classList.toggle("active", ui.home);
  if (ui.home) { renderHome(); return; }
  const c = s.channels.find((x) => x.id === ui.channel) || s.channels[0];
  if (!c) return;
  ui.channel = c.id;
  ui.seen[c.id] = (s.messages[c.id] || []).length;
  $("#channel-title").textContent = `# ${c.name}`;
  $("#channel-purpose").textContent = c.purpose || "";
  const msgs = s.messages[c.id] || [];
  $("#channel-meta").textContent = `${msgs.length} message${msgs.length === 1 ? "" : "s"}`;
  const items = msgs.map((m) => renderMessage(m, { channel: c.id, inThread: false }));
  for (const e of visibleEphemeral(c.id, null)) items.push(renderEphemeral(e));
  if (!items.length) items.push(h("div", { class: "empty" }, "No messages yet. The bot posts here when it finds a failed payment."));
  replaceKeepingScroll($("#messages"), items);
}

function renderThread() {
  const pane = $("#thread");
  if (!ui.thread) { pane.hidden = true; return; }
  const { channel, ts } = ui.thread;
  const parent = (ui.state.messages[channel] || []).find((m) => m.ts === ts);
  if (!parent) { pane.hidden = true; return; }
  pane.hidden = false;
  $("#thread-channel").textContent = `# ${channelName(channel)}`;
  const replies = ui.state.threads[`${channel}/${ts}`] || [];
  const items = [
    h("div", { class: "thread-parent" }, renderMessage(parent, { channel, inThread: true })),
    h("div", { class: "thread-count" }, `${replies.length} repl${replies.length === 1 ? "y" : "ies"}`),
    ...replies.map((m) => renderMessage(m, { channel, inThread: true })),
    ...visibleEphemeral(channel, ts).map(renderEphemeral),
  ];
  replaceKeepingScroll($("#thread-messages"), items);
}

/** Like Slack, bring a reply only the acting user sees into view when it arrives. */
function revealNewEphemeral() {
  const ids = (ui.state.ephemeral || []).map((e) => e.id);
  const fresh = ui.seenEphemeral ? ids.filter((id) => !ui.seenEphemeral.has(id)) : [];
  ui.seenEphemeral = new Set(ids);
  if (!fresh.length) return;
  const last = fresh[fresh.length - 1];
  const el = [...document.querySelectorAll(".msg.ephemeral")].find((x) => x.dataset.id === last);
  if (el) el.scrollIntoView({ block: "nearest" });
}

function visibleEphemeral(channel, threadTs) {
  return (ui.state.ephemeral || []).filter((e) => e.channel === channel &&
    (e.thread_ts || null) === threadTs && !ui.hiddenEphemeral.has(e.id));
}

function replaceKeepingScroll(box, items) {
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const top = box.scrollTop;
  box.replaceChildren(...items);
  box.scrollTop = atBottom ? box.scrollHeight : top;
}

function initials(name) {
  return (name || "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
}

function renderMessage(m, where) {
  const ctx = { kind: "message", channel: where.channel, ts: m.ts, thread_ts: m.thread_ts || null,
    payment: m.payment_id || null };
  const author = m.bot ? (ui.state.bot?.name || "Failed Payments") : userName(m.user);
  const body = h("div", { class: "msg-body" },
    h("div", { class: "msg-head" },
      h("span", { class: "msg-author" }, author),
      m.bot ? h("span", { class: "app-tag" }, "app") : null,
      h("span", { class: "msg-time", title: m.ts }, fmtTime(m.ts)),
      m.edited ? h("span", { class: "msg-edited" }, "(edited)") : null),
    m.blocks && m.blocks.length ? renderBlocks(m.blocks, ctx)
      : h("div", { class: "mrk", html: mrkdwn(m.text) }));
  if (!where.inThread && m.reply_count) {
    const link = h("button", { type: "button", class: "replies-link" },
      `${m.reply_count} repl${m.reply_count === 1 ? "y" : "ies"}`,
      h("span", { class: "muted" }, m.latest_reply ? `Last reply ${fmtTime(m.latest_reply)}` : ""));
    link.addEventListener("click", (ev) => { ev.stopPropagation(); openThread(where.channel, m.ts); });
    body.append(link);
  }
  const classes = ["msg"];
  if (m.payment_id && m.payment_id === ui.payment) classes.push("selected");
  const el = h("div", { class: classes.join(" "),
    dataset: { ts: m.ts, channel: where.channel, payment: m.payment_id || "" } },
    h("div", { class: m.bot ? "avatar bot" : "avatar" }, m.bot ? "FP" : initials(author)), body);
  if (m.payment_id) {
    const show = h("button", { type: "button", class: "show-books" }, "Show books");
    show.addEventListener("click", (ev) => { ev.stopPropagation(); selectPayment(m.payment_id); });
    el.append(show);
    el.addEventListener("click", (ev) => {
      if (ev.target.closest("button, a, select")) return;
      selectPayment(m.payment_id);
    });
  }
  return el;
}

function renderEphemeral(e) {
  const ctx = { kind: "message", channel: e.channel, ts: e.ts, thread_ts: e.thread_ts || null,
    ephemeral: true, payment: e.payment_id || null };
  const dismiss = h("button", { type: "button" }, "Dismiss");
  dismiss.addEventListener("click", () => { ui.hiddenEphemeral.add(e.id); render(); });
  return h("div", { class: "msg ephemeral", dataset: { ts: e.ts, channel: e.channel, id: e.id } },
    h("div", { class: "avatar bot" }, "FP"),
    h("div", { class: "msg-body" },
      h("div", { class: "ephemeral-tag" }, "Only visible to you", dismiss),
      h("div", { class: "msg-head" },
        h("span", { class: "msg-author" }, ui.state.bot?.name || "Failed Payments"),
        h("span", { class: "app-tag" }, "app"),
        h("span", { class: "msg-time" }, fmtTime(e.ts))),
      e.blocks && e.blocks.length ? renderBlocks(e.blocks, ctx)
        : h("div", { class: "mrk", html: mrkdwn(e.text) })));
}

// ---- the books panel ---------------------------------------------------------------------------
function selectPayment(pid) {
  if (!pid || pid === ui.payment) return;
  ui.payment = pid;
  ui.booksJson = "";
  ui.booksRows = {};
  ui.booksNote = null;
  for (const el of document.querySelectorAll(".msg[data-payment]")) {
    el.classList.toggle("selected", el.dataset.payment === pid);
  }
  refreshBooks();
}

async function refreshBooks() {
  if (!ui.payment) return;
  const pid = ui.payment;
  const data = await api(`books?payment=${encodeURIComponent(pid)}`);
  if (pid !== ui.payment) return;
  const json = JSON.stringify(data);
  if (json === ui.booksJson) return;
  ui.booksJson = json;
  renderBooks(data);
}

function rowChanged(key, value) {
  const json = JSON.stringify(value);
  const before = ui.booksRows[key];
  ui.booksRows[key] = json;
  return before !== undefined && before !== json;
}

// Edits a bookkeeper makes by hand in QuickBooks (POST /demo/api/books-edit): the QBO stand-in
// then sends its signed webhook and the bot redraws the card on its own.
const BOOK_OPS = {
  delete: "Delete", void: "Void", note: "Change the memo…", unapply: "Unapply from its payments",
};

function editMenu(entity, id, label, ops) {
  if (!ops.length) return null;
  const menu = h("details", { class: "qbo-edit", dataset: { entity, id } },
    h("summary", { title: `Edit ${label} in QuickBooks, as a bookkeeper would by hand` }, "Edit ▾"),
    h("div", { class: "qbo-edit-menu" }, ops.map((op) => h("button", {
      type: "button", class: `btn${op === "delete" || op === "void" ? " danger" : ""}`,
      dataset: { op }, onclick: () => { menu.open = false; editBooks(entity, id, label, op); },
    }, BOOK_OPS[op]))));
  return menu;
}

async function editBooks(entity, id, label, op) {
  const body = { user: ui.user, entity, id, op };
  if (op === "note") {
    const note = window.prompt(`New memo for ${label}:`, "Edited by hand in QuickBooks");
    if (note === null) return;
    body.note = note;
  }
  const res = await api("books-edit", body);
  ui.booksNote = res.ok
    ? { text: `Edited in QuickBooks: ${res.done} — QuickBooks sends its webhook; watch the card.` }
    : { text: `QuickBooks did not take it: ${res.error || "no answer"}`, error: true };
  ui.booksJson = ""; // draw the note even when the books read the same
  await refreshBooks();
  refreshSoon();
}

function renderBooks(d) {
  const box = $("#books-body");
  if (!d.ok) {
    box.replaceChildren(h("p", { class: "muted" }, d.error || "No such payment."));
    return;
  }
  const p = d.payment;
  const cur = p.currency || "USD";
  const status = d.portal.status;
  const err = p.sync && p.sync.error;
  const syncBtn = h("button", { type: "button", class: "btn primary sync-btn", id: "run-sync" },
    "Run ConnectBooster sync");
  syncBtn.addEventListener("click", () => runSync(syncBtn));
  const portalChanged = rowChanged("portal", [status, p.sync]);
  const portal = h("div", { class: "card", id: "portal-card" },
    h("h2", {}, h("span", {}, "ConnectBooster"),
      h("span", { class: `status ${status}`, id: "cb-status" }, status)),
    h("dl", { class: `kv${portalChanged ? " changed" : ""}` },
      h("dt", {}, "Payment"), h("dd", {}, `${p.reference} · ${p.id}`),
      h("dt", {}, "Customer"), h("dd", {}, p.customer.name),
      h("dt", {}, "Amount"), h("dd", {}, fmtMoney(p.amount, cur)),
      h("dt", {}, "Paid"), h("dd", {}, new Date(p.paid_at).toLocaleString()),
      h("dt", {}, "Applied to"), h("dd", {}, (p.applications || []).map((a) =>
        `invoice ${a.invoice_number} (${fmtMoney(a.amount, cur)})`).join(", ") || "—"),
      h("dt", {}, "Sync attempts"), h("dd", {}, String(p.sync.attempts)),
      p.sync.qb_payment_id ? [h("dt", {}, "QBO payment"), h("dd", {}, p.sync.qb_payment_id)] : null,
      err ? [h("dt", {}, "Last error"), h("dd", {}, `${err.code ? `(${err.code}) ` : ""}${err.message}`)] : null),
    syncBtn,
    h("div", { class: "sync-report" },
      `Portal: ${Object.entries(d.portal.counts).map(([k, v]) => `${v} ${k}`).join(" · ")}` +
      ` · ${d.portal.sync_runs} sync run${d.portal.sync_runs === 1 ? "" : "s"}`));

  const q = d.qbo;
  const invRows = q.invoices.map((i) => {
    const cls = [i.deleted ? "gone" : "", i.in_payment ? "focus" : "",
      rowChanged(`inv:${i.id}`, i) ? "changed" : ""].join(" ");
    return h("tr", { class: cls, dataset: { kind: "invoice", id: i.id } },
      h("td", {}, i.doc_number || i.id, i.deleted ? h("span", { class: "tag del" }, "deleted") : null,
        i.voided ? h("span", { class: "tag del" }, "voided") : null,
        i.deleted ? null : editMenu("Invoice", i.id, `invoice ${i.doc_number || i.id}`,
          i.voided ? ["note", "delete"] : ["void", "delete", "note"])),
      h("td", {}, i.txn_date || ""),
      h("td", { class: "num" }, fmtMoney(i.total, cur)),
      h("td", { class: "num", dataset: { field: "balance" } }, i.deleted ? "—" : fmtMoney(i.balance, cur)));
  });
  const payRows = q.payments.map((x) => {
    const cls = [x.deleted ? "gone" : "", rowChanged(`pay:${x.id}`, x) ? "changed" : ""].join(" ");
    return h("tr", { class: cls, dataset: { kind: "payment", id: x.id } },
      h("td", {}, x.id, x.cb ? h("span", { class: "tag cb" }, x.ref) : x.ref ? ` ${x.ref}` : "",
        x.zero ? h("span", { class: "tag zero" }, "$0 credit applied") : null,
        x.deleted ? h("span", { class: "tag del" }, "deleted") : null,
        x.deleted ? null : editMenu("Payment", x.id, `payment ${x.id}`, ["delete", "void", "note"]),
        h("div", { class: "links" }, x.lines.map((l) => `${l.label} ${fmtMoney(l.amount, cur)}`).join(" · "))),
      h("td", {}, x.txn_date || ""),
      h("td", { class: "num" }, fmtMoney(x.total, cur)));
  });
  const cmRows = q.credit_memos.map((c) => h("tr", {
    class: rowChanged(`cm:${c.id}`, c) ? "changed" : "", dataset: { kind: "creditmemo", id: c.id } },
    h("td", {}, c.doc_number || c.id, editMenu("CreditMemo", c.id, `credit memo ${c.doc_number || c.id}`,
      Number(c.remaining) < Number(c.total) ? ["unapply", "note"] : ["note"])),
    h("td", {}, c.txn_date || ""),
    h("td", { class: "num" }, fmtMoney(c.total, cur)),
    h("td", { class: "num", dataset: { field: "remaining" } }, fmtMoney(c.remaining, cur))));

  const table = (head, rows, empty) => rows.length
    ? h("table", { class: "ledger" }, h("thead", {}, h("tr", {}, head.map(([t, n]) =>
      h("th", { class: n ? "num" : "" }, t)))), h("tbody", {}, rows))
    : h("p", { class: "muted" }, empty);

  const books = h("div", { class: "card", id: "qbo-card" },
    h("h2", {}, h("span", {}, "QuickBooks Online"), h("span", { class: "muted" }, q.company)),
    h("div", { class: "muted" }, `Customer: ${q.customer ? q.customer.name : p.customer.name}` +
      (q.customer && q.customer.balance !== undefined ? ` · open balance ${fmtMoney(q.customer.balance, cur)}` : "")),
    h("h3", {}, "Invoices"),
    table([["Invoice"], ["Date"], ["Total", 1], ["Balance", 1]], invRows, "No invoices."),
    h("h3", {}, "Payments"),
    table([["Payment"], ["Date"], ["Amount", 1]], payRows, "No payments."),
    h("h3", {}, "Credit memos"),
    table([["Credit memo"], ["Date"], ["Total", 1], ["Remaining", 1]], cmRows, "No credit memos."));

  const failure = d.failure
    ? h("div", { class: "muted", style: "margin-bottom:8px" },
      `Bot: ${d.failure.status.replace("_", " ")} · ${d.failure.cause}`)
    : null;
  const note = ui.booksNote
    ? h("div", { class: `books-note${ui.booksNote.error ? " error" : ""}`, id: "books-note" }, ui.booksNote.text)
    : null;
  box.replaceChildren(...[note, failure, portal, books].filter(Boolean));
}

// ---- navigation and polling --------------------------------------------------------------------
function setUser(id) {
  ui.user = id;
  ui.seenEphemeral = null;
  localStorage.setItem("fp-demo-user", id);
  ui.version = "";
  if (ui.home) { openHome(); return; } // the new user's own Home tab
  refreshSoon();
}
function setChannel(id) {
  ui.home = false;
  ui.channel = id;
  localStorage.setItem("fp-demo-channel", id);
  render();
}
function openThread(channel, ts) {
  ui.thread = { channel, ts };
  renderThread();
  const parent = (ui.state.messages[channel] || []).find((m) => m.ts === ts);
  if (parent && parent.payment_id) selectPayment(parent.payment_id);
}

function pickDefaultPayment() {
  if (ui.payment || !ui.state) return;
  for (const c of ui.state.channels) {
    for (const m of ui.state.messages[c.id] || []) {
      if (m.payment_id) { selectPayment(m.payment_id); return; }
      const replies = ui.state.threads[`${c.id}/${m.ts}`] || [];
      const r = replies.find((x) => x.payment_id);
      if (r) { selectPayment(r.payment_id); return; }
    }
  }
}

function onLinkClick(ev) {
  const a = ev.target.closest("a.permalink, a.qbo-link");
  if (!a) return;
  ev.preventDefault();
  if (a.classList.contains("permalink")) { jumpTo(a.dataset.channel, a.dataset.ts); return; }
  const row = document.querySelector(
    `#books-body tr[data-kind="${a.dataset.qboKind}"][data-id="${CSS.escape(a.dataset.qboId)}"]`);
  const msg = a.closest(".msg[data-payment]");
  if (msg && msg.dataset.payment) selectPayment(msg.dataset.payment);
  if (row) {
    row.scrollIntoView({ block: "center" });
    row.classList.remove("changed");
    void row.offsetWidth; // restart the highlight
    row.classList.add("changed");
  } else {
    toast("In this demo, QuickBooks is the panel on the right: the payment's invoices, payments and credit memos.");
  }
}

/** Show the message ``ts`` of ``channel`` (opening its thread when it is a reply). */
function jumpTo(channel, ts) {
  if (!ui.state) return;
  if (channel !== ui.channel) setChannel(channel);
  const top = (ui.state.messages[channel] || []).find((m) => m.ts === ts);
  const parentTs = top ? null : Object.entries(ui.state.threads)
    .find(([key, replies]) => key.startsWith(`${channel}/`) && replies.some((r) => r.ts === ts));
  if (parentTs) openThread(channel, parentTs[0].split("/")[1]);
  const box = parentTs ? "#thread-messages" : "#messages";
  const el = document.querySelector(`${box} .msg[data-ts="${CSS.escape(ts)}"]`);
  if (el) {
    el.scrollIntoView({ block: "start" });
    if (el.dataset.payment) selectPayment(el.dataset.payment);
  } else {
    toast("That message is no longer in the channel.", true);
  }
}

async function refreshState() {
  const q = new URLSearchParams({ user: ui.user || "", version: ui.version });
  const data = await api(`state?${q}`);
  if (data.ok === false) return;
  if (data.unchanged) return;
  ui.state = data;
  ui.version = data.version;
  if (!ui.user || !data.users.some((u) => u.id === ui.user)) ui.user = data.users[0]?.id || "";
  if (!ui.channel || !data.channels.some((c) => c.id === ui.channel)) ui.channel = data.channels[0]?.id || "";
  render();
  pickDefaultPayment();
}

let pollTimer = null;
let polling = false;
async function tick() {
  clearTimeout(pollTimer);
  if (!polling) {
    polling = true;
    try {
      await refreshState();
      await refreshBooks();
    } finally {
      polling = false;
    }
  }
  pollTimer = setTimeout(tick, POLL_MS);
}
function refreshSoon() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(tick, 150);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendCommand($("#composer-input").value);
  });
  for (const chip of document.querySelectorAll("#chips button")) {
    chip.addEventListener("click", () => sendCommand(chip.dataset.cmd));
  }
  $("#thread-close").addEventListener("click", () => { ui.thread = null; renderThread(); });
  $("#home-open").addEventListener("click", openHome);
  document.addEventListener("click", onLinkClick);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("#overlay").hidden && !ui.openView) closeDialog();
  });
  tick();
});

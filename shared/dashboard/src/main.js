// QuantTerminal's dashboard: one page over the HTTP API. The operator signs in through the
// login /config.json names -- Amazon Cognito's user-pool API in AWS, its local stand-in on a
// laptop, the same calls either way -- and every request carries the ID token. A
// server-sent-events stream (/v1/events) pushes a snapshot every second; actions (halt,
// resume, enable/disable a strategy) are POSTs to the API. When the stream drops, the page says
// so and keeps the last data on screen, dimmed, until it reconnects.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const API = "/v1";
const $ = (id) => document.getElementById(id);
let login = null; // {endpoint, clientId}: where to sign in (from /config.json)
let session = null; // the NEW_PASSWORD_REQUIRED challenge's session, while it is open
let chart = null;
let source = null;
let downSince = null;

// --- formatting ------------------------------------------------------------------------------
const money = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const signed = (v) => (v === null || v === undefined ? "-" : (Number(v) > 0 ? "+" : "") + money(v));
const pct = (v) => (v === null || v === undefined ? "-" : (100 * v).toFixed(1) + "%");
const num = (v, d = 2) => (v === null || v === undefined ? "-" : Number(v).toFixed(d));
// One time zone on the whole page, the market's: New York (ET), labelled wherever a time is shown.
const MARKET_TZ = "America/New_York";
const clockFormat = new Intl.DateTimeFormat("en-CA", { timeZone: MARKET_TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const etParts = (iso) => Object.fromEntries(clockFormat.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
const time = (iso) => (iso ? ((p) => `${p.hour}:${p.minute}:${p.second}`)(etParts(iso)) : "-");
const stamp = (iso) => (iso ? ((p) => `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`)(etParts(iso)) : "-");
const tone = (v) => (v === null || v === undefined || Number(v) === 0 ? "" : Number(v) > 0 ? "pos" : "neg");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function table(el, headers, rows) {
  el.replaceChildren();
  const head = document.createElement("tr");
  for (const h of headers) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  el.appendChild(head);
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const c of row) tr.appendChild(c instanceof Node ? c : cell(String(c)));
    el.appendChild(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("none", "dim");
    td.colSpan = headers.length;
    tr.appendChild(td);
    el.appendChild(tr);
  }
}

function badge(el, text, kind) {
  el.textContent = text;
  el.className = "badge " + kind;
}

function banner(text) {
  $("banner").hidden = !text;
  $("banner").textContent = text || "";
}

// --- rendering -------------------------------------------------------------------------------
function renderChart(curve) {
  const xs = curve.map((p) => Date.parse(p.time) / 1000);
  const ys = curve.map((p) => Number(p.equity));
  if (!chart) {
    const width = $("chart").clientWidth || 600;
    chart = new uPlot(
      {
        width,
        height: 220,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), MARKET_TZ), // the axis in ET, not the browser's zone
        axes: [
          { stroke: "#6e7b87", grid: { stroke: "#1f2a33" } },
          { stroke: "#6e7b87", grid: { stroke: "#1f2a33" }, size: 70 },
        ],
        series: [{}, { label: "equity", stroke: "#3fb950", width: 1.5, value: (u, v) => money(v) }],
      },
      [xs, ys],
      $("chart"),
    );
  } else {
    chart.setData([xs, ys]);
  }
  $("chart").dataset.points = String(xs.length);
}

function render(s) {
  const pnl = s.pnl || {};
  $("account").textContent = (s.positions.account || "-").toUpperCase();
  $("equity").textContent = money(pnl.equity);
  $("pnl").textContent = signed(pnl.pnl);
  $("pnl").className = tone(pnl.pnl);
  $("unrealized").textContent = signed(s.positions.unrealized_pnl);
  $("unrealized").className = tone(s.positions.unrealized_pnl);
  const now = s.health.now || s.at;
  $("clock").textContent = now ? `${stamp(now)}:${etParts(now).second} ET` : "-";
  renderRisk(s.risk);

  renderChart(pnl.curve || []);

  table($("positions"), ["strategy", "symbol", "qty", "entry", "last", "unrealised", "realised"],
    s.positions.positions.map((p) => [p.strategy, p.symbol, p.qty, money(p.avg_price), money(p.last_price),
      cell(signed(p.unrealized_pnl), tone(p.unrealized_pnl)), cell(signed(p.realized_pnl), tone(p.realized_pnl))]));

  table($("orders"), ["time (ET)", "strategy", "symbol", "side", "qty", "limit", "status"],
    s.orders.orders.slice(0, 15).map((o) => [time(o.decision_time || o.created_at), o.strategy, o.symbol, o.side, `${o.filled_qty}/${o.qty}`, money(o.limit_price), o.status]));

  table($("fills"), ["time (ET)", "strategy", "symbol", "side", "qty", "price"],
    s.fills.fills.slice(0, 15).map((f) => [time(f.time), f.strategy || "-", f.symbol, cell(f.side, f.side === "buy" ? "pos" : "neg"), f.qty, money(f.price)]));

  table($("strategies"), ["strategy", "bars", "state", "orders", "fills", "realised", "win rate", "Sharpe", "max DD", "fill rate", "slip bps", ""],
    s.strategies.strategies.map((st) => {
      const button = document.createElement("button");
      button.textContent = st.enabled ? "DISABLE" : "ENABLE";
      button.dataset.strategy = st.strategy;
      button.onclick = () => act(`/strategies/${st.strategy}/${st.enabled ? "disable" : "enable"}`);
      const td = document.createElement("td");
      td.appendChild(button);
      return [st.strategy, st.timeframe || "-", cell(st.enabled ? "on" : "off", st.enabled ? "pos" : "neg"), st.orders, st.fills,
        cell(signed(st.realized_pnl), tone(st.realized_pnl)), pct(st.win_rate), num(st.sharpe), pct(st.max_drawdown),
        pct(st.execution.fill_rate), num(st.execution.slippage_bps_vs_decision), td];
    }));

  const h = s.health;
  definitions($("health"), [
    ["status", h.ok ? "ok" : "STALE"],
    ["market", h.market_open ? "open" : "closed"],
    ["last bar (ET)", h.last_bar ? stamp(h.last_bar) : "-"],
    ["feed lag", h.feed_lag_seconds === null ? "-" : `${num(h.feed_lag_seconds, 1)} s`],
    ...Object.entries(h.last_bars).map(([sym, t]) => [sym, t ? time(t).slice(0, 5) : "-"]),
  ]);
  $("health").dataset.status = h.ok ? "ok" : "stale";
}

function renderRisk(risk) {
  // paper or live is the configuration's explicit choice; live (real money) is shown in red
  const mode = risk.trading_mode || "simulated";
  badge($("mode"), mode.toUpperCase(), mode === "live" ? "bad" : mode === "paper" ? "ok" : "warn");
  badge($("trading"), risk.halted ? "HALTED" : risk.entries_halted_today ? "ENTRIES HALTED" : "TRADING", risk.halted ? "bad" : risk.entries_halted_today ? "warn" : "ok");
  const riskRows = [
    ["state", risk.halted ? "HALTED" : "trading"],
    ["reason", risk.halt_reason || "-"],
    ["since", risk.halted_at ? risk.halted_at.replace("T", " ").slice(0, 19) : "-"],
    ["day opened at", money(risk.opening_equity)],
    ["peak equity", money(risk.peak_equity)],
    ["entries halted today", risk.entries_halted_today ? "yes" : "no"],
    ["disabled strategies", risk.disabled_strategies.join(", ") || "-"],
    [
      "halted symbols",
      Object.entries(risk.halted_symbols || {})
        .map(([symbol, why]) => `${symbol} (${why})`)
        .join(", ") || "-",
    ],
    ["pending reservations", String(risk.reservations.length)],
  ];
  definitions($("risk"), riskRows);
}

function definitions(el, rows) {
  const dl = document.createElement("dl");
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  el.replaceChildren(dl);
}

// --- the API ---------------------------------------------------------------------------------
async function act(path) {
  const reason = $("reason").value.trim();
  if (!reason) {
    banner("A reason is needed for every action (it is kept in the ledger).");
    $("reason").focus();
    return;
  }
  try {
    const response = await fetch(API + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth() },
      body: JSON.stringify({ reason }),
    });
    if (response.status === 401) {
      askToSignIn("The sign-in has expired: sign in again.");
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      banner(`${path}: HTTP ${response.status} ${JSON.stringify(body.detail || body.message || body)}`);
      return;
    }
    $("reason").value = "";
    banner("");
    renderRisk(body); // every action answers with the risk state
  } catch (err) {
    banner(`${path}: the API is unreachable (${err})`);
  }
}

function connected() {
  downSince = null;
  banner("");
  badge($("link"), polling ? "POLLING" : "LIVE", polling ? "warn" : "ok");
  $("panels").classList.remove("stale");
}

function disconnected() {
  downSince = downSince || new Date();
  badge($("link"), "DISCONNECTED", "bad");
  $("panels").classList.add("stale");
  banner(`API unreachable since ${downSince.toISOString().slice(11, 19)} UTC -- showing the last data received; reconnecting...`);
}

// Behind API Gateway (AWS) there is no event stream: the page polls the same routes instead.
const ROUTES = ["positions", "pnl", "orders", "fills", "strategies", "risk", "health"];
let polling = null;
let received = false;

async function poll() {
  try {
    const bodies = await Promise.all(
      ROUTES.map(async (route) => {
        const response = await fetch(`${API}/${route}`, { headers: auth() });
        if (response.status !== 200 && !(route === "health" && response.status === 503)) {
          throw new Error(`${route}: HTTP ${response.status}`);
        }
        return response.json();
      }),
    );
    const snapshot = Object.fromEntries(ROUTES.map((route, i) => [route, bodies[i]]));
    connected();
    render({ ...snapshot, at: new Date().toISOString() });
  } catch (err) {
    disconnected();
  }
}

function startPolling() {
  if (polling) return;
  if (source) source.close();
  badge($("link"), "POLLING", "warn");
  poll();
  polling = setInterval(poll, 5000);
}

// --- signing in (Cognito's InitiateAuth / RespondToAuthChallenge, JSON 1.1) --------------------
const auth = () => ({ authorization: sessionStorage.getItem("qt-id") || "" });

async function cognito(operation, body) {
  const response = await fetch(login.endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify({ ClientId: login.clientId, ...body }),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.message || answer.__type || `HTTP ${response.status}`);
  return answer;
}

function signedIn(result) {
  sessionStorage.setItem("qt-id", result.IdToken);
  if (result.RefreshToken) sessionStorage.setItem("qt-refresh", result.RefreshToken);
  session = null;
  $("password").value = "";
  $("new-password").value = "";
  $("new-password-row").hidden = true;
  $("login").hidden = true;
  banner("");
  connect();
}

function askToSignIn(message) {
  sessionStorage.removeItem("qt-id");
  $("login").hidden = false;
  banner(message || "");
}

async function signIn(event) {
  event.preventDefault();
  const user = $("user").value.trim();
  try {
    if (session) {
      const answer = await cognito("RespondToAuthChallenge", {
        ChallengeName: "NEW_PASSWORD_REQUIRED",
        Session: session,
        ChallengeResponses: { USERNAME: user, NEW_PASSWORD: $("new-password").value },
      });
      signedIn(answer.AuthenticationResult);
      return;
    }
    const answer = await cognito("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: user, PASSWORD: $("password").value },
    });
    if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      session = answer.Session;
      $("new-password-row").hidden = false;
      banner("First sign-in: choose a new password (12 characters or more).");
      $("new-password").focus();
      return;
    }
    signedIn(answer.AuthenticationResult);
  } catch (err) {
    banner(`Sign-in refused: ${err.message}`);
  }
}

// The ID token lasts an hour: a 401 is answered once with the refresh token, then with the form.
async function refreshed() {
  const token = sessionStorage.getItem("qt-refresh");
  if (!token) return false;
  try {
    const answer = await cognito("InitiateAuth", { AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: token } });
    sessionStorage.setItem("qt-id", answer.AuthenticationResult.IdToken);
    return true;
  } catch (err) {
    sessionStorage.removeItem("qt-refresh");
    return false;
  }
}

async function connect() {
  try {
    let probe = await fetch(API + "/risk", { headers: auth() });
    if (probe.status === 401 && (await refreshed())) probe = await fetch(API + "/risk", { headers: auth() });
    if (probe.status === 401 || probe.status === 403) {
      askToSignIn("Sign in to see the account.");
      return;
    }
  } catch (err) {
    disconnected();
    setTimeout(connect, 2000);
    return;
  }
  $("login").hidden = true;
  openStream();
}

// The event stream takes a short-lived token (EventSource cannot send a header, and a credential
// in a URL would end up in logs): one per connection, so every reconnect asks for a fresh one
// instead of letting EventSource retry an expired URL.
async function openStream() {
  let token;
  try {
    const answer = await fetch(API + "/events/token", { method: "POST", headers: auth() });
    if (!answer.ok) {
      startPolling(); // no event stream here (API Gateway): poll
      return;
    }
    token = (await answer.json()).token;
  } catch (err) {
    disconnected();
    setTimeout(openStream, 2000);
    return;
  }
  if (source) source.close();
  source = new EventSource(`${API}/events?token=${encodeURIComponent(token)}`);
  source.onerror = () => {
    disconnected();
    source.close();
    setTimeout(openStream, 1000);
  };
  source.addEventListener("snapshot", (event) => {
    received = true;
    connected();
    render(JSON.parse(event.data));
  });
}

async function start() {
  $("halt").onclick = () => act("/halt");
  $("resume").onclick = () => act("/resume");
  $("login").onsubmit = signIn;
  try {
    login = (await (await fetch("/config.json")).json()).login;
  } catch (err) {
    banner("This dashboard has no sign-in configured (/config.json).");
    return;
  }
  connect();
}

start();

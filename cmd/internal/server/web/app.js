// The account page: log in, see where you are logged in, log out other
// devices, change the password. Plain DOM, no third-party code; every
// string from the server is set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

// api calls the JSON API and returns {status, body}.
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  return { status: resp.status, body: data || {} };
}

function show(which) {
  $("loading").hidden = true;
  $("login").hidden = which !== "login";
  $("account").hidden = which !== "account";
  const title = which === "login" ? $("login-title") : $("account-title");
  title.focus();
}

// browserName turns a User-Agent into a short, readable name.
function browserName(ua) {
  if (!ua) return "Unknown browser";
  const browsers = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"], ["curl/", "curl"]];
  const systems = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS X", "macOS"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]];
  const b = browsers.find(([k]) => ua.includes(k));
  const s = systems.find(([k]) => ua.includes(k));
  if (!b && !s) return ua.slice(0, 60);
  return (b ? b[1] : "Browser") + (s ? " on " + s[1] : "");
}

function when(iso) {
  const d = new Date(iso);
  if (isNaN(d) || d.getFullYear() < 2000) return "unknown";
  return d.toLocaleString();
}

// refresh shows the login form or the account page, whichever applies.
async function refresh() {
  const me = await api("GET", "/api/user");
  if (me.status === 401) { show("login"); return; }
  if (me.status !== 200) { $("loading").textContent = "The server is unavailable; try again shortly."; return; }
  $("who").textContent = me.body.email;
  if ($("account").hidden) show("account");
  await loadSessions();
}

let recentAuth = true;

async function loadSessions() {
  const r = await api("GET", "/api/sessions");
  if (r.status === 401) { show("login"); return; }
  if (r.status !== 200) { $("sessions-status").textContent = r.body.error || "Could not load your sessions."; return; }
  recentAuth = r.body.recentAuth;
  $("reauth-hint").hidden = recentAuth;
  $("reauth-field").hidden = recentAuth;
  const list = $("sessions");
  list.replaceChildren();
  // This device first, then the others, newest first (the server's order).
  const sessions = r.body.sessions.slice().sort((a, b) => (b.current ? 1 : 0) - (a.current ? 1 : 0));
  for (const s of sessions) {
    const li = document.createElement("li");
    li.dataset.handle = s.handle;
    if (s.current) li.className = "current";
    const info = document.createElement("div");
    const device = document.createElement("div");
    device.className = "device";
    device.textContent = browserName(s.userAgent);
    device.title = s.userAgent || "";
    if (s.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "This device";
      device.append(badge);
    }
    if (s.deviceBound) {
      const bound = document.createElement("span");
      bound.className = "badge";
      bound.textContent = "Device-bound";
      bound.title = "Bound to a key this browser keeps: a copy of its cookie stops working within minutes";
      device.append(bound);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = (s.address ? "From " + s.address + " · " : "") + "last seen " + when(s.lastSeen) + " · logged in " + when(s.created);
    info.append(device, meta);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = s.current ? "Log out" : "Log out this session";
    button.setAttribute("aria-label", (s.current ? "Log out this device (" : "Log out the session on ") + browserName(s.userAgent) + (s.current ? ")" : ""));
    button.addEventListener("click", () => s.current ? logout() : endSession(s.handle));
    li.append(info, button);
    list.append(li);
  }
}

// reauthBody carries the password when the log-in is no longer recent.
function reauthBody() {
  const pw = $("reauth-password").value;
  return recentAuth || !pw ? undefined : { password: pw };
}

async function reportEnded(r, okText) {
  if (r.status === 401) { show("login"); return; }
  $("sessions-status").textContent = r.status === 200 ? okText(r.body) : (r.body.error || "Something went wrong.");
  if (r.status === 403) { $("reauth-field").hidden = false; $("reauth-password").focus(); }
  if (r.status === 200) $("reauth-password").value = "";
  await loadSessions();
}

async function endSession(handle) {
  const r = await api("DELETE", "/api/sessions/" + encodeURIComponent(handle), reauthBody());
  await reportEnded(r, () => "That session is logged out.");
}

async function revokeOthers() {
  const r = await api("POST", "/api/sessions/revoke-others", reauthBody());
  await reportEnded(r, (b) => b.ended === 1 ? "1 other session logged out." : b.ended + " other sessions logged out.");
}

async function logout() {
  await api("POST", "/api/logout");
  $("password").value = "";
  show("login");
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const r = await api("POST", "/api/login", { email: $("email").value, password: $("password").value });
  if (r.status !== 200) {
    $("login-error").textContent = r.status === 401 ? "Wrong email or password." : (r.body.error || "Log-in failed.");
    return;
  }
  $("password").value = "";
  $("account").hidden = true;
  await refresh();
}

async function changePassword(ev) {
  ev.preventDefault();
  const r = await api("POST", "/api/password", { current: $("current-password").value, new: $("new-password").value });
  if (r.status === 401) { show("login"); return; }
  $("password-status").textContent = r.status === 200
    ? "Password changed. " + (r.body.ended === 1 ? "1 other session" : r.body.ended + " other sessions") + " logged out."
    : (r.body.error || "Could not change the password.");
  if (r.status === 200) {
    $("current-password").value = "";
    $("new-password").value = "";
    await loadSessions();
  }
}

$("login-form").addEventListener("submit", login);
$("password-form").addEventListener("submit", changePassword);
$("logout").addEventListener("click", logout);
$("revoke-others").addEventListener("click", revokeOthers);
refresh();

/* callpath tracker: shows each visitor a tracking number from the site's pool.
   Dependency-free; never throws into the host page; keeps the page's own number
   when our server is down or slower than 3 s. Protocol: docs/tracker-protocol.md */
(function (w, d) {
  "use strict";
  var C = /*CONFIG*/{};
  var TAGS = /^(SCRIPT|STYLE|TEXTAREA|INPUT|NOSCRIPT|TEMPLATE|SELECT|OPTION)$/;
  var SEP = "[\\s\\u00a0().-]{0,3}";
  var KEY = "_cp_" + C.k, SKEY = KEY + "_s";
  var cur = null, sid = null, seen = [], obs = null, lens = {}, RX;
  var code = "", CK = "data-callpath-code", st = null;

  function build() {
    var alts = [];
    for (var i = 0; i < C.n.length; i++) {
      lens[C.n[i][0].length] = 1;
      alts.push("(?:(?:\\+?" + C.n[i][1] + "|8|0)" + SEP + ")?" + C.n[i][0].split("").join(SEP));
    }
    return alts.length ? new RegExp("(^|[^\\d+])(" + alts.join("|") + ")(?!\\d)", "g") : null;
  }

  function get(k, s) {
    try { return JSON.parse(w[s || "localStorage"].getItem(k)); } catch (e) { return null; }
  }
  function put(k, v, s) {
    try { w[s || "localStorage"].setItem(k, JSON.stringify(v)); } catch (e) { /* private mode */ }
  }
  function ck(name) {
    try {
      var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      return m ? m[1] : null;
    } catch (e) { return null; }
  }
  function visitor() {
    var v = (get(KEY) || {}).v || ck(KEY);
    return typeof v == "string" && /^[\w-]{8,64}$/.test(v) ? v : null;
  }
  function remember(r) {
    var a = { number: r.number, national: r.national, display: r.display,
      until: Date.now() + r.hold_seconds * 1000 };
    put(KEY, { v: r.visitor, a: r.number ? a : null });
    put(SKEY, { s: r.session, t: Date.now() }, "sessionStorage");
    try { d.cookie = KEY + "=" + r.visitor + ";path=/;max-age=63072000;SameSite=Lax"; } catch (e) { /* */ }
  }

  function fmt(text, a) {
    var n = a.national, j = n.length, out = "", k, ch;
    if (text.replace(/\D/g, "").length < j) return null;
    for (k = text.length - 1; k >= 0; k--) {
      ch = text.charAt(k);
      out = (j > 0 && ch >= "0" && ch <= "9" ? n.charAt(--j) : ch) + out;
    }
    return out;
  }
  function sub(text, a, tel) {
    return text.replace(RX, function (m, pre, num) {
      return pre + ((lens[a.national.length] && fmt(num, a)) || (tel ? a.number : a.display));
    });
  }
  function has(text) { RX.lastIndex = 0; var r = RX.test(text); RX.lastIndex = 0; return r; }

  function textNode(n) {
    var p = n.parentNode;
    if (!p || TAGS.test(p.nodeName) || n._cpr === n.data || !has(n.data)) return;
    track(n, n.data);
  }
  function link(a) {
    var h = a.getAttribute("href") || "";
    if (a._cpr === h || !/^tel:/i.test(h) || !has(h)) return;
    track(a, h);
  }
  function track(n, v) {
    if (n._cpo == null) seen.push(n);
    n._cpo = v;
    n._cpr = null;
    render(n);
  }
  function render(n) {
    var t = n.nodeType === 3, v = t ? n.data : n.getAttribute("href");
    if (n._cpr != null && v !== n._cpr) return; /* the page changed it since: leave it */
    n._cpr = sub(n._cpo, cur, !t);
    if (t) { n.data = n._cpr; mark(n.parentNode); } else n.setAttribute("href", n._cpr);
  }
  /* Visit code: the element showing the default number gets data-callpath-code, which a
     default rule (first in <head>, so any rule of the page's wins) labels " (code 4821)";
     elements of class callpath-code get the code as their text. */
  function mark(e) {
    if (e && e.setAttribute) { if (code) e.setAttribute(CK, code); else e.removeAttribute(CK); }
  }
  function fill() {
    var els = d.getElementsByClassName("callpath-code");
    for (var i = 0; i < els.length; i++) if (els[i].textContent !== code) els[i].textContent = code;
  }
  function label() {
    d.documentElement.classList.toggle("callpath-has-code", !!code);
    if (!code || st) return;
    st = d.createElement("style");
    st.textContent = "[" + CK + "]::after{content:\" (code \" attr(" + CK + ") \")\"}";
    var h = d.head || d.documentElement;
    h.insertBefore(st, h.firstChild);
  }
  function scan(root) {
    if (root.nodeType === 3) return textNode(root);
    if (root.nodeType !== 1 || TAGS.test(root.nodeName)) return;
    var it = d.createTreeWalker(root, 4), n, i, links;
    while ((n = it.nextNode())) textNode(n);
    links = root.querySelectorAll ? root.querySelectorAll("a[href]") : [];
    if (root.nodeName === "A") link(root);
    for (i = 0; i < links.length; i++) link(links[i]);
    fill();
  }
  function watch() {
    if (obs || !w.MutationObserver) return;
    obs = new MutationObserver(function (list) {
      try {
        for (var i = 0; i < list.length; i++) {
          var m = list[i], j;
          if (m.type === "characterData") textNode(m.target);
          else if (m.type === "attributes") link(m.target);
          else for (j = 0; j < m.addedNodes.length; j++) scan(m.addedNodes[j]);
        }
      } catch (e) { /* never break the page */ }
    });
    obs.observe(d.documentElement, { childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["href"] });
  }
  function show(a) {
    if (!RX || !a || !a.number || typeof a.national != "string") return;
    var c = /^[0-9]{4,6}$/.test(a.visit_code) ? a.visit_code : "";
    if (cur && cur.number === a.number && c === code) return;
    cur = a;
    code = c;
    label();
    for (var i = 0; i < seen.length; i++) render(seen[i]);
    scan(d.body || d.documentElement);
    watch();
  }

  function safe(f) {
    return function (e) { try { f(e); } catch (x) { /* never break the page */ } };
  }
  function post(path, body, done) {
    /* The whole answer, body included, within 3 s, or the page keeps what it shows. */
    try {
      var ctl = w.AbortController ? new AbortController() : null;
      var t = setTimeout(function () { if (ctl) ctl.abort(); done = null; }, 3000);
      w.fetch(C.u + "/t/v1/" + path, { method: "POST", body: JSON.stringify(body), keepalive: true,
        credentials: "omit", headers: { "Content-Type": "text/plain" }, signal: ctl && ctl.signal })
        .then(function (r) { return r.ok ? r.json() : { status: r.status }; })
        .then(function (r) { clearTimeout(t); if (done) done(r); })
        ["catch"](function () { clearTimeout(t); });
    } catch (e) { /* fetch or JSON broken by the page */ }
  }
  function beacon(path, body) {
    try {
      var b = new Blob([JSON.stringify(body)], { type: "text/plain" });
      if (!(navigator.sendBeacon && navigator.sendBeacon(C.u + "/t/v1/" + path, b))) post(path, body);
    } catch (e) { /* */ }
  }
  function got(r) {
    if (!r || !r.session) return;
    sid = r.session;
    remember(r);
    show(r.number ? r : null);
  }
  function start() {
    var s = get(SKEY, "sessionStorage");
    post("session", { site: C.k, visitor: visitor(), url: w.location.href,
      session: s && Date.now() - s.t < 1800000 ? s.s : null,
      referrer: d.referrer || null, ga: ck("_ga"), ym: ck("_ym_uid") }, got);
  }
  /* Presence: a visible page pings, but not for ever. After C.i seconds without a sign of
     a person (page load, input, scroll, tap, coming back to the tab) the hold is left to
     run out, so a tab forgotten on a screen does not keep a number for days. A page that
     saw no person at all in its tab (hu) says so when it leaves: its number goes at once. */
  var act = Date.now(), HK = KEY + "_h", hu = false;
  function alive() {
    act = Date.now();
    if (!hu) { hu = true; put(HK, 1, "sessionStorage"); }
  }
  function ping() {
    if (sid && d.visibilityState === "visible" && Date.now() - act < C.i * 1000) {
      post("ping", { session: sid, visible: true }, function (r) {
        if (r && r.status === 404) { sid = null; start(); } else got(r);
      });
    }
  }

  function init() {
    var saved = get(KEY);
    if (saved && saved.a && saved.a.until > Date.now()) show(saved.a);
    hu = !!get(HK, "sessionStorage");
    start();
    setInterval(safe(ping), C.p * 1000);
    d.addEventListener("visibilitychange", safe(function () {
      if (d.visibilityState === "visible") { alive(); ping(); }
    }));
    ["pointerdown", "keydown", "scroll", "touchstart", "mousemove"].forEach(function (k) {
      w.addEventListener(k, safe(alive), { passive: true, capture: true });
    });
    w.addEventListener("pagehide", safe(function () {
      if (sid) beacon("leave", { session: sid, h: hu });
    }));
    d.addEventListener("click", safe(function (e) {
      var a = e.target && e.target.closest && e.target.closest("a[href^='tel:' i]");
      if (a && sid) beacon("event", { session: sid, kind: "tel_click" });
    }), true);
  }

  try {
    if (w.__callpath || !w.fetch || !C.k) return;
    w.__callpath = 1;
    RX = build();
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", safe(init));
    else init();
  } catch (e) { /* never break the page */ }
})(window, document);

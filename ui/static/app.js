// vmcore web UI: small enhancements. Every page works without this file.
"use strict";

// A crash still being analysed: poll its status and reload when it moves
// on, so the engineer sees each step and then the results.
(function () {
  const url = document.body.dataset.refresh, shown = document.body.dataset.state;
  if (!url) return;
  let tries = 0;
  const poll = async () => {
    if (++tries > 2000) return;
    if (!document.hidden) {
      try {
        const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (r.ok && (await r.json()).state !== shown) { location.reload(); return; }
      } catch (e) { /* the network blinked: try again */ }
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
})();

// The log page: filter by level and text in place, without a round trip,
// when the page holds the whole log (no filter was applied on the server).
(function () {
  const form = document.getElementById("logfilter");
  const log = document.getElementById("log");
  if (!form || !log) return;
  const params = new URLSearchParams(location.search);
  if (params.get("level") || params.get("q")) return; // the server filtered: keep its answer
  const rows = Array.from(log.querySelectorAll(".r"));
  const texts = rows.map((r) => r.textContent.toLowerCase());
  const levels = rows.map((r) => { const m = /\bl(-?\d)\b/.exec(r.className); return m ? +m[1] : 7; });
  const names = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];
  const level = form.querySelector("#level"), q = form.querySelector("#lq"), count = document.getElementById("logcount");
  const apply = () => {
    const max = level.value ? names.indexOf(level.value) : 7;
    const needle = q.value.trim().toLowerCase();
    let shown = 0;
    for (let i = 0; i < rows.length; i++) {
      const hide = (levels[i] > max) || (level.value && levels[i] < 0) || (needle && !texts[i].includes(needle));
      rows[i].hidden = hide;
      if (!hide) shown++;
    }
    count.textContent = (count.dataset.template || "{shown} of {total} lines shown").replace("{shown}", shown).replace("{total}", rows.length);
    const u = new URL(location.href);
    level.value ? u.searchParams.set("level", level.value) : u.searchParams.delete("level");
    needle ? u.searchParams.set("q", q.value.trim()) : u.searchParams.delete("q");
    history.replaceState(null, "", u);
  };
  let timer;
  level.addEventListener("change", apply);
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 150); });
  form.addEventListener("submit", (e) => {
    const wall = form.querySelector("input[name=time]:checked");
    const wantWall = wall && wall.value === "wall";
    if (wantWall !== (params.get("time") === "wall")) return; // times are formatted by the server
    e.preventDefault();
    apply();
  });
  form.querySelectorAll("input[name=time]").forEach((r) => r.addEventListener("change", () => form.requestSubmit()));
  // A link to a line (#L123, "Jump to the oops") that the filter hides
  // clears the filter first, so that the line is there to go to.
  const reveal = (hash) => {
    const target = hash && document.getElementById(decodeURIComponent(hash.slice(1)));
    const row = target && target.closest(".r");
    if (!row || !row.hidden) return false;
    level.value = ""; q.value = "";
    apply();
    return true;
  };
  document.querySelectorAll("a.jump").forEach((a) => a.addEventListener("click", (e) => {
    if (reveal("#oops")) {
      e.preventDefault();
      location.hash = "";
      location.hash = "#oops";
    }
  }));
  window.addEventListener("hashchange", () => { if (reveal(location.hash)) location.hash = location.hash; });
  reveal(location.hash);
})();

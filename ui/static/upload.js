// vmcore web UI: upload a dump from the browser with the service's upload
// protocol (see api/openapi.yaml): register the dump, send
// vmcore-dmesg.txt first, then the dump in parts, then complete it with
// the SHA-256 of the whole file, hashed here part by part as it goes.
// Requests go to the UI's copy of the upload endpoints, authorized by the
// session cookie and its CSRF token.
"use strict";

// SHA-256 (FIPS 180-4), incremental: the dump never sits whole in memory.
class SHA256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.buf = new Uint8Array(64);
    this.fill = 0;
    this.len = 0;
  }
  update(bytes) {
    let i = 0;
    this.len += bytes.length;
    if (this.fill > 0) {
      const n = Math.min(64 - this.fill, bytes.length);
      this.buf.set(bytes.subarray(0, n), this.fill);
      this.fill += n; i = n;
      if (this.fill < 64) return;
      this.block(this.buf, 0); this.fill = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.block(bytes, i);
    if (i < bytes.length) { this.buf.set(bytes.subarray(i), 0); this.fill = bytes.length - i; }
  }
  block(b, o) {
    const w = this.w, K = SHA256.K;
    for (let t = 0; t < 16; t++, o += 4) w[t] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, bb, c, d, e, f, g, h] = this.h;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    const H = this.h;
    H[0] += a; H[1] += bb; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  hex() {
    const bits = this.len * 8;
    const pad = new Uint8Array(((this.fill < 56) ? 64 : 128) - this.fill);
    pad[0] = 0x80;
    const dv = new DataView(pad.buffer);
    dv.setUint32(pad.length - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(pad.length - 4, bits >>> 0);
    const len = this.len;
    this.update(pad);
    this.len = len;
    return Array.from(this.h, (x) => x.toString(16).padStart(8, "0")).join("");
  }
}
SHA256.K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const api = form.dataset.api, csrf = form.dataset.csrf, canRead = form.dataset.crashLinks === "true";
  const box = document.getElementById("progress"), bar = document.getElementById("upbar"), status = document.getElementById("upstatus");
  const button = document.getElementById("upbutton");
  const mib = (n) => (n / 1048576).toFixed(1) + " MiB";
  // The page's language's messages, with {name} placeholders.
  const msg = (key, vars) => (form.dataset["msg" + key] || key).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  const say = (text) => { status.textContent = text; };

  // send makes one request and retries network failures and 5xx answers
  // with backoff, as vmcorectl does; onProgress hears of bytes sent.
  const send = (method, url, body, type, onProgress) => new Promise((resolve, reject) => {
    let attempt = 0;
    const go = () => {
      const x = new XMLHttpRequest();
      x.open(method, url);
      x.setRequestHeader("X-CSRF-Token", csrf);
      if (type) x.setRequestHeader("Content-Type", type);
      if (onProgress) x.upload.onprogress = (e) => onProgress(e.loaded);
      const retry = (why) => {
        if (++attempt > 6) { reject(new Error(why)); return; }
        setTimeout(go, Math.min(30000, 500 * 2 ** attempt));
      };
      x.onload = () => {
        if (x.status >= 200 && x.status < 300) { resolve(x.responseText ? JSON.parse(x.responseText) : null); return; }
        let msg = x.status + " " + x.statusText;
        try { msg = JSON.parse(x.responseText).error || msg; } catch (e) { /* not JSON */ }
        if (x.status >= 500 || x.status === 429) retry(msg); else reject(new Error(msg));
      };
      x.onerror = () => retry("the network failed");
      x.send(body);
    };
    go();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = form.querySelector("#vmcore").files[0];
    const dmesg = form.querySelector("#dmesg").files[0];
    const host = form.querySelector("#uphost").value.trim();
    if (!file) return;
    button.disabled = true;
    box.hidden = false;
    bar.value = 0;
    try {
      say(msg("Registering", { name: file.name, size: mib(file.size) }));
      const meta = { size: file.size, filename: file.name };
      if (host) meta.hostname = host;
      const up = await send("POST", api, JSON.stringify(meta), "application/json");
      let id = up.dump_id, duplicate = up.existing;
      if (!duplicate) {
        if (dmesg) {
          say(msg("Sending", { name: dmesg.name }));
          await send("PUT", api + "/" + id + "/dmesg", dmesg, "text/plain");
        }
        const sha = new SHA256(), ps = up.part_size, done = new Set((up.done || []).map((p) => p.number));
        let sent = 0;
        for (let n = 1; n <= up.parts; n++) {
          const start = (n - 1) * ps, end = Math.min(start + ps, file.size);
          const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
          sha.update(bytes);
          if (!done.has(n)) {
            await send("PUT", api + "/" + id + "/parts/" + n, bytes, "application/octet-stream", (loaded) => {
              bar.value = Math.floor(100 * (sent + loaded) / file.size);
              say(msg("Sent", { sent: mib(sent + loaded), size: mib(file.size), part: n, parts: up.parts }));
            });
          }
          sent = end;
          bar.value = Math.floor(100 * sent / file.size);
        }
        say(msg("Completing", {}));
        const res = await send("POST", api + "/" + id + "/complete", JSON.stringify({ sha256: sha.hex() }), "application/json");
        id = res.dump_id; duplicate = res.duplicate;
      }
      bar.value = 100;
      const [before, after] = msg(duplicate ? "Duplicate" : "Uploaded", {}).split("{id}");
      status.textContent = before;
      if (canRead) {
        const a = document.createElement("a");
        a.href = "/crashes/" + encodeURIComponent(id);
        a.textContent = id;
        a.id = "uploaded";
        status.append(a, after || "");
      } else {
        status.append(id, after || "");
      }
    } catch (err) {
      say(msg("Failed", { error: err.message }));
    } finally {
      button.disabled = false;
    }
  });
})();

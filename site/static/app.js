"use strict";
async function load() {
  const set = (id, v) => { document.getElementById(id).textContent = v; };
  try {
    const resp = await fetch("/api/data");
    const data = await resp.json();
    set("x-cache", resp.headers.get("X-Cache") || "–");
    set("cache-status", resp.headers.get("Cache-Status") || "–");
    set("age", resp.headers.get("Age") || "0");
    set("cache-hit", String(data.cache_hit));
    set("source", data.source);
    set("query-time", data.query_time);
    set("version", String(data.version));
    set("message", data.message);
    set("raw", JSON.stringify(data, null, 2));
  } catch (err) {
    const el = document.getElementById("raw");
    el.className = "error";
    el.textContent = "request failed: " + err;
  }
}
document.getElementById("refresh").addEventListener("click", load);
load();

// First contentful paint and bytes over the wire of the resident pages on a
// poor connection: 1.6 Mbps down, 750 Kbps up, 150 ms RTT, CPU 4x slower,
// median of RUNS cold loads per language. A measurement, not a test: run by
// hand against a running server (see README, "Browser tests").
//
//   node tests/browser/measure.mjs http://127.0.0.1:8080 [RUNS=9]

import { LANGS, launch, newPage, wireMeter } from "./lib.mjs";

const base = process.argv[2] || process.env.BASE_URL || "http://127.0.0.1:8080";
const runs = Number(process.argv[3] || 9);
const NETWORK = { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8), uploadThroughput: (750e3 / 8) };
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const browser = await launch();
const results = [];
const pages = process.env.MEASURE_PATHS ? process.env.MEASURE_PATHS.split(",") : ["/s/livability"];
for (const path of pages) {
  for (const lang of LANGS) {
    const fcps = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      // A fresh context each time: nothing cached, no connection reused.
      const { context, page } = await newPage(browser, "phone");
      const meter = await wireMeter(page);
      await meter.cdp.send("Network.emulateNetworkConditions", NETWORK);
      await meter.cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
      const url = `${base}${path}${path.includes("?") ? "&" : "?"}lang=${lang}`;
      const w = await meter.weigh(() => page.goto(url, { waitUntil: "load" }));
      const fcp = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
      if (fcp !== null) fcps.push(fcp);
      bytes = w.bytes;
      await context.close();
    }
    const row = { page: path, lang, runs: fcps.length, fcp_median_ms: Math.round(median(fcps)), fcp_min_ms: Math.round(Math.min(...fcps)), fcp_max_ms: Math.round(Math.max(...fcps)), bytes_over_wire: bytes };
    results.push(row);
    console.log(JSON.stringify(row));
  }
}
await browser.close();
console.log("\npage | lang | FCP median (min–max) | bytes over the wire");
for (const r of results) console.log(`${r.page} | ${r.lang} | ${(r.fcp_median_ms / 1000).toFixed(2)} s (${(r.fcp_min_ms / 1000).toFixed(2)}–${(r.fcp_max_ms / 1000).toFixed(2)}) | ${(r.bytes_over_wire / 1024).toFixed(1)} KB`);

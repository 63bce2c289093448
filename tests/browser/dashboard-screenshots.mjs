// Screenshots of what officials see: the dashboard and the yearly report,
// at desktop (1280 px) and phone (390 px) width, on the two interview
// waves of tests/reference/report. Run by hand after `cargo build`;
// rewrites docs/screenshots/dashboard-*.png and report-*.png:
//
//   node tests/browser/dashboard-screenshots.mjs
//
// CIVICPULSE_BIN picks another binary (e.g. target/release/civicpulse).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { launch, newPage, startServer } from "./lib.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "docs/screenshots");
const bin = process.env.CIVICPULSE_BIN || join(root, "target/debug/civicpulse");
const work = mkdtempSync(join(tmpdir(), "civicpulse-dash-shots-"));
const db = join(work, "shots.db");
const password = "screenshots only 42";
const run = (args, input) =>
  execFileSync(bin, [...args, "--database", db], { input, stdio: ["pipe", "ignore", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
for (const [wave, file] of [["2025", "wave2025.csv"], ["2026", "wave2026.csv"]]) {
  run(["import", "livability", join(root, "tests/reference/report", file), "--wave", wave]);
}
run(["user", "add", "ada", "--role", "statistician"], `${password}\n`);

const { server, base } = await startServer(bin, db);

const browser = await launch();
const shots = [];
try {
  for (const [device, lang] of [["desktop", "en"], ["phone", "zh"], ["phone", "ko"]]) {
    const { context, page } = await newPage(browser, device, { deviceScaleFactor: 1 });
    await page.goto(`${base}/login?lang=${lang}`);
    await page.fill('input[name="username"]', "ada");
    await page.fill('input[name="password"]', password);
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith("/admin")), page.locator('form[action="/login"] button[type="submit"]').click()]);
    await page.goto(`${base}/dashboard/livability?lang=${lang}`);
    const top = join(out, `dashboard-${lang}-${device}.png`);
    await page.locator("#headline").scrollIntoViewIfNeeded();
    await page.screenshot({ path: top });
    const districts = join(out, `dashboard-${lang}-${device}-districts.png`);
    await page.locator("#districts").screenshot({ path: districts });
    const items = join(out, `dashboard-${lang}-${device}-items.png`);
    await page.locator("#items").screenshot({ path: items });
    await page.goto(`${base}/dashboard/livability/report?lang=${lang}`);
    const report = join(out, `report-${lang}-${device}.png`);
    await page.screenshot({ path: report });
    shots.push(top, districts, items, report);
    await context.close();
  }
  for (const f of shots) console.log(`${f.slice(root.length + 1)}  ${(statSync(f).size / 1024).toFixed(0)} KB`);
} finally {
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}

// Screenshots of what residents see, at phone width (390 px), in each
// language: the first screen of page 1, a whole section page (page 2), and
// the whole check-your-answers page. Run by hand after `cargo build`;
// rewrites docs/screenshots/resident-*.png:
//
//   node tests/browser/screenshots.mjs            # starts target/debug/civicpulse on a temp database
//   node tests/browser/screenshots.mjs URL        # or uses a running server
//
// CIVICPULSE_BIN picks another binary (e.g. target/release/civicpulse).

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LANGS, Survey, launch, newPage, startServer } from "./lib.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "docs/screenshots");
let base = process.argv[2];
let server;
let work;
if (!base) {
  work = mkdtempSync(join(tmpdir(), "civicpulse-shots-"));
  const bin = process.env.CIVICPULSE_BIN || join(root, "target/debug/civicpulse");
  ({ server, base } = await startServer(bin, join(work, "shots.db")));
}

const browser = await launch();
try {
  for (const lang of LANGS) {
    // Device scale 1 keeps the files small; the layout is the 390 px phone's.
    const { context, page } = await newPage(browser, "phone", { deviceScaleFactor: 1 });
    const s = new Survey(page, { base });
    await s.openSurvey(lang);
    const first = join(out, `resident-${lang}-first-screen.png`);
    await page.screenshot({ path: first });
    await s.answerCurrentPage("fill");
    await s.continue("click");
    const section = join(out, `resident-${lang}-section.png`);
    await page.screenshot({ path: section, fullPage: true });
    while (!(await s.isReviewPage())) {
      await s.answerCurrentPage("fill");
      await s.continue("click");
    }
    const review = join(out, `resident-${lang}-review.png`);
    await page.screenshot({ path: review, fullPage: true });
    for (const f of [first, section, review]) console.log(`${f.slice(root.length + 1)}  ${(statSync(f).size / 1024).toFixed(0)} KB`);
    await context.close();
  }
} finally {
  await browser.close();
  if (server) server.kill();
  if (work) rmSync(work, { recursive: true, force: true });
}

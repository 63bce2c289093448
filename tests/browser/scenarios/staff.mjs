// axe-core on the staff pages in zh, en and ko: sign-in (and its refusal),
// home, survey list and page, the translations page of a draft that lacks a
// Korean text, the structure editor, the preview, fieldwork and audit.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LANGS, axe, check, cli, env, formatViolations, launch, metric, newPage, shownError, submitLogin } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

/** A draft of livability without the Korean text of safety_night, stored
 *  with the CLI, so the translations page has a missing text to mark. */
function storeDraftMissingKorean() {
  const v1 = cli(["survey", "export", "livability"]);
  const draft = v1.replace(/(id = "safety_night"[\s\S]*?\[sections\.questions\.text\][\s\S]*?)\nko = "[^"]*"/, "$1");
  check(draft !== v1, "removed a Korean text from the draft");
  const dir = mkdtempSync(join(tmpdir(), "civicpulse-draft-"));
  try {
    const file = join(dir, "livability.toml");
    writeFileSync(file, draft);
    cli(["survey", "import", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function signIn(page, name, lang, found) {
  await page.goto(`${env.base}/login?lang=${lang}`);
  found.push(await audit(page, `sign-in ${lang}`));
  await page.fill('input[name="username"]', name);
  await page.fill('input[name="password"]', "not the password");
  const refused = await submitLogin(page);
  check(refused.status() === 401, `a wrong password answered ${refused.status()}: ${await shownError(page)}`);
  found.push(await audit(page, `sign-in refused ${lang}`));
  await page.fill('input[name="username"]', name);
  await page.fill('input[name="password"]', process.env.STAFF_PASSWORD);
  const accepted = await submitLogin(page);
  check(accepted.status() === 303, `signing in as ${name} answered ${accepted.status()}: ${await shownError(page)}`);
  await page.waitForURL((url) => url.pathname.startsWith("/admin"));
}

async function audit(page, label) {
  const vs = await axe(page);
  metric("axe", { page: label, violations: vs.map((v) => `${v.id}:${v.count}`) });
  return vs.length ? `${label}:\n  ${formatViolations(vs)}` : "";
}

/** WCAG 1.4.1: a missing translation must be marked by more than colour.
 *  axe cannot see this, so: every cell marked missing must show, on screen,
 *  some text or icon that a complete cell of the same language does not. */
async function missingNotByColourAlone(page, label) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    const result = await page.evaluate(() => {
      const visibleText = (cell) => {
        let out = "";
        const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
        for (let n = walk.currentNode; n; n = walk.nextNode()) {
          if (n.nodeType === 1 && (n.tagName === "SVG" || n.tagName === "IMG")) {
            const r = n.getBoundingClientRect();
            if (r.width > 2 && r.height > 2) out += "[icon]";
          }
          if (n.nodeType !== 3 || !n.textContent.trim()) continue;
          const el = n.parentElement;
          if (el.closest("textarea")) continue;
          // Visible only if it and every box up to the cell is on screen:
          // not clipped, not shrunk to a pixel (the visually-hidden pattern).
          let shown = true;
          for (let a = el; a && a !== cell.parentElement; a = a.parentElement) {
            const style = getComputedStyle(a);
            const r = a.getBoundingClientRect();
            const clipped = (style.clip !== "auto" && style.clip !== "") || style.clipPath !== "none";
            if (r.width <= 2 || r.height <= 2 || clipped || style.visibility === "hidden" || style.opacity === "0") shown = false;
          }
          if (shown) out += n.textContent.trim();
        }
        return out;
      };
      const missing = [...document.querySelectorAll(".tr-cell--missing, [data-missing]")];
      const rows = [];
      for (const cell of missing) {
        const lang = cell.querySelector("[lang]")?.getAttribute("lang") || cell.getAttribute("lang");
        const complete = [...document.querySelectorAll(".tr-cell:not(.tr-cell--missing)")].find((c) => c.querySelector("textarea") && (c.querySelector("[lang]")?.getAttribute("lang") || c.getAttribute("lang")) === lang);
        rows.push({ lang, missing: visibleText(cell), complete: complete ? visibleText(complete) : null });
      }
      return rows;
    });
    await page.setViewportSize({ width: 1280, height: 800 });
    if (!result.length) return `${label}: no cell is marked missing although the draft lacks a Korean text`;
    const bad = result.filter((r) => r.missing === r.complete);
    if (bad.length) return `${label} at ${width} px: a missing translation is marked by colour alone (visible text "${bad[0].missing}" is the same as a complete cell's)`;
  }
  return "";
}

const PAGES = [
  "/admin",
  "/admin/surveys",
  "/admin/surveys/livability",
  "/admin/surveys/livability/translations",
  "/admin/surveys/livability/structure",
  "/admin/surveys/livability/preview",
  "/admin/surveys/livability/fieldwork",
  "/admin/audit",
];

async function staffPages(user, lang) {
  const { context, page } = await newPage(browser, "desktop");
  const found = [];
  try {
    await signIn(page, user, lang, found);
    for (const path of PAGES) {
      const r = await page.goto(`${env.base}${path}?lang=${lang}`);
      if (r.status() === 403 || r.status() === 404) continue; // not this role's page
      check(r.status() === 200, `${path}: ${r.status()}`);
      found.push(await audit(page, `${path} ${lang} (${user})`));
      if (path.endsWith("/translations")) found.push(await missingNotByColourAlone(page, `${path} ${lang} (${user})`));
    }
  } finally {
    await context.close();
  }
  const problems = found.filter(Boolean);
  check(problems.length === 0, `axe violations:\n${problems.join("\n")}`);
}

export async function scenarios() {
  storeDraftMissingKorean();
  browser = await launch();
  const list = [];
  for (const lang of LANGS) list.push([`axe: staff pages as a designer, ${lang}`, () => staffPages("dana", lang)]);
  list.push([`axe: staff pages as an admin, en`, () => staffPages("ada", "en")]);
  return list;
}

// The officials' pages in Chromium: the dashboard passes axe in zh, en and
// ko, holds a 390 px phone without sideways scrolling, and the yearly
// report prints to an A4 PDF with pages and the figures on screen
// (checked with pdftotext). tests/browser.rs imports two interview waves
// and creates the admin `ada` first.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LANGS, axe, check, env, formatViolations, launch, metric, newPage, signIn } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

async function dashboardPasses(lang, device) {
  const { context, page } = await newPage(browser, device);
  try {
    await signIn(page, "ada", lang);
    const r = await page.goto(`${env.base}/dashboard/livability?lang=${lang}`);
    check(r.status() === 200, `dashboard ${lang}: ${r.status()}`);
    const vs = await axe(page);
    metric("axe", { page: `dashboard ${lang} ${device}`, violations: vs.map((v) => `${v.id}:${v.count}`) });
    check(vs.length === 0, `axe on the dashboard (${lang}, ${device}):\n${formatViolations(vs)}`);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: innerWidth }));
    metric("width", { page: `dashboard ${lang} ${device}`, ...widths });
    check(widths.scroll <= widths.view, `dashboard ${lang} ${device} scrolls sideways: ${widths.scroll} > ${widths.view}`);
    // Every chart is on screen at its width, not clipped.
    const charts = await page.evaluate(() =>
      [...document.querySelectorAll(".dash-chart svg")].map((s) => s.getBoundingClientRect().width),
    );
    check(charts.length >= 5 && charts.every((w) => w > 200 && w <= widths.view), `chart widths ${charts}`);
    // The data tables open with a keyboard.
    await page.locator(".dash-table summary").first().focus();
    await page.keyboard.press("Enter");
    check(await page.locator(".dash-table").first().evaluate((d) => d.open), "a table opens with Enter");
  } finally {
    await context.close();
  }
}

async function reportPrints(lang) {
  const { context, page } = await newPage(browser, "desktop");
  const dir = mkdtempSync(join(tmpdir(), "civicpulse-report-"));
  try {
    await signIn(page, "ada", lang);
    const r = await page.goto(`${env.base}/dashboard/livability/report?wave=2026&lang=${lang}`);
    check(r.status() === 200, `report ${lang}: ${r.status()}`);
    check(page.problems.length === 0, `report ${lang}: ${page.problems.join("; ")}`);
    const vs = await axe(page);
    check(vs.length === 0, `axe on the report (${lang}):\n${formatViolations(vs)}`);
    const headline = (await page.locator('[data-figure="overall"]').innerText()).trim();
    const methods = (await page.locator("#methods-heading").innerText()).trim();
    const pdf = await page.pdf({ format: "A4", printBackground: true });
    const file = join(dir, `report-${lang}.pdf`);
    writeFileSync(file, pdf);
    const pages = (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) || []).length;
    metric("pdf", { lang, bytes: pdf.length, pages });
    check(pages >= 2, `report ${lang}: ${pages} PDF page(s)`);
    const text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
    check(text.includes(headline), `report ${lang}: the PDF lacks the headline ${headline}`);
    check(text.replace(/\s+/g, "").includes(methods.replace(/\s+/g, "")), `report ${lang}: the PDF lacks "${methods}"`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await context.close();
  }
}

export async function scenarios() {
  try {
    execFileSync("pdftotext", ["-v"], { stdio: "ignore" });
  } catch {
    throw new Error("pdftotext not found: install poppler-utils (.ci/run does)");
  }
  browser = await launch();
  const list = [];
  for (const lang of LANGS) {
    list.push([`dashboard passes axe on a desktop, ${lang}`, () => dashboardPasses(lang, "desktop")]);
    list.push([`dashboard fits a phone, ${lang}`, () => dashboardPasses(lang, "phone")]);
    list.push([`report prints to an A4 PDF, ${lang}`, () => reportPrints(lang)]);
  }
  return list;
}

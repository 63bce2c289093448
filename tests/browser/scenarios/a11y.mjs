// axe-core on every resident page in every language: the start page of an
// invitation wave (empty, with a letter's code, with a wrong code), each
// page of the form empty, refused and answered, the thank-you page and the
// not-found page; at phone size, and the form at desktop size too.

import { LANGS, SEL, Survey, axe, env, formatViolations, launch, metric, newPage, check } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

/** Runs axe on the page now; returns "" or a description of the violations. */
async function audit(page, label) {
  const vs = await axe(page);
  metric("axe", { page: label, violations: vs.map((v) => `${v.id}:${v.count}`) });
  return vs.length ? `${label}:\n  ${formatViolations(vs)}` : "";
}

async function residentPages(lang, device) {
  const { context, page } = await newPage(browser, device);
  const found = [];
  try {
    const s = new Survey(page);
    if (device === "phone") {
      await s.openSurvey(lang, "", { stayOnStart: true });
      check((await page.locator(SEL.startForm).count()) === 1, "the invitation wave's start page");
      found.push(await audit(page, `start page ${lang}`));
      await s.openSurvey(lang, `&code=${process.env.INVITE_CODE}`, { stayOnStart: true });
      found.push(await audit(page, `start page with a letter's code ${lang}`));
      await page.fill(SEL.codeInput, "XXXX-XXXX-XXXX");
      await s.press(`${SEL.startForm} button[type="submit"]`, "click");
      check((await s.errorSummary()) !== null, "a wrong code shows an error");
      found.push(await audit(page, `start page, wrong code ${lang}`));
      await page.fill(SEL.codeInput, process.env.INVITE_CODE);
      await s.press(`${SEL.startForm} button[type="submit"]`, "click");
      await page.waitForSelector(SEL.form);
      found.push(await audit(page, `form with an invitation code ${lang}`));
    }
    await s.openSurvey(lang);
    for (let n = 1; n < 40; n++) {
      found.push(await audit(page, `form page ${n} ${lang} ${device}`));
      const more = await s.hasContinue();
      if (more) await s.continue();
      else await s.submit();
      if (await s.errorSummary()) found.push(await audit(page, `form page ${n} refused empty ${lang} ${device}`));
      await s.answerCurrentPage("tap", { residentType: "foreign" });
      found.push(await audit(page, `form page ${n} answered ${lang} ${device}`));
      if (!more) break;
      await s.continue();
    }
    await s.completeSurvey("tap", { residentType: "foreign" });
    found.push(await audit(page, `thank-you page ${lang} ${device}`));
    if (device === "phone") {
      const r = await page.goto(`${env.base}/s/no-such-survey?lang=${lang}`);
      check(r.status() === 404, `not found: ${r.status()}`);
      found.push(await audit(page, `not-found page ${lang}`));
    }
  } finally {
    await context.close();
  }
  const problems = found.filter(Boolean);
  check(problems.length === 0, `axe violations:\n${problems.join("\n")}`);
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) list.push([`axe: resident pages, phone, ${lang}`, () => residentPages(lang, "phone")]);
  for (const lang of LANGS) list.push([`axe: form pages, desktop, ${lang}`, () => residentPages(lang, "desktop")]);
  return list;
}

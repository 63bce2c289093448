// axe-core (no rule disabled) on every resident page in every language, at
// phone and desktop size: the start page of an invitation wave (empty, with
// a letter's code, with a wrong code) and page 1 with the code; each
// section page empty and refused empty (page 1 answered too); the review page, and the
// review page refusing a submit that misses an answer; the resume page
// (empty and with a wrong code), "continue where you left off", the clear
// confirmation, the thank-you page, the not-found and privacy pages; and,
// alone at the end, the not-yet-open and closed pages.

import { LANGS, SEL, Survey, axe, check, cli, env, eq, formatViolations, launch, metric, newPage } from "../lib.mjs";

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

const pageNumber = (page) => page.evaluate((sel) => Number(document.querySelector(sel)?.getAttribute("data-page") || 0), SEL.form);

async function invitationPages(lang, found) {
  const { context, page } = await newPage(browser, "phone");
  try {
    const s = new Survey(page);
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
    found.push(await audit(page, `page 1 with an invitation code ${lang}`));
  } finally {
    await context.close();
  }
}

async function residentPages(lang, device) {
  const found = [];
  if (device === "phone") await invitationPages(lang, found);
  const { context, page } = await newPage(browser, device);
  const tag = `${lang} ${device}`;
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    let sections = 0;
    await s.completeSurvey("fill", {
      residentType: "local",
      beforeAnswer: async (survey, n) => {
        sections = n;
        found.push(await audit(page, `section page ${n} ${tag}`));
        if (await page.locator(`${SEL.question}:not([hidden]) .marker--required`).count()) {
          await survey.continue("click");
          check(await survey.errorSummary(), `page ${n} refused empty shows no errors`);
          found.push(await audit(page, `section page ${n} refused empty ${tag}`));
        }
      },
      onPage: async (survey, n) => {
        // Answered (checked options, the counter) once; the rest is the same markup.
        if (n === 1) found.push(await audit(page, `section page ${n} answered ${tag}`));
      },
      onReview: async (survey) => {
        found.push(await audit(page, `review page ${tag}`));
        // Change page 1 to a foreign resident: the question it brings in
        // on page 5 is missing, and Submit is refused on the review page.
        await Promise.all([page.waitForNavigation(), page.locator(SEL.reviewChange).first().click()]);
        found.push(await audit(page, `section page 1 changed from the review page ${tag}`));
        await page.locator('[name="resident_type"][value="foreign"]').check();
        await survey.continue("click");
        check(await survey.isReviewPage(), "back on the review page");
        await survey.submit("click");
        const errors = await survey.errorSummary();
        check(errors && errors.links.some((h) => h.includes("page=5")), `the review page's refusal links to page 5: ${JSON.stringify(errors)}`);
        found.push(await audit(page, `review page refusing a submit ${tag}`));
        await Promise.all([page.waitForNavigation(), page.locator(SEL.errorLinks).first().click()]);
        eq(await pageNumber(page), 5, "the review page's error link leads to page 5");
        await survey.answerCurrentPage("fill", { residentType: "foreign" });
        await survey.continue("click");
        check(await survey.isReviewPage(), "back on the review page after answering page 5");
        // The pages around the saved answers, before submitting.
        for (const [label, path] of [
          ["continue where you left off", `/s/livability?lang=${lang}`],
          ["clear confirmation", `/s/livability/clear?lang=${lang}`],
          ["resume page", `/s/livability/resume?lang=${lang}`],
        ]) {
          await page.goto(`${env.base}${path}`);
          found.push(await audit(page, `${label} ${tag}`));
        }
        await page.fill(SEL.resumeInput, "ZZZZ-ZZZZ-ZZZZ");
        await survey.press('form.invitation button[type="submit"]', "click");
        check(await survey.errorSummary(), "a wrong resume code shows an error");
        found.push(await audit(page, `resume page, wrong code ${tag}`));
        await page.goto(`${env.base}/s/livability/review?lang=${lang}`);
      },
    });
    eq(sections, 10, "section pages audited");
    found.push(await audit(page, `thank-you page ${tag}`));
    const r = await page.goto(`${env.base}/s/no-such-survey?lang=${lang}`);
    eq(r.status(), 404, "not found");
    found.push(await audit(page, `not-found page ${tag}`));
    await page.goto(`${env.base}/privacy?lang=${lang}`);
    found.push(await audit(page, `privacy page ${tag}`));
  } finally {
    await context.close();
  }
  const problems = found.filter(Boolean);
  check(problems.length === 0, `axe violations:\n${problems.join("\n")}`);
}

/** The survey not yet open, then closed (the wave's dates moved with the
 *  CLI, then put back): each page names the dates, in every language. */
async function outsideTheDates() {
  const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
  const wave = String(new Date().getUTCFullYear());
  const found = [];
  const { context, page } = await newPage(browser, "phone");
  try {
    for (const [label, opens, closes] of [["not-yet-open", day(2), day(30)], ["closed", day(-30), day(-2)]]) {
      cli(["wave", "set", "livability", "--wave", wave, "--opens", opens, "--closes", closes]);
      for (const lang of LANGS) {
        await page.goto(`${env.base}/s/livability?lang=${lang}`);
        check((await page.locator(SEL.form).count()) === 0, `${label}: the form is offered`);
        found.push(await audit(page, `${label} page ${lang}`));
      }
    }
  } finally {
    cli(["wave", "set", "livability", "--wave", wave, "--opens", day(-1), "--closes", day(30)]);
    await context.close();
  }
  const problems = found.filter(Boolean);
  check(problems.length === 0, `axe violations:\n${problems.join("\n")}`);
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) list.push([`axe: resident pages, phone, ${lang}`, () => residentPages(lang, "phone")]);
  for (const lang of LANGS) list.push([`axe: resident pages, desktop, ${lang}`, () => residentPages(lang, "desktop")]);
  list.push([`axe: not-yet-open and closed pages`, outsideTheDates, { serial: true }]);
  return list;
}

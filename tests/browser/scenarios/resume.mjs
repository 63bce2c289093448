// Nothing is lost: the browser's Back button (from its back/forward cache
// or not) and the form's Back, reload (with unsaved answers of the page
// kept in localStorage by form.js), closing the tab and coming back after
// the server restarted ("continue where you left off"), and a resume code
// typed in a fresh browser keep every answer, the answered-counter and the
// skip logic.

import { LANGS, SEL, Survey, check, eq, env, launch, newPage, restartServer, storedResponse, checkStored, TEXT_ANSWERS } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

const FOREIGN = { residentType: "foreign" };

const pageNumber = (page) => page.evaluate((sel) => Number(document.querySelector(sel)?.getAttribute("data-page") || 0), SEL.form);

/** What the page shows now: the counter as shown and as it should read
 *  from the fields, and the state of the foreign residents' question. */
async function pageState(page) {
  return page.evaluate((sel) => {
    const form = document.querySelector(sel.form);
    const qs = [...document.querySelectorAll(sel.question)];
    const shown = qs.filter((q) => !q.hidden && q.offsetParent !== null);
    const answered = shown.filter((q) => [...q.querySelectorAll("input, textarea")].some((i) => !i.disabled && (i.type === "radio" || i.type === "checkbox" ? i.checked : i.value.trim() !== "")));
    const fs = document.querySelector('[data-question="foreign_services"]');
    const counter = document.querySelector(sel.progressText);
    return {
      counter: counter ? counter.textContent : null,
      answeredHere: answered.length,
      otherDone: Number(form.getAttribute("data-other-done") || 0),
      foreign: fs ? { shown: !fs.hidden && fs.offsetParent !== null, enabled: [...fs.querySelectorAll("input")].every((i) => !i.disabled) } : null,
    };
  }, { form: SEL.form, question: SEL.question, progressText: SEL.progressText });
}

/** The page shows `expected` answers for each of its questions, the counter
 *  agrees with them, and a foreign resident's question shows where it is. */
async function checkRestored(s, expected, what) {
  const page = s.page;
  const state = await pageState(page);
  const c = await s.counter();
  check(c, `${what}: no counter`);
  eq(c.answered, state.otherDone + state.answeredHere, `${what}: the answered-counter (${c.text})`);
  if (state.foreign) eq(state.foreign, { shown: true, enabled: true }, `${what}: the foreign residents' question`);
  const now = await s.readAnswers();
  const here = (await s.questions()).map((q) => q.id);
  check(here.length > 0, `${what}: no question on the page`);
  for (const id of here) eq(now[id], expected[id], `${what}: answer to ${id}`);
}

async function finish(s, lang, tag) {
  const text = `${TEXT_ANSWERS[lang]} ${tag}-${Date.now() % 100000}`;
  await s.completeSurvey("fill", { ...FOREIGN, text });
  const stored = storedResponse(text);
  checkStored(stored, s.answers);
  check("foreign_services" in stored.answers, "foreign_services stored for a foreign resident");
}

async function walkTo(s, n) {
  while ((await pageNumber(s.page)) < n) {
    await s.answerCurrentPage("fill", FOREIGN);
    await s.continue();
  }
}

/** The browser's Back button from page 6 to page 5 (where the foreign
 *  residents' question is, depending on page 1) and from 3 to 2; the form's
 *  Back keeps the unsaved answers of the page it leaves. */
async function back(lang) {
  const { context, page } = await newPage(browser, "phone");
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    await walkTo(s, 2);
    // Page 1 was opened as the survey's address; Back still lands on it,
    // not on "continue where you left off".
    await page.goBack({ waitUntil: "load" });
    eq(await pageNumber(page), 1, "page after the browser's Back from page 2");
    eq(await page.locator(SEL.resume).count(), 0, "no continue-where-you-left-off page after Back to page 1");
    await checkRestored(s, s.answers, "page 1 after the browser's Back");
    await page.goForward({ waitUntil: "load" });
    await walkTo(s, 3);
    await page.goBack({ waitUntil: "load" });
    eq(await pageNumber(page), 2, "page after the browser's Back from page 3");
    await checkRestored(s, s.answers, "page 2 after the browser's Back");
    await page.goForward({ waitUntil: "load" });
    await walkTo(s, 6);
    await page.goBack({ waitUntil: "load" });
    eq(await pageNumber(page), 5, "page after the browser's Back from page 6");
    await checkRestored(s, s.answers, "page 5 after the browser's Back");
    await page.goForward({ waitUntil: "load" });
    // Half of page 6, not yet sent, then the form's Back and Continue.
    const qs = await s.questions();
    await s.answerCurrentPage("tap", { skip: qs.slice(2).map((q) => q.id) });
    await s.back();
    eq(await pageNumber(page), 5, "page after the form's Back");
    await checkRestored(s, s.answers, "page 5 after the form's Back");
    await s.continue();
    eq(await pageNumber(page), 6, "page after Continue");
    const kept = await s.readAnswers();
    eq(Object.keys(kept).sort(), qs.slice(0, 2).map((q) => q.id).sort(), "the half page's answers after the form's Back and Continue");
    await checkRestored(s, s.answers, "page 6 after the form's Back and Continue");
    await finish(s, lang, "back");
  } finally {
    await context.close();
  }
}

/** Reload on page 2 with unsaved answers: form.js keeps them in
 *  localStorage and puts them back; page 1's saved answers count. */
async function reload(lang) {
  const { context, page } = await newPage(browser, "phone");
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    // On page 1 before anything is saved, too.
    await s.answerCurrentPage("tap", FOREIGN);
    await page.reload({ waitUntil: "load" });
    await checkRestored(s, s.answers, "page 1 after reload (nothing saved yet)");
    await s.continue();
    const qs = await s.questions();
    await s.answerCurrentPage("tap", { skip: qs.slice(2).map((q) => q.id) });
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("cp:livability:")));
    check(stored.length > 0, "form.js kept nothing in localStorage");
    await page.reload({ waitUntil: "load" });
    eq(await pageNumber(page), 2, "page after reload");
    await checkRestored(s, s.answers, "page 2 after reload");
    await finish(s, lang, "reload");
  } finally {
    await context.close();
  }
}

/** Close the tab on page 4, the server restarts, the resident comes back
 *  to the survey's address: "continue where you left off" leads to page 4,
 *  and every earlier page still holds its answers. */
async function restart(lang) {
  let { context, page } = await newPage(browser, "phone");
  const s = new Survey(page);
  await s.openSurvey(lang);
  await walkTo(s, 4);
  const kept = await context.storageState();
  await context.close();
  await restartServer();
  ({ context, page } = await newPage(browser, "phone", { storageState: kept }));
  try {
    const again = new Survey(page);
    again.answers = s.answers;
    await page.goto(again.url(lang));
    check(await page.locator(SEL.resume).count(), `no "continue where you left off" after a restart: ${page.url()}`);
    check(await page.locator(SEL.startAgain).count(), "the continue page offers no start-again");
    eq(await again.lang(), lang, "language of the continue page");
    await again.press(SEL.resume, "tap");
    eq(await pageNumber(page), 4, "page the resident continues on");
    for (const n of [3, 2, 1]) {
      await again.back();
      eq(await pageNumber(page), n, "page after Back");
      await checkRestored(again, s.answers, `page ${n} after a server restart`);
    }
    await finish(again, lang, "restart");
  } finally {
    await context.close();
  }
}

/** The resume code shown on a section page, typed on the resume page of a
 *  browser that never saw the survey, brings back the answers. */
async function resumeCode(lang) {
  const first = await newPage(browser, "phone");
  const s = new Survey(first.page);
  let code;
  try {
    await s.openSurvey(lang);
    await walkTo(s, 3);
    code = (await first.page.locator(SEL.resumeCode).textContent()).trim();
    check(code.length >= 8, `resume code shown: "${code}"`);
  } finally {
    await first.context.close();
  }
  const { context, page } = await newPage(browser, "desktop");
  try {
    const again = new Survey(page);
    again.answers = s.answers;
    await page.goto(`${env.base}/s/livability/resume?lang=${lang}`);
    await page.fill(SEL.resumeInput, "ZZZZ-ZZZZ-ZZZZ");
    await again.press('form.invitation button[type="submit"]', "click");
    check(await again.errorSummary(), "a wrong resume code shows no error");
    await page.fill(SEL.resumeInput, code.toLowerCase());
    await again.press('form.invitation button[type="submit"]', "click");
    if ((await page.locator(SEL.resume).count()) > 0) await again.press(SEL.resume, "click");
    eq(await pageNumber(page), 3, `page after typing the resume code (${page.url()})`);
    await again.back();
    await checkRestored(again, s.answers, "page 2 after typing the resume code");
    await finish(again, lang, "code");
  } finally {
    await context.close();
  }
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) list.push([`Back keeps answers, counter and skip logic, ${lang}`, () => back(lang)]);
  for (const lang of LANGS) list.push([`reload keeps every answer (localStorage for the unsaved ones), ${lang}`, () => reload(lang)]);
  for (const lang of LANGS) list.push([`a resume code typed in a fresh browser, ${lang}`, () => resumeCode(lang)]);
  for (const lang of LANGS) list.push([`closing the tab and coming back after a server restart, ${lang}`, () => restart(lang), { serial: true }]);
  return list;
}

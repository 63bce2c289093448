// Nothing is lost: Back (from the browser's back/forward cache or not),
// reload, and closing the tab then coming back after the server restarted
// keep every answer, the answered-counter and the skip logic.

import { LANGS, SEL, Survey, check, eq, env, launch, newPage, restartServer, storedResponse, checkStored, TEXT_ANSWERS } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

const RESUMABLE = { residentType: "foreign" };

/** What the page shows now: answers, counter text and the state of the
 *  foreign residents' question. */
async function pageState(page) {
  return page.evaluate((sel) => {
    const form = document.querySelector(sel.form);
    const qs = [...document.querySelectorAll(sel.question)];
    const shown = qs.filter((q) => !q.hidden && q.offsetParent !== null);
    const answered = shown.filter((q) => [...q.querySelectorAll("input, textarea")].some((i) => !i.disabled && (i.type === "radio" || i.type === "checkbox" ? i.checked : i.value.trim() !== "")));
    const fs = document.querySelector('[data-question="foreign_services"]');
    const counter = document.querySelector(sel.progressText);
    const template = form && form.getAttribute("data-progress-template");
    return {
      counter: counter ? counter.textContent : null,
      expectedCounter: template ? template.replace("{answered}", answered.length).replace("{total}", shown.length) : null,
      answeredCount: answered.length,
      foreign: fs ? { shown: !fs.hidden && fs.offsetParent !== null, enabled: [...fs.querySelectorAll("input")].every((i) => !i.disabled) } : null,
    };
  }, { form: SEL.form, question: SEL.question, progressText: SEL.progressText });
}

async function checkRestored(s, expectedAnswers, what) {
  const page = s.page;
  if ((await page.locator(SEL.resume).count()) > 0) await s.press(SEL.resume, "click");
  const state = await pageState(page);
  if (state.expectedCounter !== null && state.counter !== null) eq(state.counter, state.expectedCounter, `${what}: the answered-counter`);
  if (expectedAnswers.resident_type?.[0] === "foreign" && state.foreign) eq(state.foreign, { shown: true, enabled: true }, `${what}: the foreign residents' question`);
  const now = await s.readAnswers();
  for (const [id, v] of Object.entries(expectedAnswers)) {
    if ((await page.locator(`[data-question="${id}"]`).count()) === 0) continue; // on another page
    eq(now[id], v, `${what}: answer to ${id}`);
  }
}

async function finish(s, lang, tag) {
  const text = `${TEXT_ANSWERS[lang]} ${tag}-${Date.now() % 100000}`;
  await s.completeSurvey("tap", { ...RESUMABLE, text });
  const stored = storedResponse(text);
  checkStored(stored, s.answers);
}

async function back(lang) {
  const { context, page } = await newPage(browser, "phone");
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    await s.answerCurrentPage("tap", { ...RESUMABLE, skip: ["suggestions"] });
    const before = await pageState(page);
    if (await s.hasContinue()) await s.continue();
    else await page.goto(`${env.base}/`);
    await page.goBack({ waitUntil: "load" });
    await page.waitForSelector(SEL.form);
    await checkRestored(s, s.answers, "after Back");
    eq((await pageState(page)).answeredCount, before.answeredCount, "answered questions after Back");
    await finish(s, lang, "back");
  } finally {
    await context.close();
  }
}

async function reload(lang) {
  const { context, page } = await newPage(browser, "phone");
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    await s.answerCurrentPage("tap", { ...RESUMABLE, skip: ["suggestions"] });
    await page.reload({ waitUntil: "load" });
    await checkRestored(s, s.answers, "after reload");
    await finish(s, lang, "reload");
  } finally {
    await context.close();
  }
}

async function restart(lang) {
  let { context, page } = await newPage(browser, "phone");
  const s = new Survey(page);
  await s.openSurvey(lang);
  await s.answerCurrentPage("tap", { ...RESUMABLE, skip: ["suggestions"] });
  if (await s.hasContinue()) await s.continue();
  // The resident closes the tab; the browser keeps its cookies and storage.
  const kept = await context.storageState();
  await context.close();
  await restartServer();
  ({ context, page } = await newPage(browser, "phone", { storageState: kept }));
  try {
    const again = new Survey(page);
    again.answers = s.answers;
    await again.openSurvey(lang);
    await checkRestored(again, s.answers, "after closing the tab and a server restart");
    const now = await again.readAnswers();
    check(Object.keys(now).length > 0, "no answer came back after closing the tab and a server restart");
    await finish(again, lang, "restart");
  } finally {
    await context.close();
  }
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) list.push([`Back keeps answers, counter and skip logic, ${lang}`, () => back(lang)]);
  for (const lang of LANGS) list.push([`reload keeps every answer, ${lang}`, () => reload(lang)]);
  for (const lang of LANGS) list.push([`closing the tab and coming back after a server restart, ${lang}`, () => restart(lang)]);
  return list;
}

// A resident completes the survey: by tapping and by keyboard, at phone and
// desktop size, in zh, en and ko; errors shown and fixed; a language switch
// mid-survey; skip logic; Chinese and Korean typed through input and IME
// composition events; JavaScript off. Every completed survey is read back
// with `civicpulse export` and compared answer by answer.
//
// Every flow walks pages until there is no Continue button, so it holds for
// today's single page and for one section per page.

import {
  LANGS, SEL, TEXT_ANSWERS, Survey, byId, check, checkStored, eq, exportedResponses, launch, metric, newPage, storedResponse,
} from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

const OTHER = { zh: "en", en: "ko", ko: "zh" };
let serial = 0;
const marker = (tag) => `${tag}-${++serial}-${Date.now() % 100000}`;

/** A unique text answer in `lang`, so the stored response can be found. */
const textFor = (lang, tag) => `${TEXT_ANSWERS[lang]} ${marker(tag)}`;

async function withPage(device, options, fn) {
  const { context, page } = await newPage(browser, device, options);
  try {
    await fn(page);
    check(page.problems.length === 0, `script errors: ${page.problems.join("; ")}`);
  } finally {
    await context.close();
  }
}

function verifyStored(survey, text, lang) {
  const stored = storedResponse(text);
  eq(stored.lang, lang, "stored language");
  checkStored(stored, survey.answers);
  if (survey.answers.resident_type && survey.answers.resident_type[0] !== "foreign") {
    check(!("foreign_services" in stored.answers), "foreign_services stored for a resident who is not foreign");
  }
  return stored;
}

async function completeAndVerify(page, lang, how, profile = {}) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const text = textFor(lang, how);
  const pages = await s.completeSurvey(how, { text, ...profile });
  eq(await s.lang(), lang, "language of the thank-you page");
  verifyStored(s, text, lang);
  return pages;
}

/** Enter pressed in a field sends at most the page it is on: never the
 *  thank-you page, no stored response, errors (if any) only for this page. */
async function enterInAField(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const before = exportedResponses().length;
  const qs = await s.questions();
  const onPage = new Set(qs.map((q) => q.dom));
  await page.keyboard.press("Tab");
  await s.answerByKeyboard(qs[0], {});
  const nav = page.waitForNavigation({ timeout: 3000 }).catch(() => null);
  await page.keyboard.press("Enter");
  await nav;
  await page.waitForLoadState("load");
  check(!(await s.onThanksPage()), "Enter in the first question submitted the whole survey");
  eq(exportedResponses().length, before, "responses stored after a stray Enter");
  const errors = await s.errorSummary();
  if (errors) {
    const foreign = errors.links.filter((h) => !onPage.has(h.replace(/^#/, "")) && !onPage.has(h.replace(/^#/, "").replace(/-input$/, "")));
    eq(foreign, [], "error summary entries for questions not on the page where Enter was pressed");
  }
  const kept = (await s.readAnswers())[qs[0].id];
  if (kept) eq(kept, s.answers[qs[0].id], "the first answer after Enter");
}

async function errorsShownAndFixed(page, lang, device) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const questionsOnPage = await s.questions();
  if (await s.hasContinue()) await s.continue("tap");
  else await s.submit("tap");
  const summary = await s.errorSummary();
  check(summary, "no error summary after an empty submit");
  const viewport = page.viewportSize().height;
  metric("error-summary", { lang, device, height_px: summary.height, entries: summary.entries, screens: +(summary.height / viewport).toFixed(2) });
  const focused = await page.evaluate((sel) => document.activeElement === document.querySelector(sel), SEL.errorSummary);
  check(focused, "the error summary has the focus after the refused submit");
  check((await page.title()).length > 0, "page title");
  // Every entry links to a question of this page, which shows its own error.
  const requiredHere = questionsOnPage.length;
  check(summary.entries > 0 && summary.entries <= requiredHere, `summary entries ${summary.entries} for ${requiredHere} questions on the page`);
  for (const href of summary.links) {
    const target = page.locator(byId(href.slice(1)));
    check((await target.count()) === 1, `error link ${href} has no target`);
    const q = target.locator("xpath=ancestor-or-self::*[@data-question][1]");
    check((await q.locator(SEL.questionError).count()) === 1, `question of ${href} shows no error of its own`);
    check((await q.locator('[aria-invalid="true"]').count()) > 0, `fields of ${href} not marked aria-invalid`);
  }
  // The first link moves the focus to its question's field.
  const first = page.locator(SEL.errorLinks).first();
  const href = await first.getAttribute("href");
  if (device === "phone") await first.tap();
  else await first.click();
  const inside = await page.evaluate((id) => {
    const t = document.getElementById(id);
    const q = t && (t.closest("[data-question]") || t);
    return !!q && q.contains(document.activeElement) && document.activeElement !== document.body;
  }, href.slice(1));
  check(inside, `following ${href} did not move the focus into the question`);
  // Fixed: answer everything and submit.
  const text = textFor(lang, "fixed");
  await s.completeSurvey("tap", { text });
  verifyStored(s, text, lang);
}

async function languageSwitchKeepsAnswers(page, from, to) {
  const s = new Survey(page);
  await s.openSurvey(from);
  // With several pages, switch on the second: answers of page 1 must survive too.
  if (await s.hasContinue()) {
    await s.answerCurrentPage("tap");
    await s.continue();
  }
  const qs = await s.questions();
  const skip = qs.slice(Math.ceil(qs.length / 2)).map((q) => q.id);
  await s.answerCurrentPage("tap", { skip, text: textFor(from, "switch") });
  const before = await s.readAnswers();
  check(Object.keys(before).length > 0, "nothing answered before the switch");
  await s.switchLanguage(to);
  eq(await s.lang(), to, "language after the switch");
  check(!(await s.errorSummary()), "switching language showed errors");
  eq(await s.readAnswers(), before, `answers after switching ${from} → ${to}`);
  const text = textFor(to, "switched");
  await s.completeSurvey("tap", { text });
  verifyStored(s, text, to);
}

/** Skip logic with script: the foreign residents' question appears and
 *  disappears with the answer, the counter's total follows it, and the
 *  answer is stored only when it applies. */
async function skipLogic(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const text = textFor(lang, "skip");
  let sawForeignQuestion = false;
  const visible = (id) => page.evaluate((id) => {
    const q = document.querySelector(`[data-question="${id}"]`);
    if (!q) return null;
    const inputs = [...q.querySelectorAll("input")];
    return { shown: !q.hidden && q.offsetParent !== null, enabled: inputs.every((i) => !i.disabled) };
  }, id);
  const total = async () => {
    const t = await page.locator(SEL.progressText).textContent();
    return t;
  };
  const choose = async (value) => {
    const input = page.locator(`[name="resident_type"][value="${value}"]`);
    await page.locator(`label[for="${await input.getAttribute("id")}"]`).tap();
  };
  await s.completeSurvey("tap", {
    text,
    residentType: "foreign",
    onPage: async (survey) => {
      const here = await survey.questions();
      if (here.some((q) => q.id === "resident_type")) {
        const dependent = await visible("foreign_services");
        if (dependent) {
          // On the same page: it follows the answer at once.
          await choose("local");
          eq(await visible("foreign_services"), { shown: false, enabled: false }, "foreign_services for a local resident");
          const localCounter = await total();
          await choose("foreign");
          eq(await visible("foreign_services"), { shown: true, enabled: true }, "foreign_services for a foreign resident");
          check((await total()) !== localCounter, `the counter did not change with the skip logic: ${localCounter}`);
        }
      }
      if ((await survey.questions()).some((q) => q.id === "foreign_services")) sawForeignQuestion = true;
    },
  });
  check(sawForeignQuestion, "a foreign resident never saw the foreign_services question");
  const stored = verifyStored(s, text, lang);
  check("foreign_services" in stored.answers, "foreign_services not stored for a foreign resident");
}

/** The numbers residents see and the counter agree with skip logic: a
 *  local resident sees 1, 2, 3 … with no gap, and the counter's total is
 *  the number of questions shown. */
async function numberingFollowsSkipLogic(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const numbers = [];
  await s.completeSurvey("tap", {
    text: textFor(lang, "numbering"),
    residentType: "local",
    onPage: async (survey) => {
      const shown = await page.$$eval(SEL.question, (qs) =>
        qs.filter((q) => !q.hidden && q.offsetParent !== null).map((q) => (q.querySelector(".question__number")?.textContent || "").replace(/\D/g, "")),
      );
      numbers.push(...shown.map(Number));
      const counter = await page.locator(SEL.progressText).textContent().catch(() => "");
      const ints = (counter.match(/\d+/g) || []).map(Number);
      if (ints.length >= 2 && !(await survey.hasContinue())) {
        const totalShown = numbers.length;
        check(ints.includes(totalShown), `counter "${counter}" does not give the ${totalShown} questions shown`);
      }
    },
  });
  const expected = numbers.map((_, i) => i + 1);
  eq(numbers, expected, "question numbers a local resident sees");
}

/** Chinese and Korean text typed as an IME does: composition updates, then
 *  the committed text; and pasted-like insertText. */
async function imeTyping(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const cdp = await page.context().newCDPSession(page);
  const steps = {
    zh: [["g", "gong", "gongy", "gongyuan"], "公园"],
    ko: [["ㄱ", "고", "공", "공ㅇ", "공위", "공원"], "공원"],
  }[lang];
  const tail = ` ${marker("ime")}`;
  let typed = "";
  await s.completeSurvey(async (survey, q) => {
    if (!q.text) return survey.answerByTap(q, {});
    const field = page.locator(`${byId(q.dom)} textarea`);
    await field.tap();
    const seen = await field.evaluate((el) => {
      window.__events = [];
      for (const t of ["compositionstart", "compositionupdate", "compositionend", "input"]) el.addEventListener(t, (e) => window.__events.push(e.type));
      return true;
    });
    check(seen, "listeners");
    for (const c of steps[0]) await cdp.send("Input.imeSetComposition", { text: c, selectionStart: c.length, selectionEnd: c.length });
    await cdp.send("Input.insertText", { text: steps[1] });
    await page.keyboard.insertText(TEXT_ANSWERS[lang] + tail);
    typed = steps[1] + TEXT_ANSWERS[lang] + tail;
    eq(await field.inputValue(), typed, "the text in the field");
    const events = await page.evaluate(() => window.__events);
    check(events.includes("compositionstart") && events.includes("compositionend"), `no composition events: ${events}`);
    const answered = await page.locator(SEL.progressText).textContent().catch(() => null);
    if (answered !== null) check(/\d/.test(answered), "counter");
    survey.answers[q.id] = typed;
  });
  const stored = verifyStored(s, tail.trim(), lang);
  eq(stored.answers.suggestions, typed, "stored text typed through the IME");
}

async function javascriptOff(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  check(await page.locator("#form-progress").isHidden(), "the script's counter shows with JavaScript off");
  const foreign = lang !== "en";
  const text = textFor(lang, "nojs");
  await s.completeSurvey("tap", {
    text,
    residentType: foreign ? "foreign" : "local",
    // Without script every question shows; a local resident leaves the
    // foreign residents' question alone, as its note says.
    skip: foreign ? [] : ["foreign_services"],
  });
  const stored = verifyStored(s, text, lang);
  eq("foreign_services" in stored.answers, foreign, "foreign_services stored");
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) {
    for (const device of ["phone", "desktop"]) {
      list.push([`whole survey by tapping, ${device}, ${lang}`, () => withPage(device, {}, (p) => completeAndVerify(p, lang, "tap", { residentType: lang === "ko" ? "foreign" : "local" }))]);
    }
  }
  for (const lang of LANGS) {
    list.push([`whole survey by keyboard alone, desktop, ${lang}`, () => withPage("desktop", {}, (p) => completeAndVerify(p, lang, "keyboard", { residentType: lang === "zh" ? "foreign" : "local" }))]);
  }
  list.push([`whole survey by keyboard alone, phone, en`, () => withPage("phone", {}, (p) => completeAndVerify(p, "en", "keyboard"))]);
  for (const lang of LANGS) list.push([`Enter in a field submits no more than its page, ${lang}`, () => withPage("desktop", {}, (p) => enterInAField(p, lang))]);
  for (const lang of LANGS) list.push([`errors shown and fixed, phone, ${lang}`, () => withPage("phone", {}, (p) => errorsShownAndFixed(p, lang, "phone"))]);
  for (const lang of LANGS) list.push([`errors shown and fixed, desktop, ${lang}`, () => withPage("desktop", {}, (p) => errorsShownAndFixed(p, lang, "desktop"))]);
  for (const lang of LANGS) list.push([`language switch keeps every answer, ${lang} → ${OTHER[lang]}`, () => withPage("phone", {}, (p) => languageSwitchKeepsAnswers(p, lang, OTHER[lang]))]);
  for (const lang of LANGS) list.push([`skip logic follows the answer, ${lang}`, () => withPage("phone", {}, (p) => skipLogic(p, lang))]);
  for (const lang of LANGS) list.push([`numbering and counter follow skip logic, ${lang}`, () => withPage("phone", {}, (p) => numberingFollowsSkipLogic(p, lang))]);
  for (const lang of ["zh", "ko"]) list.push([`${lang} typed through IME composition and input events`, () => withPage("phone", {}, (p) => imeTyping(p, lang))]);
  for (const lang of LANGS) list.push([`JavaScript off completes the survey, ${lang}`, () => withPage("phone", { javaScriptEnabled: false }, (p) => javascriptOff(p, lang))]);
  return list;
}

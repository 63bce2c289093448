// A resident completes the survey, one section per page, through the
// check-your-answers page: by tapping and by keyboard, at phone and desktop
// size, in zh, en and ko; Enter in a field; errors shown and fixed; a
// language switch mid-survey; skip logic across pages and the numbering it
// implies; Chinese and Korean typed through input and IME composition
// events; the review page's Change links; JavaScript off. Every completed
// survey is read back with `civicpulse export` and compared answer by answer.

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

/** The section page the browser shows (1-based), from the form. */
const pageNumber = (page) => page.evaluate((sel) => Number(document.querySelector(sel)?.getAttribute("data-page") || 0), SEL.form);

/** Records, on every page, the numbers shown and the counter; checks at the
 *  end that the numbers are 1..N with no gap, that the review page numbers
 *  the same N questions, and that the counter's total is N on every page
 *  once the skip logic's question is answered. */
function numberingWatcher() {
  const seen = { numbers: [], totals: [] };
  return {
    seen,
    onPage: async (s) => {
      seen.numbers.push(...(await s.numbers()));
      const c = await s.counter();
      if (c) seen.totals.push(c.total);
    },
    check: (reviewRows) => {
      const n = seen.numbers.length;
      eq(seen.numbers, seen.numbers.map((_, i) => i + 1), "question numbers shown across the pages");
      for (const t of seen.totals) eq(t, n, `counter total (all totals seen: ${seen.totals.join(", ")})`);
      if (reviewRows) {
        const numbers = reviewRows.map((r) => Number(r.question.match(/^(\d+)\./)?.[1]));
        eq(numbers, numbers.map((_, i) => i + 1), "numbers on the review page");
        eq(numbers.length, n, "questions on the review page");
      }
    },
  };
}

async function completeAndVerify(page, lang, how, profile = {}) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const text = textFor(lang, how);
  const numbering = numberingWatcher();
  let rows;
  const pages = await s.completeSurvey(how, {
    text,
    ...profile,
    onPage: numbering.onPage,
    onReview: async (survey) => {
      rows = await survey.reviewRows();
      eq(rows.filter((r) => r.missing).map((r) => r.question), [], "questions the review page shows unanswered");
      check(rows.some((r) => r.answers.includes(text)), `the review page does not show the text answer ${text}`);
    },
  });
  eq(pages, 10, "section pages walked");
  numbering.check(rows);
  eq(await s.lang(), lang, "language of the thank-you page");
  verifyStored(s, text, lang);
}

/** Enter pressed in a field sends only its page: with the page half done,
 *  the page comes back with this page's errors only; with the page done,
 *  the next section page opens. Never the thank-you page, nothing stored. */
async function enterInAField(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const before = exportedResponses().length;
  const qs = await s.questions();
  const onPage = new Set(qs.map((q) => q.dom));
  await page.keyboard.press("Tab");
  await s.answerByKeyboard(qs[0], {});
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check(!(await s.onThanksPage()), "Enter in the first question submitted the whole survey");
  eq(await pageNumber(page), 1, "section page after Enter on a half-answered page 1");
  const errors = await s.errorSummary();
  check(errors, "no error summary after Enter on a half-answered page");
  eq(errors.entries, qs.length - 1, "error entries after Enter with one of the page's questions answered");
  const foreign = errors.links.filter((h) => !onPage.has(h.replace(/^#/, "")));
  eq(foreign, [], "error summary entries for questions not on the page where Enter was pressed");
  eq((await s.readAnswers())[qs[0].id], s.answers[qs[0].id], "the first answer after Enter");
  // Now answer the rest by keyboard and press Enter in the last field.
  await page.locator(byId(qs[0].options[0].id)).focus();
  await s.answerCurrentPage("keyboard");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check(!(await s.onThanksPage()), "Enter submitted the whole survey");
  check(!(await s.errorSummary()), "Enter on a complete page showed errors");
  eq(await pageNumber(page), 2, "section page after Enter on a complete page 1");
  eq(exportedResponses().length, before, "responses stored after Enter on a section page");
}

/** Empty Continue on page 1 and on the pages asking the most required questions:
 *  the summary lists this page's questions only, each link leads to a
 *  question showing its own error, the first link moves the focus into the
 *  question; then the page is answered and the survey completed. Reports
 *  entries and height of the summary on page 1 and on the biggest page. */
async function errorsShownAndFixed(page, lang, device) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const viewport = page.viewportSize().height;
  const sizes = [];
  const text = textFor(lang, "fixed");
  const emptyContinue = async (survey, n) => {
    // Page 1, and every page that asks at least as many required questions
    // as any before it: the biggest page is among them.
    const required = await page.locator(`${SEL.question}:not([hidden]) .marker--required`).count();
    if (!required || (n > 1 && required < Math.max(...sizes.map((x) => x.entries)))) return;
    const questionsOnPage = await survey.questions();
    const onPage = new Set(questionsOnPage.map((q) => q.dom));
    await survey.continue(device === "phone" ? "tap" : "click");
    eq(await pageNumber(page), n, `an empty Continue left section page ${n}`);
    const summary = await survey.errorSummary();
    check(summary, `no error summary after an empty Continue on page ${n}`);
    sizes.push({ page: n, entries: summary.entries, height: summary.height });
    eq(summary.entries, required, `summary entries on page ${n} (${required} required questions shown)`);
    // autofocus runs at the next rendering update after load.
    const focused = await page
      .waitForFunction((sel) => document.activeElement === document.querySelector(sel), SEL.errorSummary, { timeout: 3000 })
      .then(() => true, () => false);
    check(focused, "the error summary has the focus after the refused Continue");
    check((await page.title()).length > 0, "page title");
    for (const href of summary.links) {
      check(onPage.has(href.slice(1)), `error link ${href} is for a question not on page ${n}`);
      const q = page.locator(byId(href.slice(1)));
      check((await q.locator(SEL.questionError).count()) === 1, `question of ${href} shows no error of its own`);
      check((await q.locator('[aria-invalid="true"]').count()) > 0, `fields of ${href} not marked aria-invalid`);
    }
    // A link moves the focus into its question's field (first and last).
    for (const link of [page.locator(SEL.errorLinks).first(), page.locator(SEL.errorLinks).last()]) {
      const href = await link.getAttribute("href");
      if (device === "phone") await link.tap();
      else await link.click();
      const inside = await page.evaluate((id) => {
        const q = document.getElementById(id);
        return !!q && q.contains(document.activeElement) && document.activeElement.matches("input, textarea");
      }, href.slice(1));
      check(inside, `following ${href} did not move the focus into the question's field`);
    }
  };
  await s.completeSurvey("fill", {
    text,
    residentType: "foreign",
    // Before answering: refuse the empty page first.
    beforeAnswer: emptyContinue,
  });
  verifyStored(s, text, lang);
  const first = sizes.find((x) => x.page === 1);
  const biggest = [...sizes].sort((a, b) => b.entries - a.entries || b.height - a.height)[0];
  check(first, "page 1 was not refused empty");
  for (const [which, x] of [["page 1", first], ["biggest page", biggest]]) {
    metric("error-summary", { lang, device, which, page: x.page, entries: x.entries, height_px: x.height, screens: +(x.height / viewport).toFixed(2) });
  }
}

/** On page 2, half answered (nothing of it saved yet), the language is
 *  switched: every answer on the page stays, page 1's answers stay, and the
 *  survey completes in the new language with all of them stored. */
async function languageSwitchKeepsAnswers(page, from, to) {
  const s = new Survey(page);
  await s.openSurvey(from);
  await s.answerCurrentPage("fill");
  await s.continue();
  const qs = await s.questions();
  const skip = qs.slice(Math.ceil(qs.length / 2)).map((q) => q.id);
  await s.answerCurrentPage("tap", { skip });
  const before = await s.readAnswers();
  const counterBefore = await s.counter();
  check(Object.keys(before).length > 0, "nothing answered before the switch");
  await s.switchLanguage(to);
  eq(await s.lang(), to, "language after the switch");
  eq(await pageNumber(page), 2, "section page after the switch");
  check(!(await s.errorSummary()), "switching language showed errors");
  eq(await s.readAnswers(), before, `answers on the page after switching ${from} → ${to}`);
  const counterAfter = await s.counter();
  eq([counterAfter?.answered, counterAfter?.total], [counterBefore?.answered, counterBefore?.total], "counter after the switch");
  await s.back();
  eq(await pageNumber(page), 1, "Back after the switch");
  eq(await s.lang(), to, "language after Back");
  const firstPage = await s.readAnswers();
  for (const [id, v] of Object.entries(s.answers)) if (id in firstPage || qs.every((q) => q.id !== id)) eq(firstPage[id], v, `page 1 answer to ${id} after the switch`);
  const text = textFor(to, "switched");
  await s.completeSurvey("fill", { text });
  verifyStored(s, text, to);
}

/** Skip logic across pages: "foreign resident" on page 1 adds a question on
 *  page 5 (the counter's total follows at once on page 1), and the review
 *  page's Change link back to page 1 takes it away again; the Change link
 *  returns to the review page, renumbered, and the stored response holds
 *  only what applies. */
async function skipLogicAcrossPages(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  const choose = async (value) => {
    const id = await page.locator(`[name="resident_type"][value="${value}"]`).getAttribute("id");
    await page.locator(`label[for="${id}"]`).tap();
  };
  await s.answerCurrentPage("tap", { residentType: "local" });
  const local = await s.counter();
  await choose("foreign");
  s.answers.resident_type = ["foreign"];
  const foreign = await s.counter();
  eq(foreign.total, local.total + 1, `the counter's total for a foreign resident (local: ${local.text}, foreign: ${foreign.text})`);
  let sawForeignQuestion = 0;
  const text = textFor(lang, "skip");
  let rowsForeign;
  await s.completeSurvey("fill", {
    text,
    residentType: "foreign",
    onPage: async (survey, n) => {
      const here = (await survey.questions()).map((q) => q.id);
      if (here.includes("foreign_services")) {
        sawForeignQuestion = n;
        check(await page.locator('[data-question="foreign_services"] input:not([disabled])').count(), "foreign_services inputs disabled");
      }
    },
    onReview: async (survey) => {
      rowsForeign = await survey.reviewRows();
      // Change the first section: the foreign residents' question goes.
      const change = page.locator(SEL.reviewChange).first();
      await Promise.all([page.waitForNavigation(), change.tap()]);
      eq(await pageNumber(page), 1, "the first Change link's page");
      await choose("local");
      survey.answers.resident_type = ["local"];
      delete survey.answers.foreign_services;
      await survey.continue();
      check(await survey.isReviewPage(), `Change → Continue did not return to the review page: ${page.url()}`);
      const rows = await survey.reviewRows();
      eq(rows.length, rowsForeign.length - 1, "rows on the review page after changing to a local resident");
      const numbers = rows.map((r) => Number(r.question.match(/^(\d+)\./)?.[1]));
      eq(numbers, numbers.map((_, i) => i + 1), "numbers on the review page after the change");
    },
  });
  eq(sawForeignQuestion, 5, "section page where a foreign resident sees foreign_services");
  const stored = verifyStored(s, text, lang);
  check(!("foreign_services" in stored.answers), "foreign_services stored after the resident changed to local");
}

/** Chinese and Korean text typed as an IME does: composition updates, then
 *  the committed text; and pasted-like insertText. Shown back on the review
 *  page and stored as typed. */
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
  await s.completeSurvey(
    async (survey, q) => {
      if (!q.text) return survey.answerByFill(q, {});
      const field = page.locator(`${byId(q.dom)} textarea`);
      await field.tap();
      await field.evaluate((el) => {
        window.__events = [];
        for (const t of ["compositionstart", "compositionupdate", "compositionend", "input"]) el.addEventListener(t, (e) => window.__events.push(e.type));
      });
      for (const c of steps[0]) await cdp.send("Input.imeSetComposition", { text: c, selectionStart: c.length, selectionEnd: c.length });
      await cdp.send("Input.insertText", { text: steps[1] });
      await page.keyboard.insertText(TEXT_ANSWERS[lang] + tail);
      typed = steps[1] + TEXT_ANSWERS[lang] + tail;
      eq(await field.inputValue(), typed, "the text in the field");
      const events = await page.evaluate(() => window.__events);
      check(events.includes("compositionstart") && events.includes("compositionend") && events.includes("input"), `composition/input events: ${events}`);
      const c = await s.counter();
      check(c && c.answered === c.total, `counter after typing the last answer: ${c && c.text}`);
      survey.answers[q.id] = typed;
    },
    {
      onReview: async (survey) => {
        const rows = await survey.reviewRows();
        check(rows.some((r) => r.answers.includes(typed)), `the review page does not show "${typed}": ${JSON.stringify(rows.slice(-1))}`);
      },
    },
  );
  const stored = verifyStored(s, tail.trim(), lang);
  eq(stored.answers.suggestions, typed, "stored text typed through the IME");
}

async function javascriptOff(page, lang) {
  const s = new Survey(page);
  await s.openSurvey(lang);
  check(await page.locator("#form-progress").isHidden(), "the script's counter shows with JavaScript off");
  const foreign = lang !== "en";
  const text = textFor(lang, "nojs");
  let sawForeign = false;
  await s.completeSurvey("tap", {
    text,
    residentType: foreign ? "foreign" : "local",
    onPage: async (survey) => {
      if ((await survey.questions()).some((q) => q.id === "foreign_services")) sawForeign = true;
    },
  });
  // Without script the server applies the skip logic between pages.
  eq(sawForeign, foreign, "foreign_services shown without JavaScript");
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
  list.push([`whole survey by keyboard alone, phone, en`, () => withPage("phone", {}, (p) => completeAndVerify(p, "en", "keyboard", { residentType: "foreign" }))]);
  for (const lang of LANGS) list.push([`errors shown and fixed, phone, ${lang}`, () => withPage("phone", {}, (p) => errorsShownAndFixed(p, lang, "phone"))]);
  for (const lang of LANGS) list.push([`errors shown and fixed, desktop, ${lang}`, () => withPage("desktop", {}, (p) => errorsShownAndFixed(p, lang, "desktop"))]);
  for (const lang of LANGS) list.push([`language switch keeps every answer, ${lang} → ${OTHER[lang]}`, () => withPage("phone", {}, (p) => languageSwitchKeepsAnswers(p, lang, OTHER[lang]))]);
  for (const lang of LANGS) list.push([`skip logic across pages, Change link back to the review page, ${lang}`, () => withPage("phone", {}, (p) => skipLogicAcrossPages(p, lang))]);
  for (const lang of ["zh", "ko"]) list.push([`${lang} typed through IME composition and input events`, () => withPage("phone", {}, (p) => imeTyping(p, lang))]);
  for (const lang of LANGS) list.push([`JavaScript off completes the survey through the review page, ${lang}`, () => withPage("phone", { javaScriptEnabled: false }, (p) => javascriptOff(p, lang))]);
  // Counts stored responses: alone, after the others.
  for (const lang of LANGS) list.push([`Enter in a field continues only its page, ${lang}`, () => withPage("desktop", {}, (p) => enterInAField(p, lang)), { serial: true }]);
  return list;
}

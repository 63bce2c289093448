// 200% text: Chromium's default font size set to 32 px (what a resident's
// "font size: very large" setting does; CDP Page.setFontSizes), at 390 and
// 320 px phones. On every resident page (start page, each section page
// empty and refused, review, resume, thank-you, not found) nothing is wider
// than the screen and every language button is on screen. And the page's
// own large-text toggle keeps the unsaved answers of the page, holds across
// visits (a cookie), and the layout holds with it too.

import { LANGS, SEL, Survey, check, env, eq, launch, metric, newPage } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

async function measure(page, width, label, rootPx = "32px") {
  const m = await page.evaluate(([sel, screen]) => ({
    fontSize: getComputedStyle(document.documentElement).fontSize,
    scrollWidth: document.documentElement.scrollWidth,
    // What sticks out: text and boxes past the right edge (for the message).
    over: (() => {
      const out = [];
      const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = w.nextNode(); n && out.length < 4; n = w.nextNode()) {
        const r = document.createRange();
        r.selectNodeContents(n);
        const el = n.parentElement;
        if (r.getBoundingClientRect().right > screen + 1 && !el.closest(".visually-hidden, [hidden]")) out.push(`${el.tagName.toLowerCase()}.${el.className} "${n.textContent.trim().slice(0, 40)}"`);
      }
      for (const el of document.querySelectorAll("body *")) {
        if (out.length < 6 && el.getBoundingClientRect().right > screen + 1 && !el.closest(".visually-hidden, [hidden]")) out.push(`<${el.tagName.toLowerCase()} class="${el.className}">`);
      }
      return out;
    })(),
    buttons: [...document.querySelectorAll(sel)].map((b) => {
      const r = b.getBoundingClientRect();
      return { lang: b.getAttribute("lang"), left: Math.floor(r.left), right: Math.ceil(r.right) };
    }),
  }), [SEL.langList, width]);
  metric("large-text", { page: label, width, scroll_width: m.scrollWidth });
  const problems = [];
  if (m.fontSize !== rootPx) problems.push(`${label}: root font size ${m.fontSize}, not ${rootPx}`);
  if (m.scrollWidth > width) problems.push(`${label} at ${width} px: the page is ${m.scrollWidth} px wide: ${m.over.join(", ")}`);
  if (m.buttons.length !== 3) problems.push(`${label}: ${m.buttons.length} language buttons`);
  for (const b of m.buttons) {
    if (b.left < 0 || b.right > width) problems.push(`${label} at ${width} px: the ${b.lang} language button spans ${b.left}–${b.right} px`);
  }
  return problems;
}

async function largeFonts(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Page.enable");
  await cdp.send("Page.setFontSizes", { fontSizes: { standard: 32, fixed: 26 } });
}

async function largeText(lang, width) {
  const { context, page } = await newPage(browser, "phone", { viewport: { width, height: 844 } });
  await largeFonts(context, page);
  const problems = [];
  try {
    const s = new Survey(page);
    await s.openSurvey(lang, "", { stayOnStart: true });
    problems.push(...(await measure(page, width, `start page ${lang}`)));
    await page.fill(SEL.codeInput, "XXXX-XXXX-XXXX");
    await s.press(`${SEL.startForm} button[type="submit"]`, "click");
    problems.push(...(await measure(page, width, `start page, wrong code ${lang}`)));
    await s.openSurvey(lang);
    let pages = 0;
    await s.completeSurvey("fill", {
      beforeAnswer: async (survey, n) => {
        pages = n;
        problems.push(...(await measure(page, width, `section page ${n} ${lang}`)));
        if (await page.locator(`${SEL.question}:not([hidden]) .marker--required`).count()) {
          await survey.continue("click");
          problems.push(...(await measure(page, width, `section page ${n} refused ${lang}`)));
        }
      },
      onReview: async () => {
        problems.push(...(await measure(page, width, `review page ${lang}`)));
        await page.goto(`${env.base}/s/livability?lang=${lang}`);
        problems.push(...(await measure(page, width, `continue-where-you-left-off page ${lang}`)));
        await page.goto(`${env.base}/s/livability/resume?lang=${lang}`);
        problems.push(...(await measure(page, width, `resume page ${lang}`)));
        await page.goto(`${env.base}/s/livability/review?lang=${lang}`);
      },
    }, "click");
    eq(pages, 10, "section pages measured");
    problems.push(...(await measure(page, width, `thank-you page ${lang}`)));
    await page.goto(`${env.base}/s/no-such-survey?lang=${lang}`);
    problems.push(...(await measure(page, width, `not-found page ${lang}`)));
  } finally {
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
}

const isLarge = (page) => page.evaluate(() => document.documentElement.classList.contains("text-large"));

/** The header's large-text button on a half-answered page 1: the page comes
 *  back larger with the answers; a later visit (a new tab of the same
 *  browser) is large too, until it is turned off. At 200% text on top, at
 *  320 px, the layout still holds. */
async function toggle(lang) {
  const { context, page } = await newPage(browser, "phone", { viewport: { width: 320, height: 700 } });
  await largeFonts(context, page);
  const problems = [];
  try {
    const s = new Survey(page);
    await s.openSurvey(lang);
    check(!(await isLarge(page)), "large text before it was asked for");
    const qs = await s.questions();
    await s.answerCurrentPage("tap", { skip: qs.slice(2).map((q) => q.id) });
    const before = await s.readAnswers();
    await s.press(".text-size__button--off", "tap");
    check(await isLarge(page), "the page did not come back in large text");
    eq(await page.locator(".text-size__button--on").getAttribute("aria-pressed"), "true", "the visible toggle's aria-pressed");
    check(await page.locator(".text-size__button--on").isVisible(), "the pressed toggle is shown");
    eq(await s.readAnswers(), before, "answers after turning large text on");
    eq(await s.errorSummary(), null, "errors after turning large text on");
    problems.push(...(await measure(page, 320, `page 1 with the large-text toggle at 200% ${lang}`, "48px")));
    // A later visit: a new tab, the same browser.
    const later = await context.newPage();
    await largeFonts(context, later);
    await later.goto(`${env.base}/s/livability?lang=${lang}`);
    check(await isLarge(later), "a later visit is not in large text");
    await later.goto(`${env.base}/privacy?lang=${lang}`);
    check(await isLarge(later), "the privacy page is not in large text");
    problems.push(...(await measure(later, 320, `privacy page with the large-text toggle at 200% ${lang}`, "48px")));
    await Promise.all([later.waitForNavigation(), later.locator(".text-size__button--on").click()]);
    check(!(await isLarge(later)), "large text did not turn off");
    await later.goto(`${env.base}/privacy?lang=${lang}`);
    check(!(await isLarge(later)), "large text came back after turning it off");
    await later.close();
  } finally {
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) for (const width of [390, 320]) list.push([`200% text at ${width} px, ${lang}`, () => largeText(lang, width)]);
  for (const lang of LANGS) list.push([`the large-text toggle keeps answers and persists, ${lang}`, () => toggle(lang)]);
  return list;
}

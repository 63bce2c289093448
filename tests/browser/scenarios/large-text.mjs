// 200% text: Chromium's default font size set to 32 px (what a resident's
// "font size: very large" setting does; CDP Page.setFontSizes), at 390 and
// 320 px phones. On every resident page nothing is wider than the screen
// and every language button is on screen.

import { LANGS, SEL, Survey, check, env, launch, metric, newPage, pickOption } from "../lib.mjs";

let browser;
export async function close() {
  if (browser) await browser.close();
}

async function measure(page, width, label) {
  const m = await page.evaluate((sel) => ({
    fontSize: getComputedStyle(document.documentElement).fontSize,
    scrollWidth: document.documentElement.scrollWidth,
    buttons: [...document.querySelectorAll(sel)].map((b) => {
      const r = b.getBoundingClientRect();
      return { lang: b.getAttribute("lang"), left: Math.floor(r.left), right: Math.ceil(r.right) };
    }),
  }), SEL.langList);
  metric("large-text", { page: label, width, scroll_width: m.scrollWidth });
  const problems = [];
  if (m.fontSize !== "32px") problems.push(`${label}: root font size ${m.fontSize}, not 32px`);
  if (m.scrollWidth > width) problems.push(`${label} at ${width} px: the page is ${m.scrollWidth} px wide`);
  check(m.buttons.length === 3, `${label}: ${m.buttons.length} language buttons`);
  for (const b of m.buttons) {
    if (b.left < 0 || b.right > width) problems.push(`${label} at ${width} px: the ${b.lang} language button spans ${b.left}–${b.right} px`);
  }
  return problems;
}

/** Layout is under test here, not input: answers are set straight in the
 *  page (with the change events the script listens to), which is fast at
 *  200% text where every tap would scroll a very long page. */
async function setAnswer(survey, q) {
  if (q.text) {
    await survey.page.fill(`[id="${q.dom}"] textarea`, "OK");
    return;
  }
  const [value] = pickOption(q, {});
  await survey.page.evaluate(({ name, value }) => {
    const input = document.querySelector(`input[name="${name}"][value="${value}"]`);
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }, { name: q.id, value });
}

async function largeText(lang, width) {
  const { context, page } = await newPage(browser, "phone", { viewport: { width, height: 844 } });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Page.enable");
  await cdp.send("Page.setFontSizes", { fontSizes: { standard: 32, fixed: 26 } });
  const problems = [];
  try {
    const s = new Survey(page);
    await s.openSurvey(lang, "", { stayOnStart: true });
    problems.push(...(await measure(page, width, `start page ${lang}`)));
    await page.fill(SEL.codeInput, "XXXX-XXXX-XXXX");
    await s.press(`${SEL.startForm} button[type="submit"]`, "click");
    problems.push(...(await measure(page, width, `start page, wrong code ${lang}`)));
    await s.openSurvey(lang);
    for (let n = 1; n < 40; n++) {
      problems.push(...(await measure(page, width, `form page ${n} ${lang}`)));
      const more = await s.hasContinue();
      if (more) await s.continue();
      else await s.submit();
      problems.push(...(await measure(page, width, `form page ${n} refused ${lang}`)));
      await s.answerCurrentPage(setAnswer);
      if (!more) break;
      await s.continue();
    }
    await s.completeSurvey(setAnswer, {}, "click");
    problems.push(...(await measure(page, width, `thank-you page ${lang}`)));
    await page.goto(`${env.base}/s/no-such-survey?lang=${lang}`);
    problems.push(...(await measure(page, width, `not-found page ${lang}`)));
  } finally {
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
}

export async function scenarios() {
  browser = await launch();
  const list = [];
  for (const lang of LANGS) for (const width of [390, 320]) list.push([`200% text at ${width} px, ${lang}`, () => largeText(lang, width)]);
  return list;
}

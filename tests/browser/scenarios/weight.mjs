// Every resident page, cold (no cache), is under 30 KB over the wire with
// its CSS and JS, as the server sends it (gzip), and every request goes to
// the server's own origin: the start page, each section page (and page 1
// refused empty), the review page, "continue where you left off", the
// resume page, the thank-you and not-found pages.

import { LANGS, SEL, Survey, check, env, eq, launch, metric, newPage, wireMeter } from "../lib.mjs";

const LIMIT = 30 * 1024;
let browser;
export async function close() {
  if (browser) await browser.close();
}

async function weight(lang) {
  const { context, page } = await newPage(browser, "phone");
  const meter = await wireMeter(page);
  const origin = new URL(env.base).origin;
  const problems = [];
  const s = new Survey(page);
  const weigh = async (label, action, { script = true } = {}) => {
    const w = await meter.weigh(action);
    metric("page-weight", { page: label, lang, bytes: w.bytes, requests: w.urls.length });
    if (w.bytes > LIMIT) problems.push(`${label}: ${w.bytes} bytes over the wire (limit ${LIMIT}): ${w.requests.map((r) => `${r.url} ${r.bytes}`).join(", ")}`);
    for (const u of w.urls) if (new URL(u).origin !== origin) problems.push(`${label}: third-party request ${u}`);
    check(w.urls.some((u) => u.includes("/static/style.css")), `${label}: the stylesheet was not loaded cold`);
    if (script) check(w.urls.some((u) => u.includes("/static/form.js")), `${label}: the form script was not loaded cold`);
  };
  try {
    await weigh("start page", () => s.openSurvey(lang, "", { stayOnStart: true }), { script: false });
    await weigh("section page 1", () => page.goto(s.url(lang, "&open=1")));
    await weigh("section page 1 refused", () => s.continue("click"));
    for (let n = 1; n <= 10; n++) {
      await s.answerCurrentPage("fill", { residentType: "foreign" });
      await weigh(n < 10 ? `section page ${n + 1}` : "review page", () => s.continue("click"), { script: n < 10 });
    }
    check(await s.isReviewPage(), "review page");
    await weigh("continue page", () => page.goto(`${env.base}/s/livability?lang=${lang}`), { script: false });
    await weigh("resume page", () => page.goto(`${env.base}/s/livability/resume?lang=${lang}`), { script: false });
    await page.goto(`${env.base}/s/livability/review?lang=${lang}`);
    await weigh("thank-you page", () => s.submit("click"), { script: false });
    check(await s.onThanksPage(), "thank-you page");
    await weigh("not-found page", () => page.goto(`${env.base}/s/no-such-survey?lang=${lang}`), { script: false });
    eq(page.problems, [], "script errors");
  } finally {
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
}

export async function scenarios() {
  browser = await launch();
  return LANGS.map((lang) => [`resident pages under 30 KB and first-party, ${lang}`, () => weight(lang)]);
}

// Every resident page, cold (no cache), is under 30 KB over the wire with
// its CSS and JS, as the server sends it (gzip), and every request goes to
// the server's own origin.

import { LANGS, SEL, Survey, check, env, launch, metric, newPage, wireMeter } from "../lib.mjs";

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
  const weigh = async (label, action) => {
    const w = await meter.weigh(action);
    metric("page-weight", { page: label, lang, bytes: w.bytes, requests: w.urls.length });
    if (w.bytes > LIMIT) problems.push(`${label}: ${w.bytes} bytes over the wire (limit ${LIMIT}): ${w.requests.map((r) => `${r.url} ${r.bytes}`).join(", ")}`);
    for (const u of w.urls) if (new URL(u).origin !== origin) problems.push(`${label}: third-party request ${u}`);
    check(w.urls.some((u) => u.includes("/static/style.css")), `${label}: the stylesheet was not loaded cold`);
  };
  try {
    await weigh("start page", () => s.openSurvey(lang, "", { stayOnStart: true }));
    await weigh("form page 1", () => page.goto(s.url(lang, "&open=1")));
    for (let n = 1; n < 40; n++) {
      const more = await s.hasContinue();
      await weigh(`form page ${n} refused`, () => (more ? s.continue() : s.submit()));
      await s.answerCurrentPage("tap");
      if (!more) {
        await weigh("thank-you page", () => s.submit());
        check(await s.onThanksPage(), "thank-you page");
        break;
      }
      await weigh(`form page ${n + 1}`, () => s.continue());
    }
    await weigh("not-found page", () => page.goto(`${env.base}/s/no-such-survey?lang=${lang}`));
  } finally {
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
}

export async function scenarios() {
  browser = await launch();
  return LANGS.map((lang) => [`resident pages under 30 KB and first-party, ${lang}`, () => weight(lang)]);
}

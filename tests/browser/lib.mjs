// The shared part of the browser scenarios: Debian's Chromium through
// playwright-core, the devices, the selectors of the resident pages and a
// small page-object layer, and the line protocol spoken with tests/browser.rs.
//
// Selectors live in SEL and nowhere else: when the form becomes one section
// per page, only this file should need to learn the new buttons.

import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export const LANGS = ["zh", "en", "ko"];

export const DEVICES = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 },
  desktop: { viewport: { width: 1280, height: 800 } },
};

/** Every selector the scenarios use for the resident pages. */
export const SEL = {
  form: "#survey-form",
  question: "[data-question]",
  // Each section page has Continue (name _go, value next) and Back (value
  // back); the last section's Continue leads to the review page, whose
  // Submit (value submit) stores the response.
  continue: "#continue-button",
  back: '#survey-form button[type="submit"][name="_go"][value="back"]',
  submit: "#submit-button",
  // The check-your-answers page before the final submit.
  review: "form.review-form",
  reviewChange: ".review-section__change",
  reviewMissing: ".review-list__missing",
  resumeCode: ".resume-box__code",
  // "Continue where you left off": the page offered when saved answers exist.
  resume: "main > .page-actions > a.button--primary",
  startAgain: 'main > .page-actions > a.button--secondary[href*="/clear"]',
  resumeInput: "#resume-code-input",
  pageProgress: ".page-progress",
  errorSummary: ".error-summary",
  errorLinks: ".error-summary a",
  questionError: ".question__error",
  progressText: "#form-progress-text",
  langButton: (lang) => `.lang-switch [lang="${lang}"]:is(button, a)`,
  langList: ".lang-switch__item",
  thanks: ".panel--success",
  startForm: 'form.invitation[action$="/start"]',
  openLink: 'a[href*="open=1"]',
  codeInput: "#invitation-code-input",
};

// ---------------------------------------------------------------------------
// Protocol with tests/browser.rs: one line per event on stdout.

export function say(kind, payload) {
  process.stdout.write(`@@${kind} ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n`);
}

export function metric(name, data) {
  say("metric", { name, ...data });
}

let stdinLines;
function nextStdinLine() {
  if (!stdinLines) {
    const rl = createInterface({ input: process.stdin });
    const queue = [];
    const waiting = [];
    rl.on("line", (line) => (waiting.length ? waiting.shift()(line) : queue.push(line)));
    rl.on("close", () => waiting.splice(0).forEach((w) => w(null)));
    stdinLines = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
  }
  return stdinLines();
}

/** Asks the Rust side to stop the server and start it again on the same
 *  database, key file and port; resolves once it listens again. */
export async function restartServer() {
  say("restart", "");
  const line = await nextStdinLine();
  if (!line || !line.startsWith("@@ready")) throw new Error(`server restart: got ${line}`);
}

export const env = {
  base: process.env.BASE_URL || "http://127.0.0.1:8080",
  bin: process.env.CIVICPULSE_BIN,
  db: process.env.CIVICPULSE_DB,
  keyFile: process.env.CIVICPULSE_KEY_FILE,
  chromium: process.env.CHROMIUM || "/usr/bin/chromium",
};

/** `civicpulse ARGS` on the test database (the app's own CLI). */
export function cli(args) {
  return execFileSync(env.bin, args, {
    env: { ...process.env, DATABASE_URL: env.db, CIVICPULSE_KEY_FILE: env.keyFile, RUST_LOG: "warn" },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Every stored response of livability, as `civicpulse export --format json` prints it. */
export function exportedResponses() {
  const out = JSON.parse(cli(["export", "livability", "--format", "json"]));
  return Array.isArray(out) ? out : out.responses;
}

// ---------------------------------------------------------------------------
// Browser

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ["--no-sandbox", "--disable-dev-shm-usage", ...extraArgs],
  });
}

export async function newPage(browser, device, options = {}) {
  const context = await browser.newContext({ ...DEVICES[device], ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.problems = problems;
  return { context, page };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
// No rule is left out: every best-practice rule passes on today's resident
// pages (region included). Add an id here only with the reason beside it.
export const AXE_DISABLED = [];

/** axe-core's violations on the page as it is now. The CSP forbids injected
 *  script tags, so the library is evaluated in the page directly. */
export async function axe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(
    async ({ tags, disabled }) => {
      const rules = Object.fromEntries(disabled.map((id) => [id, { enabled: false }]));
      const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, rules, resultTypes: ["violations"] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: (n.failureSummary || "").split("\n").slice(0, 3).join(" ") })),
        count: v.nodes.length,
      }));
    },
    { tags: AXE_TAGS, disabled: AXE_DISABLED },
  );
}

export function formatViolations(vs) {
  return vs
    .map((v) => `${v.id} (${v.impact}, ${v.count} nodes): ${v.help}\n` + v.nodes.map((n) => `    ${n.target} — ${n.summary}`).join("\n"))
    .join("\n  ");
}

// ---------------------------------------------------------------------------
// Assertions and the scenario runner

/** Submits the sign-in form and waits for the server's answer to that
 *  POST and the page it leads to. (waitForNavigation is racy: it can
 *  settle on the page already shown, before the POST is answered.) */
export async function submitLogin(page) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === "POST" && r.request().isNavigationRequest() && new URL(r.url()).pathname === "/login",
    ),
    page.locator('form[action="/login"] button[type="submit"]').click(),
  ]);
  await page.waitForLoadState("load");
  return response;
}

export async function shownError(page) {
  return (await page.locator("h1, [role=alert], .error-summary").allInnerTexts()).join(" | ");
}

/** Signs `page` in as `name` (password STAFF_PASSWORD); fails with what
 *  the page said if the server refused. */
export async function signIn(page, name, lang) {
  await page.goto(`${env.base}/login?lang=${lang}`);
  await page.fill('input[name="username"]', name);
  await page.fill('input[name="password"]', process.env.STAFF_PASSWORD);
  const accepted = await submitLogin(page);
  check(accepted.status() === 303, `signing in as ${name} answered ${accepted.status()}: ${await shownError(page)}`);
  await page.waitForURL((url) => url.pathname.startsWith("/admin"));
}

/** Starts `bin serve` on a free port over the database `db` (for the
 *  screenshot scripts, which run outside the Rust harness); resolves to
 *  { server, base } once it listens. */
export async function startServer(bin, db) {
  const { spawn } = await import("node:child_process");
  const { createServer } = await import("node:net");
  const port = await new Promise((ok) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = probe.address().port;
      probe.close(() => ok(p));
    });
  });
  const server = spawn(bin, ["serve", "--bind", `127.0.0.1:${port}`, "--database", db, "--workers", "1"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const base = await new Promise((ok, fail) => {
    let seen = "";
    server.stderr.on("data", (d) => {
      seen += d;
      const m = seen.match(/listening on (http:\/\/\S+)/);
      if (m) ok(m[1]);
    });
    server.on("exit", (c) => fail(new Error(`server exited (${c}): ${seen}`)));
  });
  return { server, base };
}

export class Failure extends Error {}

/** A selector for an element id that may hold characters CSS would need escaped (`60+`). */
export const byId = (id) => `[id="${id}"]`;

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

export function eq(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${message}: expected ${e}, got ${a}`);
}

/** How many scenarios of a suite run at once (one browser, one context
 *  each). Two cores run four well: while one page waits for the server or
 *  the network the others lay out. */
/** One scenario's limit: a hung one fails alone, not the whole suite. */
export const SCENARIO_TIMEOUT_MS = Number(process.env.SCENARIO_TIMEOUT_MS || 90000);

export const JOBS = Math.max(1, Number(process.env.BROWSER_JOBS || 4));

/** Runs the scenarios (or those matching BROWSER_ONLY) and reports each on
 *  stdout; the exit code says whether all passed. Scenarios are
 *  `[name, fn]` or `[name, fn, { serial: true }]`: the others run JOBS at a
 *  time first, then the serial ones one by one, alone (they count stored
 *  responses or restart the server). */
export async function runScenarios(scenarios, close) {
  const only = process.env.BROWSER_ONLY ? new RegExp(process.env.BROWSER_ONLY) : null;
  const chosen = scenarios.filter(([name]) => !only || only.test(name));
  let failed = 0;
  const runOne = async ([name, fn]) => {
    const started = Date.now();
    let timer;
    try {
      await Promise.race([
        fn(),
        new Promise((_, fail) => {
          timer = setTimeout(() => fail(new Failure(`still running after ${SCENARIO_TIMEOUT_MS / 1000} s`)), SCENARIO_TIMEOUT_MS);
        }),
      ]);
      say("pass", `${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      const msg = e instanceof Failure ? e.message : e.stack || String(e);
      say("fail", `${name}: ${msg.replace(/\n/g, "\n    ")}`);
    } finally {
      clearTimeout(timer);
    }
  };
  const parallel = chosen.filter((s) => !s[2]?.serial);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(JOBS, parallel.length) }, async () => {
      while (next < parallel.length) await runOne(parallel[next++]);
    }),
  );
  for (const s of chosen.filter((s) => s[2]?.serial)) await runOne(s);
  say("summary", { ran: chosen.length, failed });
  if (close) await close();
  process.exit(failed ? 1 : 0);
}

// ---------------------------------------------------------------------------
// Page objects

/** Which answer a scripted resident gives to a question: varied but
 *  deterministic, never "don't know" (so it shows up in the export as a
 *  real answer), and the profile's resident type. */
export function pickOption(q, profile) {
  if (q.id === "resident_type") return [profile.residentType || "local"];
  const real = q.options.filter((o) => !o.dontKnow);
  let h = 0;
  for (const c of q.id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  if (q.multi) return [real[h % real.length].value, real[(h + 1) % real.length].value];
  return [real[h % real.length].value];
}

export const TEXT_ANSWERS = {
  zh: "希望增加社区公园和夜间公交",
  en: "More parks and later buses, please.",
  ko: "공원과 야간 버스를 늘려 주십시오",
};

export class Survey {
  constructor(page, { base = env.base, slug = "livability" } = {}) {
    this.page = page;
    this.base = base;
    this.slug = slug;
    /** question id -> answer given (array of values, or text) */
    this.answers = {};
    this.pagesSeen = 0;
  }

  url(lang, query = "") {
    return `${this.base}/s/${this.slug}?lang=${lang}${query}`;
  }

  /** Opens the survey's first page in `lang` (through the start page's
   *  open link when the wave also takes invitation codes). */
  async openSurvey(lang, query = "", { stayOnStart = false } = {}) {
    const response = await this.page.goto(this.url(lang, query));
    check(response && response.status() === 200, `GET ${this.url(lang, query)}: ${response && response.status()}`);
    await this.page.waitForSelector(`${SEL.form}, ${SEL.startForm}, ${SEL.resume}`);
    if (!stayOnStart && (await this.page.locator(SEL.startForm).count()) && (await this.page.locator(SEL.openLink).count())) {
      await Promise.all([this.page.waitForNavigation(), this.page.locator(SEL.openLink).first().click()]);
      await this.page.waitForSelector(SEL.form);
    }
    this.pagesSeen = 1;
    return response;
  }

  async lang() {
    // zh pages say zh-Hans.
    return this.page.evaluate(() => document.documentElement.lang.split("-")[0]);
  }

  /** The questions shown on the current page, with their options. */
  async questions() {
    return this.page.$$eval(SEL.question, (qs) =>
      qs
        .filter((q) => !q.hidden && q.offsetParent !== null)
        .map((q) => {
          const inputs = [...q.querySelectorAll("input, textarea")];
          return {
            id: q.getAttribute("data-question"),
            dom: q.id,
            text: inputs.some((i) => i.tagName === "TEXTAREA"),
            multi: inputs.some((i) => i.type === "checkbox"),
            showIf: q.getAttribute("data-show-if-question"),
            options: inputs
              .filter((i) => i.type === "radio" || i.type === "checkbox")
              .map((i) => ({
                id: i.id,
                value: i.value,
                dontKnow: !!i.closest(".option--dk") || i.value === "dk" || i.value === "na",
              })),
          };
        }),
    );
  }

  /** The answers the current page holds, read from its fields. */
  async readAnswers() {
    return this.page.$$eval(SEL.question, (qs) => {
      const out = {};
      for (const q of qs) {
        const id = q.getAttribute("data-question");
        const ta = q.querySelector("textarea");
        if (ta) {
          if (ta.value !== "") out[id] = ta.value;
          continue;
        }
        const on = [...q.querySelectorAll("input:checked")].map((i) => i.value);
        if (on.length) out[id] = on;
      }
      return out;
    });
  }

  /** Answers every question shown on the current page; `strategy` is
   *  "tap" (touch or click on the label), "keyboard" (Tab, Space, arrows,
   *  typing) or a function (survey, question) => Promise. Questions made
   *  visible by an answer are answered too. */
  async answerCurrentPage(strategy = "tap", profile = {}) {
    const done = new Set();
    for (let round = 0; round < 5; round++) {
      const qs = (await this.questions()).filter((q) => !done.has(q.id));
      if (!qs.length) break;
      for (const q of qs) {
        if (profile.skip && profile.skip.includes(q.id)) {
          done.add(q.id);
          continue;
        }
        if (typeof strategy === "function") await strategy(this, q);
        else if (strategy === "fill") await this.answerByFill(q, profile);
        else if (strategy === "keyboard") await this.answerByKeyboard(q, profile);
        else await this.answerByTap(q, profile);
        done.add(q.id);
      }
    }
  }

  /** Sets the answer straight in the page, with the input and change events
   *  the script listens to: for scenarios about something else than how a
   *  resident taps (one round trip instead of a tap's several). */
  async answerByFill(q, profile) {
    const values = q.text ? [profile.text ?? TEXT_ANSWERS[await this.lang()]] : pickOption(q, profile);
    await this.page.evaluate(({ dom, text, values }) => {
      const box = document.getElementById(dom);
      if (text) {
        const ta = box.querySelector("textarea");
        ta.value = values[0];
        ta.dispatchEvent(new Event("input", { bubbles: true }));
        return;
      }
      for (const i of box.querySelectorAll("input")) {
        const on = values.includes(i.value);
        if (i.checked !== on) {
          i.checked = on;
          i.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    }, { dom: q.dom, text: q.text, values });
    this.answers[q.id] = q.text ? values[0] : values;
  }

  async answerByTap(q, profile) {
    const page = this.page;
    const touch = page.context()._options?.hasTouch;
    if (q.text) {
      const text = profile.text ?? TEXT_ANSWERS[await this.lang()];
      const field = page.locator(`${byId(q.dom)} textarea`);
      if (touch) await field.tap();
      else await field.click();
      await field.fill("");
      await page.keyboard.insertText(text);
      this.answers[q.id] = text;
      return;
    }
    const values = pickOption(q, profile);
    for (const v of values) {
      const opt = q.options.find((o) => o.value === v);
      const label = page.locator(`label[for="${opt.id}"]`);
      if (touch) await label.tap();
      else await label.click();
      check(await page.locator(byId(opt.id)).isChecked(), `${q.id}=${v} not checked after tapping its label`);
    }
    this.answers[q.id] = values;
  }

  /** Tab until the focus is inside question `q`, then answer it with
   *  Space / arrow keys / typing only. */
  async answerByKeyboard(q, profile) {
    const page = this.page;
    const inside = () => page.evaluate((dom) => !!document.activeElement?.closest(`#${CSS.escape(dom)}`), q.dom);
    for (let i = 0; i < 60 && !(await inside()); i++) await page.keyboard.press("Tab");
    check(await inside(), `Tab never reached question ${q.id}`);
    if (q.text) {
      const text = profile.text ?? TEXT_ANSWERS[await this.lang()];
      await page.keyboard.insertText(text);
      this.answers[q.id] = text;
      return;
    }
    const values = pickOption(q, profile);
    if (q.multi) {
      // Checkboxes: one Tab stop each; Space toggles.
      for (const v of values) {
        const idx = q.options.findIndex((o) => o.value === v);
        for (let i = 0; i < q.options.length + 1; i++) {
          const at = await page.evaluate(() => document.activeElement?.id);
          if (at === q.options[idx].id) break;
          await page.keyboard.press(at && q.options.findIndex((o) => o.id === at) > idx ? "Shift+Tab" : "Tab");
        }
        await page.keyboard.press("Space");
      }
    } else {
      // A radio group is one Tab stop; Space checks the focused radio and
      // the arrow keys move the choice.
      const target = q.options.findIndex((o) => o.value === values[0]);
      await page.keyboard.press("Space");
      for (let i = 0; i < q.options.length + 1; i++) {
        const at = await page.evaluate(() => document.activeElement?.id);
        const idx = q.options.findIndex((o) => o.id === at);
        if (idx === target) break;
        await page.keyboard.press(idx < target ? "ArrowDown" : "ArrowUp");
      }
    }
    for (const v of values) {
      const opt = q.options.find((o) => o.value === v);
      check(await page.locator(byId(opt.id)).isChecked(), `keyboard: ${q.id}=${v} not checked`);
    }
    this.answers[q.id] = values;
  }

  async hasContinue() {
    return (await this.page.locator(SEL.continue).count()) > 0;
  }

  async hasBack() {
    return (await this.page.locator(SEL.back).count()) > 0;
  }

  async isReviewPage() {
    return (await this.page.locator(SEL.review).count()) > 0;
  }

  async press(selector, how = "tap") {
    const button = this.page.locator(selector).first();
    await Promise.all([
      this.page.waitForNavigation({ waitUntil: "load" }),
      how === "keyboard"
        ? this.tabTo(selector).then(() => this.page.keyboard.press("Enter"))
        : how === "tap" && this.page.context()._options?.hasTouch
          ? button.tap()
          : button.click(),
    ]);
    this.pagesSeen++;
  }

  /** Presses Tab until `selector` has the focus (keyboard alone, no focus()). */
  async tabTo(selector) {
    const focused = () => this.page.evaluate((sel) => !!document.activeElement?.matches(sel), selector);
    for (let i = 0; i < 400 && !(await focused()); i++) await this.page.keyboard.press("Tab");
    check(await focused(), `Tab never reached ${selector}`);
  }

  async continue(how) {
    await this.press(SEL.continue, how);
  }

  async back(how) {
    await this.press(SEL.back, how);
  }

  async submit(how) {
    await this.press(SEL.submit, how);
  }

  async switchLanguage(lang) {
    await this.press(SEL.langButton(lang), "click");
  }

  async onThanksPage() {
    return (await this.page.locator(SEL.thanks).count()) > 0 && new URL(this.page.url()).pathname.endsWith("/thanks");
  }

  /** The review page's rows: question (with its number) and the answers shown. */
  async reviewRows() {
    return this.page.$$eval(".review-list__row", (rows) =>
      rows.map((r) => ({
        question: r.querySelector("dt").textContent.trim(),
        answers: [...r.querySelectorAll(".review-list__value")].map((v) => v.textContent.trim()),
        missing: !!r.querySelector(".review-list__missing"),
      })),
    );
  }

  /** The counter's figures, read with the page's own template. */
  async counter() {
    return this.page.evaluate((sel) => {
      const form = document.querySelector(sel.form);
      const t = document.querySelector(sel.progressText);
      const template = form && form.getAttribute("data-progress-template");
      if (!t || !template || !t.textContent) return null;
      const esc = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      const order = [...template.matchAll(/\{(answered|total)\}/g)].map((m) => m[1]);
      const m = t.textContent.match(new RegExp("^" + esc.replace(/\{(answered|total)\}/g, "(\\d+)") + "$"));
      if (!m) return { text: t.textContent };
      const out = { text: t.textContent };
      order.forEach((k, i) => (out[k] = Number(m[i + 1])));
      return out;
    }, { form: SEL.form, progressText: SEL.progressText });
  }

  /** The question numbers shown on this page, in order. */
  async numbers() {
    return this.page.$$eval(SEL.question, (qs) =>
      qs.filter((q) => !q.hidden && q.offsetParent !== null).map((q) => Number((q.querySelector(".question__number")?.textContent || "").replace(/\D/g, ""))),
    );
  }

  async errorSummary() {
    const s = this.page.locator(SEL.errorSummary);
    if (!(await s.count())) return null;
    const box = await s.boundingBox();
    return {
      height: Math.round(box.height),
      entries: await this.page.locator(`${SEL.errorSummary} li`).count(),
      links: await this.page.locator(SEL.errorLinks).evaluateAll((as) => as.map((a) => a.getAttribute("href"))),
    };
  }

  /** Walks pages until there is no Continue button: answers each page with
   *  `strategy`, continues, and finally submits (through the review page
   *  when there is one). Returns the number of question pages. */
  async completeSurvey(strategy = "tap", profile = {}, how = strategy === "keyboard" ? "keyboard" : "tap") {
    let pages = 0;
    for (let guard = 0; guard < 40; guard++) {
      pages++;
      if (profile.beforeAnswer) await profile.beforeAnswer(this, pages);
      await this.answerCurrentPage(strategy, profile);
      if (profile.onPage) await profile.onPage(this, pages);
      if (await this.hasContinue()) {
        await this.continue(how);
        const errors = await this.errorSummary();
        check(!errors, `page ${pages} refused after answering it: ${JSON.stringify(errors)}`);
        if (await this.isReviewPage()) break;
        continue;
      }
      break;
    }
    check(await this.isReviewPage(), `the last section's Continue did not lead to the review page: ${this.page.url()}`);
    if (profile.onReview) await profile.onReview(this);
    await this.submit(how);
    const errors = await this.errorSummary();
    check(!errors, `submit refused: ${errors && (await this.page.locator(SEL.errorSummary).innerText())}`);
    check(await this.onThanksPage(), `not on the thank-you page after submitting: ${this.page.url()}`);
    return pages;
  }
}

/** The stored response whose answers include `marker` (a unique text
 *  answer) — or the newest one. */
export function storedResponse(marker) {
  const all = exportedResponses();
  const hit = marker ? all.filter((r) => JSON.stringify(r).includes(marker)) : all.slice(-1);
  check(hit.length === 1, `expected one stored response with ${marker}, found ${hit.length} (of ${all.length})`);
  return hit[0];
}

/** Checks every answer the scripted resident gave against the stored response. */
export function checkStored(response, answers) {
  const stored = response.answers || response;
  for (const [id, want] of Object.entries(answers)) {
    let got = stored[id];
    if (got && typeof got === "object" && !Array.isArray(got)) got = got.value ?? got.values ?? got.text;
    const norm = (x) => (Array.isArray(x) ? x.map(String).sort() : typeof x === "number" ? [String(x)] : typeof x === "string" && Array.isArray(want) ? [x] : x);
    eq(norm(got), norm(want), `stored answer to ${id}`);
  }
}

// ---------------------------------------------------------------------------
// Bytes over the wire

/** Records every request of the page through CDP (cache off, so each load
 *  is cold): `weigh(action)` runs the action and returns the bytes received
 *  (headers and gzip-encoded bodies, as the server sent them) and the URLs. */
export async function wireMeter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  let requests = new Map();
  cdp.on("Network.requestWillBeSent", (e) => requests.set(e.requestId, { url: e.request.url, bytes: 0, done: false }));
  cdp.on("Network.loadingFinished", (e) => {
    const r = requests.get(e.requestId);
    if (r) Object.assign(r, { bytes: e.encodedDataLength, done: true });
  });
  cdp.on("Network.loadingFailed", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.done = true;
  });
  return {
    cdp,
    async weigh(action) {
      requests = new Map();
      await action();
      await page.waitForLoadState("load");
      for (let i = 0; i < 50 && [...requests.values()].some((r) => !r.done); i++) await page.waitForTimeout(20);
      const list = [...requests.values()].filter((r) => !r.url.startsWith("data:"));
      return { bytes: list.reduce((a, r) => a + r.bytes, 0), urls: list.map((r) => r.url), requests: list };
    },
  };
}

// Script and markup payloads in every text a designer writes (title, intro,
// thanks, sections, questions, help, errors, options, scale labels,
// dimensions, rating ends, a scale's name; zh, en and ko) and in every text
// a resident or a statistician types (text answers, an import batch's
// name, the helpline, a sign-in name, query parameters), rendered on every
// page that shows them: the resident's pages, the designer's pages, the
// admin's audit and fieldwork pages, the dashboard, the report, the
// letters, and the downloads (SVG charts, tables, the export archive, the
// definition file). On each page: no dialog opens, `window.__xss` stays
// unset after load and after hovering, tabbing and opening every
// <details>, no CSP violation is reported, the DOM holds no element or
// attribute a payload would add, and every tagged text that shows is the
// exact text written (see xss-survey.mjs). The key pages are seen again
// with the CSP switched off (bypassCSP), where only escaping protects.
// tests/browser.rs creates the staff accounts; the survey is pasted on the
// designer's page and published there, then waves, a frame, invitations
// and two imported waves are added with the CLI.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateRawSync } from "node:zlib";
import { Failure, SEL, byId, check, cli, env, launch, metric, newPage, signIn, submitLogin } from "../lib.mjs";
import { ACTIVE, BAD_IDS, LANGS, MARKUP, PAYLOADS, SCALE_NAME, hostileDefinition, residentAnswer } from "../xss-survey.mjs";

const SLUG = "xss";
const BAD_SLUG = "xss-ids";
const LATER_SLUG = "xss-later";
const CLOSED_SLUG = "xss-closed";
const { toml: DEFINITION, texts: TEXTS } = hostileDefinition(SLUG);
const { toml: BAD_DEFINITION } = hostileDefinition(BAD_SLUG, { ids: BAD_IDS });

/** Texts typed by residents and staff, tagged like the designer's. */
let extraTags = 0;
function extraText(field, make = residentAnswer) {
  const tag = `A${++extraTags}:`;
  const text = make(tag);
  TEXTS.set(tag, { text, field, lang: null });
  return text;
}
/** A text a designer types in zh, en and ko on a page (tags `E1zh:` …). */
let typedTags = 0;
function typedText(field) {
  const n = ++typedTags;
  return Object.fromEntries(
    LANGS.map((lang, i) => {
      const tag = `E${n}${lang}:`;
      const text = `${tag} ${ACTIVE[(n + i * 4) % ACTIVE.length]} ${MARKUP[(n + i * 3) % MARKUP.length]}`;
      TEXTS.set(tag, { text, field, lang });
      return [lang, text];
    }),
  );
}
const HELPLINE = extraText("helpline", (tag) => `${tag} 12345 <img src=x onerror=window.__xss=1>`);
const BATCH_NAMES = [0, 1].map(() => extraText("batch name", (tag) => `${tag} <svg onload=window.__xss=1>`));

const YEAR = new Date().getUTCFullYear();
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

let browser;
const work = mkdtempSync(join(tmpdir(), "civicpulse-xss-"));
export async function close() {
  if (browser) await browser.close();
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Checking a page

let loads = 0;

/** A browser context with the listeners the checks read; `csp: false`
 *  switches the Content-Security-Policy off, so only escaping protects. */
async function open({ user = null, lang = "en", csp = true, device = "desktop" } = {}) {
  const { context, page } = await newPage(browser, device, { bypassCSP: !csp });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}: ${e.sample}`),
    );
  });
  page.dialogs = [];
  page.on("dialog", (d) => {
    page.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.csp = csp;
  if (user) await signIn(page, user, lang);
  return { context, page };
}

/** Runs in the page: every element or attribute a payload would add, and
 *  each tagged text as it reads (whitespace left out: charts wrap lines). */
function domFindings(skip) {
  const problems = [];
  const root = document.documentElement;
  const inline = (el) => (el.textContent || "").trim();
  for (const el of root.querySelectorAll("*")) {
    const tag = el.localName.toLowerCase();
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on")) problems.push(`<${tag} ${name}="${a.value}">`);
      if (name === "srcdoc") problems.push(`<${tag} srcdoc>`);
      if (/^(href|src|action|formaction|xlink:href|data)$/.test(name) && /^\s*(javascript|data:text\/html)/i.test(a.value))
        problems.push(`<${tag} ${name}="${a.value}">`);
    }
    if (["iframe", "frame", "object", "embed", "base", "foreignobject"].includes(tag)) problems.push(`a <${tag}> element`);
    if (tag === "script" && (inline(el) || !/^\/static\//.test(el.getAttribute("src") || "")))
      problems.push(`a script: ${el.outerHTML.slice(0, 120)}`);
    if (tag === "style" && (el.closest("body") || /display:\s*none|__xss/.test(el.textContent)))
      problems.push(`a style element: ${el.outerHTML.slice(0, 120)}`);
    if (tag === "img" && el.getAttribute("src") === "x") problems.push(`<img src=x>`);
    if (tag === "meta" && el.getAttribute("http-equiv")) problems.push(`<meta http-equiv>`);
    if (tag === "b" && /bold/.test(el.textContent)) problems.push(`a <b> from a payload`);
  }
  const body = document.body;
  if (body && getComputedStyle(body).display === "none") problems.push("the body is hidden (display: none)");
  // Every text node but script/style and the pasted TOML (a definition
  // file, whose strings are TOML-escaped).
  let text = "";
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (p && p.closest(skip)) continue;
    text += n.data;
  }
  return { problems, text: text.replace(/\s+/g, "") };
}

const TAG_RE = /(?:[XE]\d+(?:zh|en|ko)|A\d+):/g;
const compact = (s) => s.replace(/\s+/g, "");

/** Each tag in `text` followed by anything but its exact text. */
function misrendered(text) {
  const wrong = [];
  const found = new Set();
  for (const m of text.matchAll(TAG_RE)) {
    const entry = TEXTS.get(m[0]);
    if (!entry) continue;
    found.add(m[0]);
    const want = compact(entry.text).slice(m[0].length);
    const got = text.slice(m.index + m[0].length, m.index + m[0].length + want.length);
    if (got !== want) wrong.push(`${entry.field}${entry.lang ? ` (${entry.lang})` : ""}: shows "${got}" for "${want}"`);
  }
  return { wrong, found };
}

/** The tags of `fields` in `lang`. */
function tagsOf(fields, lang) {
  const out = [];
  for (const [tag, e] of TEXTS) if (fields.includes(e.field) && (e.lang === lang || e.lang === null)) out.push(tag);
  check(out.length > 0 || fields.length === 0, `no text is tagged as ${fields.join(", ")}`);
  return out;
}

/** What a payload waiting for an event would need: every <details>
 *  opened, every element sent pointer and focus events and focused if it
 *  can be, then the real mouse moved across the window and Tab pressed. */
async function interact(page) {
  await page.evaluate(() => {
    document.querySelectorAll("details").forEach((d) => (d.open = true));
    for (const el of document.documentElement.querySelectorAll("*")) {
      for (const type of ["pointerover", "mouseover", "mouseenter", "focusin"])
        el.dispatchEvent(new Event(type, { bubbles: type !== "mouseenter" }));
      if (el.tabIndex >= 0 && typeof el.focus === "function") el.focus({ preventScroll: true });
    }
    document.activeElement?.blur?.();
  });
  const { width, height } = page.viewportSize();
  for (let i = 0; i < 8; i++) await page.mouse.move(((i % 4) + 0.5) * (width / 4), (Math.floor(i / 4) + 0.5) * (height / 2));
  for (let i = 0; i < 4; i++) await page.keyboard.press("Tab");
  await page.waitForTimeout(30);
}

/** All the checks on the page as it is now; `expect` lists fields (or
 *  literal texts) that must show as text. Returns the tags seen. */
async function verify(page, label, { lang = null, expect = [], literal = [], interactive = true } = {}) {
  if (interactive) await interact(page);
  const where = `${label}${page.csp ? "" : " (CSP off)"}`;
  const problems = [];
  if (page.dialogs.length) problems.push(`dialogs opened: ${page.dialogs.join("; ")}`);
  for (const frame of page.frames()) {
    const state = await frame.evaluate(() => ({ xss: window.__xss, csp: window.__cspViolations || [] })).catch(() => null);
    if (!state) continue;
    if (state.xss !== undefined) problems.push(`window.__xss was set in ${frame.url()}`);
    if (state.csp.length) problems.push(`CSP violations: ${state.csp.join("; ")}`);
  }
  const { problems: dom, text } = await page.evaluate(domFindings, 'script, style, textarea[name="definition"]');
  problems.push(...dom);
  const { wrong, found } = misrendered(text);
  problems.push(...wrong);
  for (const tag of tagsOf(expect, lang)) if (!found.has(tag)) problems.push(`${TEXTS.get(tag).field} (${lang}) is not shown as text`);
  for (const s of literal) if (!text.includes(compact(s))) problems.push(`"${s}" is not shown as text`);
  if (page.problems?.length) problems.push(...page.problems.splice(0));
  const shown = [...new Set(problems)];
  const more = shown.length > 30 ? [`… and ${shown.length - 30} more`] : [];
  check(problems.length === 0, `${where}:\n  ${[...shown.slice(0, 30), ...more].join("\n  ")}`);
  metric("page", { page: where, texts: found.size });
  return found;
}

/** GET `path`, check the status, then `verify`. */
async function visit(page, path, label, opts = {}) {
  const response = await page.goto(`${env.base}${path}`);
  loads++;
  const want = opts.status === undefined ? 200 : opts.status;
  check(want === null || response.status() === want, `${label}: GET ${path} answered ${response.status()}, expected ${want}`);
  return verify(page, label, opts);
}

/** Opens a file (a download or a CLI output) in a context without any CSP,
 *  as a browser shows a saved file, and checks it like a page. */
async function openFile(path, label, opts = {}) {
  const { context, page } = await open();
  try {
    await page.goto(pathToFileURL(path).href);
    loads++;
    return await verify(page, label, opts);
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------
// Preparation: the designer pastes the survey, then the CLI adds the data

function csvCell(v) {
  const s = String(v ?? "");
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Interview data of one wave: three strata of 24 respondents, every
 *  fourth with a text answer carrying the payloads. */
function interviews(wave) {
  const head = ["_id", "_stratum", "_weight", "district", "kind", "services", "q_night", "q_green", "q_visitor", "q_choice", "q_rating", "comments"];
  const rows = [head.join(",")];
  let i = 0;
  for (const district of ["north", "south", "east"]) {
    for (let k = 0; k < 24; k++) {
      i++;
      const h = (i * 7 + wave) % 11;
      const visitor = i % 3 === 0;
      rows.push(
        [
          `r${i}`,
          district,
          100 + (i % 5) * 10,
          district,
          visitor ? "visitor" : "local",
          ["bus", "park", "library", "bus;park"][i % 4],
          String(1 + (h % 5)),
          i % 9 === 0 ? "dk" : String(1 + ((h + 2) % 5)),
          visitor ? String(1 + ((h + 1) % 5)) : "",
          ["good", "bad", "good", "dk"][i % 4],
          String(h % 11),
          i % 4 === 0 ? extraText(`interview answer ${wave}`) : "",
        ]
          .map(csvCell)
          .join(","),
      );
    }
  }
  return rows.join("\n") + "\n";
}

async function postDefinition(page, label, definition, { status }) {
  await page.fill('textarea[name="definition"]', definition);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.request().isNavigationRequest()),
    page.locator('textarea[name="definition"]').locator("xpath=ancestor::form").locator('button[type="submit"]').click(),
  ]);
  await page.waitForLoadState("load");
  loads++;
  check(response.status() === status, `${label}: answered ${response.status()}, expected ${status}`);
}

let ready;
/** Waits for the preparation; a scenario after a failed one says so in a line. */
const prepared = () =>
  ready.catch(() => {
    throw new Failure("the preparation failed (the first scenario says why)");
  });
let letterFiles = [];

async function prepare() {
  const { context, page } = await open({ user: "dana", lang: "en" });
  try {
    // A definition whose slug is a payload: refused, the message names it,
    // and the pasted text comes back as text in the box.
    await visit(page, "/admin/surveys?lang=en", "survey list before");
    const badSlug = DEFINITION.replace(`slug = "${SLUG}"`, `slug = "x<script>window.__xss=1</script>"`);
    await postDefinition(page, "a payload as the slug", badSlug, { status: 422 });
    await verify(page, "refused slug", { literal: ["x<script>window.__xss=1</script>"] });
    const kept = await page.inputValue('textarea[name="definition"]');
    check(kept === badSlug, "the refused definition does not come back unchanged in its box");

    // The hostile survey, pasted and published on the designer's pages.
    await visit(page, "/admin/surveys?lang=en", "survey list");
    await postDefinition(page, "pasting the hostile survey", DEFINITION, { status: 303 });
    check(new URL(page.url()).pathname === `/admin/surveys/${SLUG}`, `after pasting: ${page.url()}`);
    await verify(page, "survey page with the new draft");
    await Promise.all([page.waitForNavigation(), page.locator(`form[action="/admin/surveys/${SLUG}/publish"] button`).click()]);
    loads++;
    check(/published=/.test(page.url()), `publishing: ${page.url()} (${await page.locator(".staff-problems").allInnerTexts()})`);
    await verify(page, "survey page after publishing", { lang: "en", expect: ["title"] });

    // Payloads as ids: stored as a draft (a draft need not be valid yet),
    // refused at publication with a message that names each one.
    await visit(page, "/admin/surveys?lang=en", "survey list");
    await postDefinition(page, "pasting ids with payloads", BAD_DEFINITION, { status: 303 });
    await Promise.all([page.waitForNavigation(), page.locator(`form[action="/admin/surveys/${BAD_SLUG}/publish"] button`).click()]);
    loads++;
    const refusal = (await page.locator(".staff-problems").allInnerTexts()).join("\n");
    for (const [kind, id] of Object.entries(BAD_IDS)) {
      const named = kind === "option" ? `"${id}" is not a valid option value` : `"${id.replace(/"/g, '\\"')}" is not a valid id`;
      check(refusal.includes(named), `publishing ids with payloads: the refusal does not say ${named}:\n${refusal}`);
    }
    await verify(page, "refused publication of payload ids", { literal: [BAD_IDS.section] });
  } finally {
    await context.close();
  }

  // Fieldwork and data, as a statistician prepares them.
  cli(["wave", "set", SLUG, "--wave", String(YEAR), "--access", "both", "--opens", day(-1), "--closes", day(30), "--helpline", HELPLINE]);
  const frame = join(work, "frame.csv");
  writeFileSync(frame, "stratum,population\nnorth,5000\nsouth,4000\neast,3000\n");
  cli(["frame", "set", SLUG, frame, "--wave", String(YEAR)]);
  const letters = join(work, "letters");
  mkdirSync(letters);
  cli(["invitations", "create", SLUG, "--wave", String(YEAR), "--stratum", "north", "--count", "2", "--lang", "all", "--out-dir", letters]);
  letterFiles = readdirSync(letters).filter((f) => f.endsWith(".html")).map((f) => join(letters, f));
  check(letterFiles.length === 1, `invitations create wrote ${letterFiles.length} letters files`);
  for (const [i, wave] of [YEAR - 1, YEAR].entries()) {
    const file = join(work, `interviews-${wave}.csv`);
    writeFileSync(file, interviews(wave));
    cli(["import", SLUG, file, "--wave", String(wave), "--name", BATCH_NAMES[i]]);
  }

  // The same survey not open yet and closed, for the pages that say so.
  for (const [slug, opens, closes] of [[LATER_SLUG, day(10), day(40)], [CLOSED_SLUG, day(-20), day(-2)]]) {
    const file = join(work, `${slug}.toml`);
    writeFileSync(file, hostileDefinition(slug).toml);
    cli(["survey", "import", file, "--publish", "--opens", opens, "--closes", closes]);
  }

  // A draft again (a copy of the published version), edited on the
  // structure page (an option with typed payloads; a payload as an option
  // value, refused) and saved unchanged on the translations page.
  const d = await open({ user: "dana", lang: "en" });
  try {
    await visit(d.page, `/admin/surveys/${SLUG}?lang=en`, "survey page, published");
    await Promise.all([d.page.waitForNavigation(), d.page.locator(`form[action="/admin/surveys/${SLUG}/import"] input[name="from_published"] ~ button`).click()]);
    loads++;
    check(/imported=/.test(d.page.url()), `a new draft: ${d.page.url()}`);
    const structure = `/admin/surveys/${SLUG}/structure?lang=en`;
    const addOption = async (value, labels) => {
      await visit(d.page, structure, "structure before an edit", { interactive: false });
      const form = d.page.locator('#q-kind form:has(input[name="op"][value="add_option"])');
      await form.locator('input[name="value"]').fill(value);
      for (const lang of LANGS) await form.locator(`input[name="label_${lang}"]`).fill(labels[lang]);
      await Promise.all([d.page.waitForNavigation(), form.locator('button[type="submit"]').click()]);
      loads++;
    };
    await addOption("guest", typedText("kind option guest"));
    await verify(d.page, "structure after adding an option", { lang: "en", expect: ["kind option guest", "kind text"] });
    const badValue = `g"><svg onload=window.__xss=1>`;
    await addOption(badValue, typedText("refused option"));
    const refused = (await d.page.locator(".staff-problems").allInnerTexts()).join(" ");
    check(refused.includes(JSON.stringify(badValue)), `a payload as an option value: the refusal does not name it: ${refused}`);
    await verify(d.page, "structure refusing a payload as an option value", { literal: [JSON.stringify(badValue)] });
    await visit(d.page, `/admin/surveys/${SLUG}/translations?lang=en`, "translations before saving", { interactive: false });
    await Promise.all([d.page.waitForNavigation(), d.page.locator('form[action$="/translations"] button[type="submit"]').click()]);
    loads++;
    await verify(d.page, "translations saved unchanged", {
      lang: "ko",
      expect: [...new Set([...TEXTS.values()].filter((e) => e.lang && e.field !== "refused option").map((e) => e.field))],
    });
  } finally {
    await d.context.close();
  }
}

// ---------------------------------------------------------------------------
// Scenarios

const FORM_PAGES = [
  {
    expect: ["title", "intro", "section about title", "section about description", "district text", "district help",
      "district option north", "district option south", "district option east", "kind text", "kind option local",
      "kind option visitor", "services text", "services help", "services option bus", "services option park", "services option library"],
  },
  {
    expect: ["title", "section ratings title", "section ratings description", "q_night text", "q_night help",
      ...[1, 2, 3, 4, 5].map((i) => `scale label ${i}`), "scale dont_know", "scale not_applicable", "q_green text",
      "q_visitor text", "q_choice text", "q_choice option good", "q_choice option bad", "q_choice option dk",
      "q_rating text", "q_rating low_label", "q_rating high_label"],
  },
  { expect: ["title", "section final title", "comments text", "comments help"] },
];

/** Picks answers on the page shown: `visitor` (so the conditional question
 *  shows), two services, the second option elsewhere; types `text`. */
async function answerPage(page, text) {
  const questions = await page.$$eval(SEL.question, (qs) =>
    qs.filter((q) => !q.hidden && q.offsetParent !== null).map((q) => ({ id: q.dataset.question, dom: q.id, text: !!q.querySelector("textarea") })),
  );
  for (const q of questions) {
    if (q.text) {
      await page.fill(`${byId(q.dom)} textarea`, text);
      continue;
    }
    await page.evaluate(
      ({ dom, id }) => {
        const inputs = [...document.getElementById(dom).querySelectorAll("input")];
        const want = id === "kind" ? ["visitor"] : id === "services" ? ["bus", "park"] : [inputs[1].value];
        for (const i of inputs) i.checked = want.includes(i.value);
        inputs[0].dispatchEvent(new Event("change", { bubbles: true }));
      },
      q,
    );
  }
}

async function press(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.locator(selector).first().click()]);
  loads++;
}

/** A resident in `lang`: the start page, an empty first page refused, every
 *  section page, the review page, the thanks page. */
async function resident(lang, csp) {
  await prepared();
  const { context, page } = await open({ lang, csp });
  try {
    const answer = extraText(`resident answer ${lang}${csp ? "" : " (CSP off)"}`);
    await visit(page, `/s/${SLUG}?lang=${lang}`, `start page ${lang}`, { lang, expect: ["title", "intro"] });
    await press(page, SEL.openLink);
    await verify(page, `form page 1 ${lang}`, { lang, expect: FORM_PAGES[0].expect });
    await press(page, SEL.continue);
    await verify(page, `form page 1 refused ${lang}`, { lang, expect: ["district required_error", "district text"] });
    for (let p = 0; p < FORM_PAGES.length; p++) {
      if (p > 0) await verify(page, `form page ${p + 1} ${lang}`, { lang, expect: FORM_PAGES[p].expect });
      await answerPage(page, answer);
      await press(page, SEL.continue);
    }
    check(await page.locator(SEL.review).count(), `${lang}: not on the review page: ${page.url()}`);
    await verify(page, `review page ${lang}`, {
      lang,
      expect: ["title", "section about title", "district text", "kind option visitor", "services option bus", "q_visitor text", "comments text"],
      literal: [answer],
    });
    // Back to the last page: the typed answer is back in its box, as text.
    await press(page, `${SEL.reviewChange} >> nth=-1`);
    check((await page.inputValue("textarea")) === answer, `${lang}: the text answer did not come back unchanged`);
    await verify(page, `form page 3 again ${lang}`, { lang, literal: [answer] });
    await press(page, SEL.continue);
    await press(page, SEL.submit);
    check(new URL(page.url()).pathname.endsWith("/thanks"), `${lang}: not thanked: ${page.url()}`);
    await verify(page, `thanks page ${lang}`, { lang, expect: ["title", "thanks"] });
    await visit(page, `/s/${SLUG}/resume?lang=${lang}`, `resume page ${lang}`, { lang });
    await visit(page, `/?lang=${lang}`, `home page ${lang}`, { lang, expect: ["title"] });
    await visit(page, `/s/${LATER_SLUG}?lang=${lang}`, `not open yet ${lang}`, { lang, status: null });
    await visit(page, `/s/${CLOSED_SLUG}?lang=${lang}`, `closed ${lang}`, { lang, status: null });
    // Half-way through a second time: "continue where you left off" and
    // the page that clears the saved answers.
    await page.goto(`${env.base}/s/${SLUG}?lang=${lang}&open=1`);
    await answerPage(page, answer);
    await press(page, SEL.continue);
    await visit(page, `/s/${SLUG}?lang=${lang}`, `continue where you left off ${lang}`, { lang, expect: ["title"] });
    await press(page, SEL.startAgain);
    await verify(page, `clear saved answers ${lang}`, { lang });
  } finally {
    await context.close();
  }
}

/** The designer's pages (and the admin's) in `lang`. */
async function staffPages(user, lang, csp) {
  await prepared();
  const { context, page } = await open({ user, lang, csp });
  try {
    const q = `?lang=${lang}`;
    await visit(page, `/admin${q}`, `staff home ${lang}`);
    await visit(page, `/admin/surveys${q}`, `survey list ${lang}`, { lang, expect: ["title"] });
    await visit(page, `/admin/surveys/${SLUG}${q}`, `survey page ${lang}`, { lang, expect: ["title", "section about title"] });
    await visit(page, `/admin/surveys/${SLUG}/translations${q}`, `translations ${lang}`, {
      expect: [...new Set([...TEXTS.values()].filter((e) => e.lang && e.field !== "refused option").map((e) => e.field))],
      lang: "zh",
    });
    await verify(page, `translations ${lang}, English texts`, { lang: "en", expect: ["title", "q_rating high_label"], interactive: false });
    await visit(page, `/admin/surveys/${SLUG}/structure${q}`, `structure ${lang}`, {
      lang,
      expect: ["section about title", "district text", "district option north", "comments text"],
      literal: [SCALE_NAME],
    });
    for (const draft of ["", "&draft=1"]) {
      await visit(page, `/admin/surveys/${SLUG}/preview${q}${draft}`, `preview${draft} ${lang}`, {
        lang,
        expect: [...FORM_PAGES[0].expect, ...FORM_PAGES[1].expect, ...FORM_PAGES[2].expect].filter((f) => f !== "q_visitor text"),
      });
    }
    await visit(page, `/admin/surveys/${SLUG}/fieldwork${q}`, `fieldwork ${lang}`, { lang, expect: ["district option north"] });
    // The survey whose ids are payloads: its draft on every page.
    await visit(page, `/admin/surveys/${BAD_SLUG}${q}`, `payload ids: survey page ${lang}`);
    await visit(page, `/admin/surveys/${BAD_SLUG}/structure${q}`, `payload ids: structure ${lang}`, {
      lang,
      expect: ["district text"],
      literal: [BAD_IDS.section, BAD_IDS.question, BAD_IDS.option],
    });
    await visit(page, `/admin/surveys/${BAD_SLUG}/translations${q}`, `payload ids: translations ${lang}`, { lang, expect: ["title"] });
    const preview = await page.goto(`${env.base}/admin/surveys/${BAD_SLUG}/preview${q}&draft=1`);
    loads++;
    await verify(page, `payload ids: preview (${preview.status()}) ${lang}`, { literal: [BAD_IDS.dimension] });
    if (user === "ada") {
      await visit(page, `/admin/audit${q}`, `audit ${lang}`, { literal: [BATCH_NAMES[0]] });
      await visit(page, `/admin/surveys/${SLUG}/fieldwork${q}`, `fieldwork as admin ${lang}`, { lang, expect: ["district option north"] });
      check((await page.inputValue("#helpline")) === HELPLINE, "the helpline does not come back unchanged in its field");
      const href = await page.locator("tr[data-batch] a[href*='/letters']").first().getAttribute("href");
      await visit(page, href, `letters page ${lang}`, { lang, expect: ["title"] });
    }
  } finally {
    await context.close();
  }
}

/** The dashboard, grouped by district and by the visitor question, and the
 *  yearly report, in `lang`. */
async function dashboard(lang, csp) {
  await prepared();
  const { context, page } = await open({ user: "ada", lang, csp });
  try {
    const fields = ["title", "dimension d_one", "dimension d_two", "dimension d_extra", "q_night text", "q_rating text"];
    await visit(page, `/dashboard/${SLUG}?lang=${lang}`, `dashboard ${lang}`, {
      lang,
      expect: [...fields, "district option north", "district option south", "district option east", "district text"],
    });
    const charts = await page.locator(".dash-chart svg").count();
    check(charts >= 5, `dashboard ${lang}: ${charts} charts`);
    await visit(page, `/dashboard/${SLUG}?lang=${lang}&wave=${YEAR}&by=kind`, `dashboard by kind ${lang}`, {
      lang,
      expect: [...fields, "kind option local", "kind option visitor"],
    });
    await visit(page, `/dashboard/${SLUG}/report?wave=${YEAR}&lang=${lang}`, `report ${lang}`, { lang, expect: fields });
  } finally {
    await context.close();
  }
}

/** What a sign-in name, an invitation or resume code and the query string
 *  bring back into a page. */
async function reflected(csp) {
  await prepared();
  const payload = `"><img src=x onerror=window.__xss=1><script>window.__xss=1</script>`;
  const { context, page } = await open({ csp });
  try {
    await page.goto(`${env.base}/login?lang=en`);
    await page.fill('input[name="username"]', payload);
    await page.fill('input[name="password"]', "not the password");
    await submitLogin(page);
    loads++;
    await verify(page, "sign-in refused with a payload as the name");
    await page.goto(`${env.base}/s/${SLUG}?lang=en`);
    await page.fill(SEL.codeInput, payload);
    await Promise.all([page.waitForNavigation(), page.locator(`${SEL.startForm} button[type="submit"]`).click()]);
    loads++;
    await verify(page, "start page with a payload as the code", { lang: "en", expect: ["title"] });
    await page.goto(`${env.base}/s/${SLUG}/resume?lang=en`);
    await page.fill(SEL.resumeInput, payload);
    await Promise.all([page.waitForNavigation(), page.locator(`form:has(${SEL.resumeInput}) button[type="submit"]`).click()]);
    loads++;
    await verify(page, "resume page with a payload as the code");
    const q = encodeURIComponent(payload);
    for (const path of [`/s/${SLUG}?lang=${q}`, `/s/${SLUG}?lang=en&open=${q}`, `/s/${q}?lang=en`, `/privacy?lang=${q}`, `/?lang=${q}`]) {
      const r = await page.goto(`${env.base}${path}`);
      loads++;
      await verify(page, `GET ${path} (${r.status()})`);
    }
  } finally {
    await context.close();
  }
  const admin = await open({ user: "ada", csp });
  try {
    const q = encodeURIComponent(payload);
    for (const path of [
      `/dashboard/${SLUG}?lang=en&by=${q}`,
      `/dashboard/${SLUG}?lang=en&wave=${q}`,
      `/dashboard/${SLUG}?lang=en&source=${q}`,
      `/dashboard/${SLUG}?lang=en&level=${q}`,
      `/dashboard/${SLUG}/report?lang=en&wave=${YEAR}&by=${q}`,
      `/admin/surveys/${SLUG}/fieldwork?lang=en&wave=${q}`,
      `/admin/surveys/${q}?lang=en`,
      `/dashboard/${q}?lang=en`,
    ]) {
      const r = await admin.page.goto(`${env.base}${path}`);
      loads++;
      await verify(admin.page, `GET ${path} (${r.status()})`);
    }
  } finally {
    await admin.context.close();
  }
}

/** A minimal zip reader (stored and deflated entries). */
function unzip(buf) {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  check(end >= 0, "not a zip archive");
  const files = {};
  let p = buf.readUInt32LE(end + 16);
  for (let i = 0; i < buf.readUInt16LE(end + 10); i++) {
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    const local = buf.readUInt32LE(p + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    files[name] = method === 0 ? data : inflateRawSync(data);
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return files;
}

/** RFC 4180 CSV into rows of cells. */
function parseCsv(text) {
  const rows = [[]];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") rows[rows.length - 1].push(cell), (cell = "");
    else if (c === "\n") rows[rows.length - 1].push(cell.replace(/\r$/, "")), rows.push([]), (cell = "");
    else cell += c;
  }
  if (cell || rows[rows.length - 1].length) rows[rows.length - 1].push(cell);
  return rows.filter((r) => r.length > 1 || r[0]);
}

/** A download: fetched with the page's session; never served as HTML. */
async function download(page, path, label) {
  const r = await page.request.get(`${env.base}${path}`);
  check(r.status() === 200, `${label}: GET ${path} answered ${r.status()}`);
  const type = r.headers()["content-type"] || "";
  check(!/html/i.test(type), `${label} is served as ${type}`);
  check(r.headers()["x-content-type-options"] === "nosniff", `${label} is served without nosniff`);
  return { body: await r.body(), type, disposition: r.headers()["content-disposition"] || "" };
}

/** Every tagged text in a plain-text export is written as it was typed. */
function verbatim(text, label, tags) {
  const missing = tags.filter((t) => !text.includes(TEXTS.get(t).text));
  check(missing.length === 0, `${label} lacks, verbatim: ${missing.slice(0, 5).map((t) => TEXTS.get(t).text).join(" | ")}`);
}

/** XML (an Excel sheet) parsed in the browser: well formed, and its texts
 *  are the exact texts. */
async function checkXml(page, xml, label) {
  const result = await page.evaluate((xml) => {
    const doc = new DOMParser().parseFromString(xml, "application/xml");
    if (doc.querySelector("parsererror")) return { error: doc.querySelector("parsererror").textContent };
    return { text: doc.documentElement.textContent.replace(/\s+/g, ""), scripts: doc.getElementsByTagName("script").length };
  }, xml);
  check(!result.error, `${label} is not well-formed XML: ${result.error}`);
  check(result.scripts === 0, `${label} holds a script element`);
  const { wrong, found } = misrendered(result.text);
  check(wrong.length === 0, `${label}:\n  ${wrong.join("\n  ")}`);
  return found;
}

async function downloads() {
  await prepared();
  const { context, page } = await open({ user: "ada" });
  try {
    const dashboardQuery = `wave=${YEAR}&lang=en`;
    await visit(page, `/dashboard/${SLUG}?${dashboardQuery}`, "dashboard for its downloads", { lang: "en", interactive: false });
    const links = await page.$$eval(".dash-downloads a", (as) => as.map((a) => a.getAttribute("href")));
    check(links.length >= 20, `${links.length} chart and table downloads`);
    let svgs = 0;
    let tableTags = new Set();
    for (const href of links) {
      const ext = new URL(href, env.base).pathname.split(".").pop();
      // A PNG is pixels: no text, nothing to run (and slow to draw in a debug build).
      if (ext === "png") continue;
      const file = await download(page, href, href);
      check(/attachment/.test(file.disposition), `${href} is not an attachment: ${file.disposition}`);
      if (ext === "svg") {
        const path = join(work, `chart-${svgs++}.svg`);
        writeFileSync(path, file.body);
        await openFile(path, `downloaded chart ${href}`);
      } else if (ext === "csv") {
        const text = file.body.toString("utf8");
        for (const [tag] of TEXTS) if (text.includes(tag)) tableTags.add(tag);
        const cells = parseCsv(text.replace(/^\uFEFF/, "")).flat();
        const { wrong } = misrendered(compact(cells.join(" ")));
        check(wrong.length === 0, `${href}:\n  ${wrong.join("\n  ")}`);
      } else if (ext === "xlsx") {
        const parts = unzip(file.body);
        for (const [name, data] of Object.entries(parts)) {
          if (name.endsWith(".xml")) for (const t of await checkXml(page, data.toString("utf8"), `${href} ${name}`)) tableTags.add(t);
        }
      }
    }
    check(svgs >= 5, `${svgs} SVG charts downloaded`);
    check(tableTags.size >= 5, `the downloaded tables show ${tableTags.size} tagged texts`);

    // The export archive: CSVs with the residents' answers, the codebook
    // with every label, the scripts; all text, none of it HTML.
    const zip = await download(page, `/dashboard/${SLUG}/export.zip?${dashboardQuery}`, "export archive");
    const files = unzip(zip.body);
    for (const name of ["responses.csv", "responses-labelled.csv", "codebook.json", "codebook.md", "load.R", "load.do"])
      check(files[name], `the export archive lacks ${name}: ${Object.keys(files)}`);
    const answers = [...TEXTS].filter(([, e]) => e.field === `interview answer ${YEAR}`).map(([t]) => t);
    const cells = new Set(parseCsv(files["responses.csv"].toString("utf8").replace(/^\uFEFF/, "")).flat());
    for (const tag of answers) check(cells.has(TEXTS.get(tag).text), `responses.csv lacks the answer ${tag} as typed`);
    const labelled = parseCsv(files["responses-labelled.csv"].toString("utf8").replace(/^\uFEFF/, "")).flat().join(" ");
    check(misrendered(compact(labelled)).wrong.length === 0, "responses-labelled.csv changes a label");
    verbatim(labelled, "responses-labelled.csv", tagsOf(["district option north", "kind option visitor"], "en"));
    const designer = [...TEXTS].filter(([, e]) => e.lang && e.field !== "thanks" && e.field !== "intro").map(([t]) => t);
    const book = JSON.stringify(JSON.parse(files["codebook.json"].toString("utf8")));
    const inBook = designer.filter((t) => book.includes(JSON.stringify(TEXTS.get(t).text).slice(1, -1)));
    const md = files["codebook.md"].toString("utf8");
    check(inBook.length >= 60, `codebook.json holds ${inBook.length} of the designer's texts verbatim`);
    for (const lang of LANGS) {
      const need = tagsOf(["q_night text", "comments text", "district option north", "scale label 1", "q_choice option dk"], lang);
      const lacking = need.filter((t) => !inBook.includes(t));
      check(lacking.length === 0, `codebook.json lacks, verbatim: ${lacking.map((t) => TEXTS.get(t).field)} (${lang})`);
      verbatim(md, "codebook.md", need);
    }
    metric("codebook", { json_texts: inBook.length, md_texts: designer.filter((t) => md.includes(TEXTS.get(t).text)).length });

    // The definition file (as stored: TOML, every text in it) and the
    // invitation codes.
    const def = await download(page, `/admin/surveys/${SLUG}/export?version=1`, "definition download");
    check(/attachment/.test(def.disposition), `the definition is not an attachment: ${def.disposition}`);
    const stored = def.body.toString("utf8");
    const untagged = [...TEXTS].filter(([t, e]) => e.lang && t.startsWith("X") && !stored.includes(t)).map(([t]) => t);
    check(untagged.length === 0, `the definition download lacks ${untagged.slice(0, 5)}`);
    await page.goto(`${env.base}/admin/surveys/${SLUG}/fieldwork?lang=en`);
    const csvHref = await page.locator("tr[data-batch] a[href$='codes.csv']").first().getAttribute("href");
    await download(page, csvHref, "invitation codes");

    // Saved pages, opened as files with no CSP at all: the served report
    // and letters, the CLI's report and letters.
    for (const [path, name] of [
      [`/dashboard/${SLUG}/report?wave=${YEAR}&lang=ko`, "report-served.html"],
      [await page.locator("tr[data-batch] a[href*='/letters']").first().getAttribute("href"), "letters-served.html"],
    ]) {
      const r = await page.request.get(`${env.base}${path}`);
      const file = join(work, name);
      writeFileSync(file, await r.body());
      await openFile(file, `saved ${name}`, { lang: name.startsWith("report") ? "ko" : null, expect: name.startsWith("report") ? ["title", "dimension d_one"] : [] });
    }
    for (const lang of LANGS) {
      const out = join(work, `report-cli-${lang}.html`);
      cli(["report", SLUG, "--wave", String(YEAR), "--lang", lang, "--out", out]);
      await openFile(out, `civicpulse report --lang ${lang}`, { lang, expect: ["title", "dimension d_one", "dimension d_two", "q_night text"] });
    }
    for (const file of letterFiles) await openFile(file, "civicpulse invitations create: letters", { lang: "zh", expect: ["title"] });
  } finally {
    await context.close();
  }
}

export async function scenarios() {
  browser = await launch();
  let started = Date.now();
  ready = prepare();
  ready.catch(() => {});
  const list = [["a designer pastes and publishes the hostile survey; ids with payloads are refused", () => ready]];
  for (const lang of LANGS) list.push([`resident pages, ${lang}`, () => resident(lang, true)]);
  list.push([`resident pages without CSP, en`, () => resident("en", false)]);
  for (const lang of LANGS) list.push([`designer pages, ${lang}`, () => staffPages("dana", lang, true)]);
  list.push([`admin pages without CSP, ko`, () => staffPages("ada", "ko", false)]);
  list.push([`admin pages, zh`, () => staffPages("ada", "zh", true)]);
  for (const lang of LANGS) list.push([`dashboard and report, ${lang}`, () => dashboard(lang, true)]);
  list.push([`dashboard and report without CSP, zh`, () => dashboard("zh", false)]);
  list.push([`reflected input`, () => reflected(true)]);
  list.push([`reflected input without CSP`, () => reflected(false)]);
  list.push([`downloads and saved files`, () => downloads()]);
  list.push([
    "page loads",
    async () => {
      metric("xss", { loads, payloads: PAYLOADS.length, texts: TEXTS.size, seconds: Math.round((Date.now() - started) / 1000) });
    },
    { serial: true },
  ]);
  return list;
}

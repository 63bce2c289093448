// Entry point of the browser suites: `node run.mjs SUITE` with BASE_URL
// and the other variables tests/browser.rs sets (see README, "Browser
// tests"). BROWSER_ONLY=REGEX runs only the scenarios whose names match.
import { runScenarios } from "./lib.mjs";

const suites = {
  resident: "./scenarios/resident.mjs",
  resume: "./scenarios/resume.mjs",
  a11y: "./scenarios/a11y.mjs",
  staff: "./scenarios/staff.mjs",
  "large-text": "./scenarios/large-text.mjs",
  weight: "./scenarios/weight.mjs",
  dashboard: "./scenarios/dashboard.mjs",
  xss: "./scenarios/xss.mjs",
};

const name = process.argv[2];
if (!suites[name]) {
  console.error(`usage: node run.mjs ${Object.keys(suites).join("|")}`);
  process.exit(2);
}
const timeout = Number(process.env.SUITE_TIMEOUT_MS || 240000);
setTimeout(() => {
  console.log(`@@fail suite ${name}: still running after ${timeout / 1000} s, stopped`);
  process.exit(3);
}, timeout).unref();

const { scenarios, close } = await import(suites[name]);
const list = await scenarios();
await runScenarios(list, close);

// The hostile survey of the xss suite (scenarios/xss.mjs): every text a
// designer writes, in zh, en and ko, and every text a resident types,
// carries payloads that would run script or add markup if any page, chart
// or export put it into HTML unescaped.
//
// Each text is `TAG PAYLOAD PAYLOAD`, with a tag unique to the field and
// language (`X17en:`), so a page can be read back: wherever a tag shows,
// the exact payloads must follow it as text (see `misrendered` in
// scenarios/xss.mjs).

export const LANGS = ["zh", "en", "ko"];

/** Payloads that run script if a page puts them into HTML unescaped:
 *  each sets `window.__xss` (or its parent's, from a frame). */
export const ACTIVE = [
  `<script>window.__xss=1</script>`,
  `"><img src=x onerror="window.__xss=1">`,
  `'><svg onload=window.__xss=1>`,
  `</textarea><script>window.__xss=1</script>`,
  `<iframe srcdoc="<script>parent.__xss=1</script>">`,
  `{"k":"</script><script>window.__xss=1</script>"}`,
  `<input autofocus onfocus=window.__xss=1>`,
  `<details open ontoggle=window.__xss=1>`,
  `</title><script>window.__xss=1</script>`,
  `]]></text><script>window.__xss=1</script><![CDATA[`,
];

/** Payloads that would add markup, a link, a style or a template
 *  expansion, or that a careless escaper mangles. */
export const MARKUP = [
  `javascript:window.__xss=1`,
  `{{7*7}} {{{x}}} {{> layout}}`,
  `<a href="javascript:alert(1)">x</a>`,
  "`${alert(1)}`",
  `<style>body{display:none}</style>`,
  `line\u2028sep\u2029end`,
  `&lt;b&gt;not bold&amp;`,
  `<b>bold</b><!--`,
];

export const PAYLOADS = [...ACTIVE, ...MARKUP];

/** A resident's text answer: its tag, then every payload. */
export function residentAnswer(tag) {
  return `${tag} ${PAYLOADS.join(" ")}`;
}

/** A scale name (a TOML key, which the format does not restrict) with a payload. */
export const SCALE_NAME = `sat"><img src=x onerror=window.__xss=1>`;

/** Ids and option values that the format refuses, for the refused-draft check. */
export const BAD_IDS = {
  section: `about<script>window.__xss=1</script>`,
  question: `q"><svg onload=window.__xss=1>`,
  dimension: `dim<img src=x onerror=window.__xss=1>`,
  option: `o<b>x</b>`,
};

const toml = (s) => JSON.stringify(s); // a JSON string is a TOML basic string

/** Builds the definition. `texts` maps each tag to its full text. */
export function hostileDefinition(slug, { ids = null } = {}) {
  const texts = new Map();
  let n = 0;
  // Two payloads per text, one of each list, turning through the lists so
  // that each lands in many kinds of field and in every language.
  const loc = (field) => {
    n++;
    const parts = LANGS.map((lang, i) => {
      const tag = `X${n}${lang}:`;
      const text = `${tag} ${ACTIVE[(n + i * 3) % ACTIVE.length]} ${MARKUP[(n + i * 5) % MARKUP.length]}`;
      texts.set(tag, { text, field, lang });
      return `${lang} = ${toml(text)}`;
    });
    return `{ ${parts.join(", ")} }`;
  };
  const id = (kind, plain) => (ids && ids[kind] ? ids[kind] : plain);
  const scale = SCALE_NAME;
  const option = (value, field, extra = "") => `  { value = ${toml(value)}, label = ${loc(field)}${extra} },`;
  const lines = [
    `# A hostile survey: every text carries a script or markup payload (tests/browser/xss-survey.mjs).`,
    `slug = ${toml(slug)}`,
    `version = 1`,
    `title = ${loc("title")}`,
    `intro = ${loc("intro")}`,
    `thanks = ${loc("thanks")}`,
    ``,
    `[scales.${toml(scale)}]`,
    `labels = [`,
    ...[1, 2, 3, 4, 5].map((i) => `  ${loc(`scale label ${i}`)},`),
    `]`,
    `dont_know = ${loc("scale dont_know")}`,
    `not_applicable = ${loc("scale not_applicable")}`,
    ``,
    `[[dimensions]]`,
    `id = ${toml(id("dimension", "d_one"))}`,
    `weight = 0.6`,
    `title = ${loc("dimension d_one")}`,
    ``,
    `[[dimensions]]`,
    `id = "d_two"`,
    `weight = 0.4`,
    `title = ${loc("dimension d_two")}`,
    ``,
    `[[dimensions]]`,
    `id = "d_extra"`,
    `weight = 1`,
    `in_overall = false`,
    `title = ${loc("dimension d_extra")}`,
    ``,
    `[[sections]]`,
    `id = ${toml(id("section", "about"))}`,
    `title = ${loc("section about title")}`,
    `description = ${loc("section about description")}`,
    ``,
    `[[sections.questions]]`,
    `id = "district"`,
    `type = "single_choice"`,
    `required = true`,
    `text = ${loc("district text")}`,
    `help = ${loc("district help")}`,
    `required_error = ${loc("district required_error")}`,
    `options = [`,
    option(id("option", "north"), "district option north"),
    option("south", "district option south"),
    option("east", "district option east"),
    `]`,
    ``,
    `[[sections.questions]]`,
    `id = "kind"`,
    `type = "single_choice"`,
    `text = ${loc("kind text")}`,
    `options = [`,
    option("local", "kind option local"),
    option("visitor", "kind option visitor"),
    `]`,
    ``,
    `[[sections.questions]]`,
    `id = "services"`,
    `type = "multi_choice"`,
    `max_choices = 2`,
    `text = ${loc("services text")}`,
    `help = ${loc("services help")}`,
    `options = [`,
    option("bus", "services option bus"),
    option("park", "services option park"),
    option("library", "services option library"),
    `]`,
    ``,
    `[[sections]]`,
    `id = "ratings"`,
    `title = ${loc("section ratings title")}`,
    `description = ${loc("section ratings description")}`,
    ``,
    `[[sections.questions]]`,
    `id = ${toml(id("question", "q_night"))}`,
    `type = "likert"`,
    `scale = ${toml(scale)}`,
    `not_applicable = true`,
    `required = true`,
    `dimension = ${toml(id("dimension", "d_one"))}`,
    `text = ${loc("q_night text")}`,
    `help = ${loc("q_night help")}`,
    `required_error = ${loc("q_night required_error")}`,
    ``,
    `[[sections.questions]]`,
    `id = "q_green"`,
    `type = "likert"`,
    `scale = ${toml(scale)}`,
    `dimension = "d_two"`,
    `text = ${loc("q_green text")}`,
    ``,
    `[[sections.questions]]`,
    `id = "q_visitor"`,
    `type = "likert"`,
    `scale = ${toml(scale)}`,
    `dimension = "d_extra"`,
    `show_if = { question = "kind", equals = "visitor" }`,
    `text = ${loc("q_visitor text")}`,
    ``,
    `[[sections.questions]]`,
    `id = "q_choice"`,
    `type = "single_choice"`,
    `dimension = "d_two"`,
    `text = ${loc("q_choice text")}`,
    `options = [`,
    option("good", "q_choice option good", ", score = 100"),
    option("bad", "q_choice option bad", ", score = 0"),
    option("dk", "q_choice option dk", `, missing = "dont_know"`),
    `]`,
    ``,
    `[[sections.questions]]`,
    `id = "q_rating"`,
    `type = "rating"`,
    `dimension = "d_one"`,
    `text = ${loc("q_rating text")}`,
    `low_label = ${loc("q_rating low_label")}`,
    `high_label = ${loc("q_rating high_label")}`,
    ``,
    `[[sections]]`,
    `id = "final"`,
    `title = ${loc("section final title")}`,
    ``,
    `[[sections.questions]]`,
    `id = "comments"`,
    `type = "text"`,
    `max_length = 2000`,
    `text = ${loc("comments text")}`,
    `help = ${loc("comments help")}`,
    ``,
  ];
  return { toml: lines.join("\n"), texts };
}

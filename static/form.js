/* civicpulse survey form: progressive enhancement only. Without this script
   every question of the page is shown and the server checks everything. */
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form || !form.querySelectorAll || !Array.prototype.some) return;
  var each = function (list, fn) { return Array.prototype.some.call(list, fn); };
  var data = function (name) { return form.getAttribute("data-" + name) || ""; };
  var questions = form.querySelectorAll("[data-question]");
  var later = form.querySelectorAll("[data-later-question]");
  var box = document.getElementById("form-progress");
  var text = document.getElementById("form-progress-text");
  var bar = box && box.querySelector("progress");
  var template = data("progress-template");
  var start = +data("number-start") || 0;
  var otherTotal = +data("other-total") || 0;
  var otherDone = +data("other-done") || 0;
  var shown = "";

  // The first page is opened as /s/{slug}; once answers are saved that
  // address offers "continue where you left off". Naming the page in the
  // address makes the browser's Back from page 2 land on page 1 itself.
  var step = form.querySelector('input[name="_page"]');
  if (step && form.method === "post" && window.history && history.replaceState &&
      !/[?&]page=/.test(location.search)) {
    history.replaceState(history.state, "", location.pathname + (location.search ? location.search + "&" : "?") +
      "page=" + encodeURIComponent(step.value) + location.hash);
  }

  // Unsaved answers of this page, kept in the browser until the server has
  // them (a reload or a closed tab loses nothing). Keyed by survey, resume
  // code and page; an older copy than the server's last save is ignored.
  var slug = data("slug");
  var prefix = "cp:" + slug + ":";
  var key = slug && data("page") ? prefix + (data("resume") || "new") + ":" + data("page") : "";
  var store = null;
  try { store = window.localStorage; } catch (e) { store = null; }

  function clearStored() {
    if (!store || !slug) return;
    for (var i = store.length - 1; i >= 0; i--) {
      var k = store.key(i);
      if (k && k.indexOf(prefix) === 0) store.removeItem(k);
    }
  }

  function answerFields() {
    return form.querySelectorAll("input[name]:not([type=hidden]), textarea[name]");
  }

  function snapshot() {
    if (!store || !key) return;
    var values = {};
    each(answerFields(), function (el) {
      if (el.name.charAt(0) === "_") return;
      if (!values[el.name]) values[el.name] = [];
      if (el.type === "radio" || el.type === "checkbox") { if (el.checked) values[el.name].push(el.value); }
      else if (el.value !== "") values[el.name].push(el.value);
    });
    try { store.setItem(key, JSON.stringify({ t: Date.now(), v: values })); } catch (e) { /* full or denied */ }
  }

  function restore() {
    if (!store || !key) return;
    var saved;
    try { saved = JSON.parse(store.getItem(key) || "null"); } catch (e) { saved = null; }
    if (!saved || !saved.v || saved.t <= (+data("saved-at") || 0) * 1000) return;
    each(answerFields(), function (el) {
      var vals = saved.v[el.name];
      if (!vals || el.name.charAt(0) === "_") return;
      if (el.type === "radio" || el.type === "checkbox") el.checked = vals.indexOf(el.value) >= 0;
      else el.value = vals[0] || "";
    });
  }

  function fields(q) { return q.querySelectorAll("input, textarea"); }

  function answered(q) {
    return each(fields(q), function (el) {
      return !el.disabled && (el.type === "radio" || el.type === "checkbox" ? el.checked : el.value.trim() !== "");
    });
  }

  function chosen(name, values) {
    var want = (values || "").split(/\s+/);
    return each(form.querySelectorAll('[name="' + name + '"]'), function (el) {
      return el.checked && !el.disabled && want.indexOf(el.value) >= 0;
    });
  }

  // Skip logic on this page: questions come in survey order and depend only
  // on earlier ones, so one pass settles chains too. Hidden inputs are
  // disabled so they are not sent. Asked questions are numbered in order,
  // continuing from the pages before. A question whose condition was
  // answered on an earlier page is left as the server rendered it: the
  // server has already applied that answer, and it is not in this form.
  function onPage(name) { return !!form.querySelector('[name="' + name + '"]'); }
  function update() {
    var total = otherTotal, done = otherDone, n = start;
    each(questions, function (q) {
      var on = q.getAttribute("data-show-if-question");
      if (on && onPage(on)) {
        var show = chosen(on, q.getAttribute("data-show-if-values"));
        if (show === q.hidden) {
          q.hidden = !show;
          each(fields(q), function (el) { el.disabled = !show; });
        }
      }
      if (!q.hidden) {
        total++;
        n++;
        var num = q.querySelector(".question__number");
        if (num) num.textContent = n + ".";
        if (answered(q)) done++;
      }
    });
    each(later, function (l) {
      if (chosen(l.getAttribute("data-later-question"), l.getAttribute("data-later-values"))) {
        total++;
        if (l.getAttribute("data-later-answered") === "1") done++;
      }
    });
    if (box && text && template) {
      var msg = template.replace("{answered}", done).replace("{total}", total);
      if (msg !== shown) {
        shown = msg;
        text.textContent = msg; // aria-live="polite"
        if (bar) { bar.max = total || 1; bar.value = done; }
      }
    }
  }

  if (document.querySelector("[data-cleared]")) clearStored();
  restore();
  update();
  if (box && template) box.hidden = false;
  form.addEventListener("change", function () { update(); snapshot(); });
  form.addEventListener("input", function () { update(); snapshot(); });

  // Double taps: ignore further submits for a few seconds. The button is not
  // disabled, as that would drop the clicked button's value (_go, _switch_lang).
  var busy = false;
  var buttons = document.querySelectorAll('button[type="submit"]');
  function release() {
    busy = false;
    each(buttons, function (b) { b.removeAttribute("aria-disabled"); });
  }
  form.addEventListener("submit", function (e) {
    if (busy) { e.preventDefault(); return; }
    busy = true;
    if (e.submitter && e.submitter.value === "submit" && e.submitter.name === "_go") clearStored();
    each(buttons, function (b) { if (b.form === form) b.setAttribute("aria-disabled", "true"); });
    setTimeout(release, 5000);
  });
  // Back and forward may show this page from the browser's memory: the
  // answers there are right, but the counter and skip logic must follow.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { release(); restore(); update(); }
  });

  // A link from the review page's error summary opens this page at a
  // question (#q-...): the focus goes to its first field, as the page's own
  // summary links do. After load, as the browser's own scroll to the
  // fragment would take the focus away again.
  var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (target && target.hasAttribute("data-question") && form.contains(target)
      && !document.querySelector(".error-summary")) {
    window.addEventListener("load", function () {
      var first = !target.hidden && target.querySelector("input:not([disabled]), textarea:not([disabled])");
      if (first) { target.scrollIntoView(); first.focus({ preventScroll: true }); }
    });
  }

  // Error summary: focus it where the autofocus attribute only works on form
  // fields, and make its links land on the question's first field.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    if (!("autofocus" in HTMLElement.prototype)) summary.focus();
    summary.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest('a[href^="#"]');
      var q = a && document.getElementById(a.getAttribute("href").slice(1));
      var field = q && q.querySelector("input:not([disabled]), textarea:not([disabled])");
      if (!field) return;
      e.preventDefault();
      q.scrollIntoView();
      field.focus({ preventScroll: true });
    });
  }
})();

/* civicpulse survey form: progressive enhancement only. Without this script
   every question is shown and the server validates everything. */
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form || !form.querySelectorAll || !Array.prototype.some) return;
  var each = function (list, fn) { return Array.prototype.some.call(list, fn); };
  var questions = form.querySelectorAll("[data-question]");
  var box = document.getElementById("form-progress");
  var text = document.getElementById("form-progress-text");
  var bar = box && box.querySelector("progress");
  var template = form.getAttribute("data-progress-template") || "";
  var shown = "";

  function fields(q) { return q.querySelectorAll("input, textarea"); }

  function answered(q) {
    return each(fields(q), function (el) {
      return !el.disabled && (el.type === "radio" || el.type === "checkbox" ? el.checked : el.value.trim() !== "");
    });
  }

  // Skip logic: questions come in survey order and depend only on earlier
  // ones, so one pass settles chains too. Hidden inputs are disabled so
  // they are not sent.
  function update() {
    var total = 0, done = 0;
    each(questions, function (q) {
      var on = q.getAttribute("data-show-if-question");
      if (on) {
        var want = (q.getAttribute("data-show-if-values") || "").split(/\s+/);
        var show = each(form.querySelectorAll('[name="' + on + '"]'), function (el) {
          return el.checked && !el.disabled && want.indexOf(el.value) >= 0;
        });
        if (show === q.hidden) {
          q.hidden = !show;
          each(fields(q), function (el) { el.disabled = !show; });
        }
      }
      if (!q.hidden) {
        total++;
        if (answered(q)) done++;
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

  update();
  if (box && template) box.hidden = false;
  form.addEventListener("change", update);
  form.addEventListener("input", update);

  // Double taps: ignore further submits for a few seconds. The button is not
  // disabled, as that would drop the clicked button's value (_switch_lang).
  var busy = false;
  var buttons = document.querySelectorAll('button[type="submit"]');
  function release() {
    busy = false;
    each(buttons, function (b) { b.removeAttribute("aria-disabled"); });
  }
  form.addEventListener("submit", function (e) {
    if (busy) { e.preventDefault(); return; }
    busy = true;
    each(buttons, function (b) { if (b.form === form) b.setAttribute("aria-disabled", "true"); });
    setTimeout(release, 5000);
  });
  window.addEventListener("pageshow", function (e) { if (e.persisted) release(); });

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

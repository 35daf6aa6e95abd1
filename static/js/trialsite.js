// Behaviour every page may use, without inline script or style (the Content-Security-Policy
// allows neither):
//   data-autosubmit   on a select: submit its form when the choice changes
//   data-width="40"   on an element: its width in percent (progress bars)
//   data-confirm="…"  on a form: ask this question before submitting it
//   data-scale        on the radio buttons of a scale item (WOMAC 0-4): typing an answer's
//                     number chooses it and moves to the next item
//   data-show-when="serious=yes"  on a conditional question: shown while the form's item
//                     `serious` has the value "yes", or while the question holds an answer
//   form.crf-form, form[data-guard]: the browser warns before leaving the page with changes not
//                     saved (and, with data-unsaved, with values a save just refused)
(function () {
  function answered(el) {
    return Array.prototype.some.call(el.querySelectorAll("input, select, textarea"), function (i) {
      if (i.type === "checkbox" || i.type === "radio") return i.checked;
      return i.value !== "";
    });
  }
  function showConditional(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var rule = el.dataset.showWhen.split("="), form = el.closest("form");
      var chosen = form && form.querySelector('[name="' + rule[0] + '"]:checked, select[name="' + rule[0] + '"]');
      el.hidden = !((chosen && chosen.value === rule[1]) || answered(el));
    });
  }
  function apply(root) {
    showConditional(root);
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = el.dataset.width + "%";
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
    if (event.target.form) showConditional(event.target.form);
  });
  function focusable(form) {
    return Array.prototype.filter.call(
      form.querySelectorAll("input, select, textarea, button"),
      function (el) { return !el.disabled && el.type !== "hidden" && el.offsetParent !== null; }
    );
  }
  document.addEventListener("keydown", function (event) {
    var radio = event.target;
    if (!radio.matches || !radio.matches("input[type=radio][data-scale]")) return;
    if (event.altKey || event.ctrlKey || event.metaKey || !/^[0-9]$/.test(event.key)) return;
    var group = radio.form.querySelectorAll('input[type=radio][name="' + radio.name + '"]');
    var answer = Array.prototype.find.call(group, function (r) { return r.value === event.key; });
    if (!answer) return;
    event.preventDefault();
    answer.checked = true;
    answer.dispatchEvent(new Event("change", { bubbles: true }));
    var all = focusable(radio.form);
    var after = all.slice(all.indexOf(group[group.length - 1]) + 1)[0];
    if (after && after.type === "radio") {
      var next = radio.form.querySelectorAll('input[type=radio][name="' + after.name + '"]');
      after = Array.prototype.find.call(next, function (r) { return r.checked; }) || after;
    }
    if (after) after.focus();
  });
  var GUARDED = "form.crf-form, form[data-guard]";
  var saving = false;
  function state(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }
  function unsaved(form) {
    return form.hasAttribute("data-unsaved") || state(form) !== form.dataset.savedState;
  }
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (event.target.matches(GUARDED)) saving = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (saving) return;
    var forms = document.querySelectorAll(GUARDED);
    for (var i = 0; i < forms.length; i++) {
      if (unsaved(forms[i])) {
        event.preventDefault();
        event.returnValue = "";
        return;
      }
    }
  });
  window.addEventListener("pageshow", function () { saving = false; });
  document.addEventListener("DOMContentLoaded", function () {
    apply(document);
    document.querySelectorAll(GUARDED).forEach(function (form) {
      form.dataset.savedState = state(form);
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) { apply(event.target); });
})();

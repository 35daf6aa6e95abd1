// Behaviour every page may use, without inline script or style (the Content-Security-Policy
// allows neither):
//   data-autosubmit   on a select: submit its form when the choice changes
//   data-width="40"   on an element: its width in percent (progress bars)
//   data-confirm="…"  on a form: ask this question before submitting it
//   form.crf-form, form[data-guard]: the browser warns before leaving the page with changes not
//                     saved (and, with data-unsaved, with values a save just refused)
(function () {
  function apply(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = el.dataset.width + "%";
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
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

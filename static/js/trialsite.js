// Behaviour every page may use, without inline script or style (the Content-Security-Policy
// allows neither):
//   data-autosubmit   on a select: submit its form when the choice changes
//   data-width="40"   on an element: its width in percent (progress bars)
(function () {
  function apply(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = el.dataset.width + "%";
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });
  document.addEventListener("DOMContentLoaded", function () { apply(document); });
  document.addEventListener("htmx:afterSwap", function (event) { apply(event.target); });
})();

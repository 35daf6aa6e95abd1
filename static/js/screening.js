// Screening page: ask about pregnancy only for female candidates, and the cause of
// secondary OA only when there is one. The server applies the same rules.
(function () {
  function radioValue(name) {
    const checked = document.querySelector(`input[name="${name}"]:checked`);
    return checked ? checked.value : null;
  }
  function toggle() {
    const rules = [
      ["pregnant_or_breastfeeding", radioValue("sex") === "F"],
      ["secondary_oa_cause", radioValue("secondary_oa") === "yes"],
    ];
    for (const [name, show] of rules) {
      const wrapper = document.getElementById(`div_id_${name}`);
      if (wrapper) wrapper.hidden = !show;
    }
  }
  document.addEventListener("change", toggle);
  document.addEventListener("DOMContentLoaded", toggle);
})();

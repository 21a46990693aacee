// Hookline dashboard: copy buttons, and keeping opened rows open while the
// Log History refreshes itself. Everything else works without script
// (htmx adds in-place updates); no inline script is allowed by the CSP.
document.addEventListener("click", function (e) {
  var b = e.target.closest("button.copy");
  if (!b) return;
  var el = document.getElementById(b.dataset.copy);
  if (!el) return;
  var text = el.value !== undefined ? el.value : el.textContent;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { b.textContent = "Copied"; }, function () {});
  } else if (el.select) {
    el.select();
    b.textContent = "Selected: press Ctrl+C";
  }
});

// A live refresh replaces the whole log, details included, so that a row's
// payload, attempts and Redeliver button are as current as its summary.
// The rows (and attempts) the user opened are noted just before the swap
// and opened again right after it, in the same task, before any paint.
var openBeforeSwap = null;
document.addEventListener("htmx:beforeSwap", function (e) {
  var t = e.detail.target;
  if (!t || t.id !== "log") return;
  openBeforeSwap = [];
  t.querySelectorAll("details[open][id]").forEach(function (d) { openBeforeSwap.push(d.id); });
});
document.addEventListener("htmx:afterSwap", function () {
  if (!openBeforeSwap) return;
  var ids = openBeforeSwap;
  openBeforeSwap = null;
  ids.forEach(function (id) {
    var d = document.getElementById(id);
    if (d && d.tagName === "DETAILS") d.open = true;
  });
});

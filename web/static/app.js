// Hookline dashboard: copy buttons. Everything else works without script
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

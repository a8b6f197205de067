// Progressive enhancement only: every page works without it. Buttons that change or remove
// something (revoke, remove, void) ask first.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

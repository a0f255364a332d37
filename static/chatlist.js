// Chat list glue: the search box shows results instead of the list while it has text,
// the open chat's row is marked, and a search hit's #msg-<id> is scrolled into view.
(function () {
  "use strict";

  function sidebar() { return document.querySelector(".sidebar"); }

  function syncSearching(input) {
    var side = sidebar();
    if (side) side.classList.toggle("searching", input.value.trim() !== "");
  }

  document.addEventListener("input", function (evt) {
    if (evt.target.matches(".chat-search input")) syncSearching(evt.target);
  });
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    if (evt.key !== "Escape" || !t.matches || !t.matches(".chat-search input")) return;
    t.value = "";
    syncSearching(t);
    var results = document.getElementById("search-results");
    if (results) results.innerHTML = "";
  });

  function markCurrent() {
    var box = document.querySelector(".messages[data-chat]");
    document.querySelectorAll(".chat-row.current").forEach(function (r) { r.classList.remove("current"); });
    if (!box) return;
    var row = document.getElementById("chat-" + box.dataset.chat);
    if (row) row.classList.add("current");
  }
  document.addEventListener("htmx:afterSettle", markCurrent);
  document.addEventListener("coiweb:pushed", markCurrent);

  // Runs after app.js's own DOMContentLoaded (which scrolls to the newest message).
  document.addEventListener("DOMContentLoaded", function () {
    markCurrent();
    var match = /^#msg-(\d+)$/.exec(location.hash);
    var target = match && document.getElementById("msg-" + match[1]);
    if (!target) return;
    var box = document.querySelector(".messages[data-chat]");
    target.scrollIntoView({ block: "center" });
    if (box) {
      box.dataset.hold = "1";
      ["wheel", "touchstart", "keydown", "mousedown"].forEach(function (type) {
        box.addEventListener(type, function () { delete box.dataset.hold; }, { once: true });
      });
    }
    target.classList.add("found");
    setTimeout(function () { target.classList.remove("found"); }, 4000);
  });
})();

// New group: a suggested address is added to the members field on click.
document.addEventListener("click", function (evt) {
  var button = evt.target.closest && evt.target.closest("button.add-member");
  if (!button) return;
  var field = button.form && button.form.querySelector("textarea[name=members]");
  if (!field) return;
  var have = field.value.split(/[\s,;]+/).filter(Boolean);
  if (have.indexOf(button.dataset.address) === -1) have.push(button.dataset.address);
  field.value = have.join("\n");
  field.focus();
});

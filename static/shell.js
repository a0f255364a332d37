// The app shell: theme toggle, keyboard shortcuts, the help sheet, provider hints.
(function () {
  "use strict";

  var root = document.documentElement;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function effectiveTheme() {
    var chosen = root.dataset.theme || "system";
    if (chosen !== "system") return chosen;
    return darkQuery && darkQuery.matches ? "dark" : "light";
  }

  // The quick toggle flips what the person sees now (also when the setting is "system")
  // and stores it; without JavaScript the form posts and the page comes back themed.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id !== "theme-toggle-form") return;
    evt.preventDefault();
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    var body = new FormData(form);
    body.set("theme", next);
    fetch(form.action, { method: "POST", body: body, headers: { "HX-Request": "true" }, credentials: "same-origin" });
    var radio = document.querySelector("input[name=theme][value=" + next + "]");
    if (radio) radio.checked = true;
  });

  // Choosing a theme in Settings shows it at once (saving stores it).
  document.addEventListener("change", function (evt) {
    var t = evt.target;
    if (t.matches && t.matches(".theme-choice input[name=theme]")) root.dataset.theme = t.value;
  });

  function typing(el) {
    if (!el || !el.closest) return false;
    return !!el.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }

  function chatLinks() {
    return Array.from(document.querySelectorAll(".chat-list .chat-row > a")).filter(function (a) {
      return a.offsetParent !== null || a.getClientRects().length > 0;
    });
  }

  function currentChatIndex(links) {
    var box = document.querySelector(".messages[data-chat]");
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".chat-row");
    var id = focused ? focused.id : box ? "chat-" + box.dataset.chat : null;
    for (var i = 0; i < links.length; i++) {
      if (links[i].parentElement.id === id) return i;
    }
    return -1;
  }

  function moveChat(step) {
    var links = chatLinks();
    if (!links.length) return;
    var i = currentChatIndex(links);
    var next = i === -1 ? (step > 0 ? 0 : links.length - 1) : i + step;
    if (next < 0 || next >= links.length) return;
    links[next].click();
  }

  function focusSearch() {
    var search = document.getElementById("chat-search");
    if (!search) return false;
    search.focus();
    if (search.select) search.select();
    return true;
  }

  function replyToFocused() {
    var el = document.activeElement;
    var msg = el && el.closest && el.closest(".msg[data-pk]");
    if (!msg) return false;
    var button = msg.querySelector(".msg-menu-button");
    var menu = document.getElementById("msg-menu");
    if (!button || !menu) return false;
    button.click();  // opens the message menu for this message (static/message-actions.js)
    var reply = menu.querySelector("[data-action=reply]");
    if (!reply || reply.hidden) return false;
    reply.click();
    return true;
  }

  // The help sheet: a modal dialog (the rest of the page is inert while it is open, which
  // traps focus); Escape closes it and focus goes back where it was.
  var returnFocus = null;
  function openHelp() {
    var sheet = document.getElementById("help-sheet");
    if (!sheet || sheet.open) return;
    returnFocus = document.activeElement;
    if (returnFocus && returnFocus.closest) {
      returnFocus.__helpHolder = returnFocus.parentElement && returnFocus.parentElement.closest("[id]");
      returnFocus.__helpSelector = returnFocus.className ? "." + returnFocus.className.trim().split(/\s+/).join(".") : returnFocus.tagName;
    }
    sheet.showModal();
    var close = document.getElementById("help-close");
    if (close) close.focus();
  }
  // A live push may have replaced the focused element meanwhile (a message row is swapped
  // when its tick changes): then focus its replacement, found by the row's stable id.
  function stillThere(el) {
    if (!el || document.contains(el)) return el;
    var holder = el.__helpHolder;
    var fresh = holder && document.getElementById(holder.id);
    return fresh && (fresh.querySelector(el.__helpSelector) || fresh);
  }
  document.addEventListener("close", function (evt) {
    if (evt.target.id !== "help-sheet") return;
    var target = stillThere(returnFocus);
    if (target && target.focus) target.focus();
    returnFocus = null;
  }, true);
  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("#help-open")) openHelp();
    // A click on the backdrop (outside the sheet's box) closes it.
    var sheet = document.getElementById("help-sheet");
    if (sheet && evt.target === sheet) {
      var r = sheet.getBoundingClientRect();
      if (evt.clientX < r.left || evt.clientX > r.right || evt.clientY < r.top || evt.clientY > r.bottom) sheet.close();
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.defaultPrevented || evt.isComposing) return;
    var sheet = document.getElementById("help-sheet");
    if (sheet && sheet.open) {
      // A modal dialog makes the page inert, but Tab could still leave for the browser's
      // own controls: keep it cycling inside the sheet.
      if (evt.key === "Tab") {
        var items = Array.from(sheet.querySelectorAll("button, a[href], input, [tabindex]:not([tabindex='-1'])"));
        if (!items.length) return;
        var at = items.indexOf(document.activeElement);
        var next = evt.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : (at + 1) % items.length;
        evt.preventDefault();
        items[next].focus();
      }
      return;
    }
    var key = evt.key;
    if (evt.altKey && !evt.ctrlKey && !evt.metaKey && (key === "ArrowDown" || key === "ArrowUp")) {
      evt.preventDefault();
      moveChat(key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (evt.ctrlKey && evt.shiftKey && (evt.code === "BracketRight" || evt.code === "BracketLeft")) {
      evt.preventDefault();
      moveChat(evt.code === "BracketRight" ? 1 : -1);
      return;
    }
    if ((evt.ctrlKey || evt.metaKey) && !evt.shiftKey && !evt.altKey && key.toLowerCase() === "k") {
      if (focusSearch()) evt.preventDefault();
      return;
    }
    if (evt.ctrlKey || evt.metaKey || evt.altKey || typing(evt.target)) return;
    if (key === "/") {
      if (focusSearch()) evt.preventDefault();
    } else if (key === "?") {
      evt.preventDefault();
      openHelp();
    } else if (key === "r" || key === "R") {
      if (replyToFocused()) evt.preventDefault();
    }
  });

  // Linking form: a known provider's servers are filled in from the address, unless the
  // person already typed their own.
  function fillProvider() {
    var form = document.getElementById("mailbox-form");
    if (!form) return;
    var email = form.querySelector("input[name=email]").value.trim().toLowerCase();
    var domain = email.split("@")[1] || "";
    var match = null;
    document.querySelectorAll(".providers tr[data-domains]").forEach(function (row) {
      if (row.dataset.domains.split(" ").indexOf(domain) !== -1) match = row;
    });
    var note = document.getElementById("provider-match");
    if (!match) {
      if (note) note.textContent = "";
      return;
    }
    ["imap", "smtp"].forEach(function (kind) {
      var host = form.querySelector("[name=" + kind + "_host]");
      if (host.value && host.dataset.filled !== "1") return;
      host.value = match.dataset[kind + "Host"];
      host.dataset.filled = "1";
      form.querySelector("[name=" + kind + "_port]").value = match.dataset[kind + "Port"];
      form.querySelector("[name=" + kind + "_security]").value = match.dataset[kind + "Security"];
    });
    if (note) {
      note.textContent = match.dataset.name + ": servers filled in." + (match.dataset.note ? " Note: " + match.dataset.note + "." : "");
    }
  }
  document.addEventListener("input", function (evt) {
    if (evt.target.matches && evt.target.matches("#mailbox-form input[name=email]")) fillProvider();
    if (evt.target.matches && evt.target.matches("#mailbox-form [name$=_host]")) evt.target.dataset.filled = "";
  });
})();

// The open chat's row is marked in the list (for the eye and for screen readers).
(function () {
  "use strict";
  function markCurrent() {
    var box = document.querySelector(".messages[data-chat]");
    document.querySelectorAll(".chat-row").forEach(function (row) {
      var current = !!box && row.id === "chat-" + box.dataset.chat;
      row.classList.toggle("current", current);
      var a = row.querySelector(":scope > a");
      if (a) {
        if (current) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", markCurrent);
  document.addEventListener("htmx:afterSettle", markCurrent);
  document.addEventListener("coiweb:pushed", markCurrent);
})();

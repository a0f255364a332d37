// Live page glue: upserts for pushed fragments, refetch after reconnect, composer keys.
(function () {
  "use strict";

  // A chat must come back quickly after a server restart: retry within 0.25–4 s,
  // not the extension's default of up to 64 s.
  htmx.config.wsReconnectDelay = function (retryCount) {
    var cap = Math.min(4000, 250 * Math.pow(2, retryCount));
    return cap / 2 + (Math.random() * cap) / 2;
  };

  // Pushed rows carry hx-swap-oob="outerHTML" and data-upsert-into="<container id>".
  // htmx replaces rows that exist; for new rows we first add an empty placeholder with
  // the same id, so a repeated push replaces instead of duplicating.
  function prepareUpserts(html) {
    if (!html || html.indexOf("data-upsert-into") === -1) return;
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    tpl.content.querySelectorAll("[data-upsert-into]").forEach(function (el) {
      if (!el.id) return;
      var into = el.getAttribute("data-upsert-into");
      var existing = document.getElementById(el.id);
      // A chat row that now belongs in another list (accepted, archived…) leaves this one.
      if (existing && existing.parentElement && existing.parentElement.id !== into) {
        existing.remove();
        existing = null;
      }
      if (existing) return;
      var container = document.getElementById(into);
      if (!container) return;
      var placeholder = document.createElement(el.tagName);
      placeholder.id = el.id;
      var empty = container.querySelector(":scope > .none");
      if (empty) empty.remove();
      container.appendChild(placeholder);
    });
  }

  // Pinned chats first, then by latest activity.
  function sortChatList() {
    document.querySelectorAll(".chat-list").forEach(function (list) {
      var rows = Array.from(list.querySelectorAll(":scope > .chat-row"));
      rows.sort(function (a, b) {
        return (Number(b.dataset.pinned || 0) - Number(a.dataset.pinned || 0)) ||
          (Number(b.dataset.activity || 0) - Number(a.dataset.activity || 0));
      });
      rows.forEach(function (row) { list.appendChild(row); });
    });
  }

  function messagesBox() { return document.querySelector(".messages[data-chat]"); }

  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 120; }

  // Not while the reader is held further up (the unread line, a quote: conversation.js;
  // a search hit: chatlist.js).
  function scrollToEnd() {
    var box = messagesBox();
    if (box && !box.dataset.hold) box.scrollTop = box.scrollHeight;
  }

  function lastMessagePk() {
    var box = messagesBox();
    if (!box) return 0;
    var max = 0;
    box.querySelectorAll(".msg[data-pk]").forEach(function (m) { max = Math.max(max, Number(m.dataset.pk)); });
    return max;
  }

  function updateTitle() {
    // The server counts every unmuted chat (also those beyond the first page of rows).
    var entries = document.getElementById("list-entries");
    if (!entries) return;
    var total = Number(entries.dataset.unread) || 0;
    var base = document.title.replace(/^\(\d+\) /, "");
    document.title = total ? "(" + total + ") " + base : base;
  }

  var stickToEnd = true;

  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var box = messagesBox();
    stickToEnd = !box || nearBottom(box);
    prepareUpserts(evt.detail.message);
  });
  // New incoming messages in the chat on screen are read: tell the server (once per burst).
  var readTimer = null;
  function markOpenChatRead() {
    var box = messagesBox();
    // A contact request's page has no read URL: it stays unread until accepted.
    if (!box || !box.dataset.readUrl || document.visibilityState !== "visible") return;
    var row = document.getElementById("chat-" + box.dataset.chat);
    if (!row || !row.querySelector(".badge")) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      htmx.ajax("POST", box.dataset.readUrl, { swap: "none" });
    }, 300);
  }
  document.addEventListener("visibilitychange", markOpenChatRead);

  document.addEventListener("htmx:wsAfterMessage", function () {
    markOpenChatRead();
    sortChatList();
    updateTitle();
    if (stickToEnd) scrollToEnd();
    document.dispatchEvent(new CustomEvent("coiweb:pushed"));
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    prepareUpserts(evt.detail.serverResponse);
  });
  document.addEventListener("htmx:afterSettle", function () {
    sortChatList();
    updateTitle();
  });

  // Whenever the socket opens (also the first time: pushes may have gone out between
  // rendering the page and connecting), fetch what the page may have missed.
  document.addEventListener("htmx:wsOpen", function () {
    var live = document.getElementById("live");
    var list = document.querySelector(".chat-list[data-list-url]");
    if (list) {
      htmx.ajax("GET", list.dataset.listUrl, { target: "#" + list.id, swap: "none" });
    }
    // New messages by id, and changes to shown ones (ticks, reactions, edits) by time.
    var box = messagesBox();
    if (box) {
      var url = box.dataset.messagesUrl + "?after=" + lastMessagePk() + "&since=" + (box.dataset.since || "");
      htmx.ajax("GET", url, { target: box, swap: "none" }).then(scrollToEnd);
    }
    if (live) live.dataset.state = "open";
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var since = evt.detail.xhr && evt.detail.successful && evt.detail.xhr.getResponseHeader("X-Coiweb-Since");
    var box = messagesBox();
    var path = evt.detail.pathInfo && evt.detail.pathInfo.requestPath;
    if (since && box && path && path.indexOf(box.dataset.messagesUrl) === 0) box.dataset.since = since;
  });
  document.addEventListener("htmx:wsClose", function () {
    var live = document.getElementById("live");
    if (live) live.dataset.state = "closed";
  });

  // Composer: Enter sends, Shift+Enter adds a line.
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    if (t.matches && t.matches(".composer textarea") && evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      if (t.value.trim()) htmx.trigger(t.form, "submit");
    }
  });
  // The composer is cleared as soon as its request has taken the text, so the person can
  // type on; if sending the request fails, the text comes back unless they typed anew.
  var pendingText = null;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    var ta = evt.detail.elt.querySelector("textarea");
    pendingText = ta.value;
    ta.value = "";
    ta.focus();
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    var ta = evt.detail.elt.querySelector("textarea");
    if (!evt.detail.successful && pendingText && !ta.value) ta.value = pendingText;
    pendingText = null;
    scrollToEnd();
  });
  document.addEventListener("htmx:afterSwap", scrollToEnd);

  document.addEventListener("DOMContentLoaded", function () {
    scrollToEnd();
    updateTitle();
  });
})();

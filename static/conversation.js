// The open conversation: day lines and sender groups, older pages when scrolling up, the
// "Unread messages" line and the "New messages" pill, jumping to quoted messages, drafts
// per chat and the emoji picker.
(function () {
  "use strict";

  var GROUP_MS = 5 * 60 * 1000; // one sender's messages this close share one name line
  var LOAD_MARGIN = 400; // px from the top at which the next older page is fetched

  function box() { return document.querySelector(".messages[data-chat]"); }
  function composer() { return document.getElementById("composer"); }
  function nearBottom(b) { return b.scrollHeight - b.scrollTop - b.clientHeight < 120; }
  function at(m) { return new Date(Number(m.dataset.at) * 1000); }
  function dayKey(d) { return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate(); }
  function isA(el, cls) { return !!el && el.classList.contains(cls); }

  function dayLabel(d) {
    var today = new Date();
    today.setHours(0, 0, 0, 0);
    var day = new Date(d.getTime());
    day.setHours(0, 0, 0, 0);
    var ago = Math.round((today - day) / 86400000);
    var lang = document.documentElement.lang || undefined;
    if (ago === 0) return "Today";
    if (ago === 1) return "Yesterday";
    if (ago > 1 && ago < 7) return day.toLocaleDateString(lang, { weekday: "long" });
    var opts = { weekday: "short", day: "numeric", month: "long" };
    if (day.getFullYear() !== today.getFullYear()) opts.year = "numeric";
    return day.toLocaleDateString(lang, opts);
  }

  // Computed from the rows themselves (data-from, data-at), so it holds for the first page,
  // older pages, pushed and upserted rows alike; it touches the DOM only where it differs.
  function regroup(b) {
    var stale = new Set(b.querySelectorAll(":scope > .day-sep"));
    var prev = null;
    b.querySelectorAll(":scope > .msg[data-at]").forEach(function (m) {
      var when = at(m);
      var key = dayKey(when);
      var newDay = !prev || dayKey(at(prev)) !== key;
      var afterUnread = isA(m.previousElementSibling, "unread-sep");
      if (newDay) {
        var before = afterUnread ? m.previousElementSibling : m;
        var sep = before.previousElementSibling;
        if (isA(sep, "day-sep") && sep.dataset.day === key) {
          stale.delete(sep);
        } else {
          sep = document.createElement("div");
          sep.className = "day-sep";
          sep.setAttribute("role", "separator");
          sep.dataset.day = key;
          b.insertBefore(sep, before);
        }
        var label = dayLabel(when);
        if (sep.textContent !== label) sep.textContent = label;
      }
      var cont = !newDay && !afterUnread && !isA(m, "system") && !isA(prev, "system") &&
        prev.dataset.from === m.dataset.from && when - at(prev) < GROUP_MS;
      if (isA(m, "cont") !== cont) m.classList.toggle("cont", cont);
      if (prev && isA(prev, "more") !== cont) prev.classList.toggle("more", cont);
      prev = m;
    });
    if (prev && isA(prev, "more")) prev.classList.remove("more");
    stale.forEach(function (sep) { sep.remove(); });
  }

  function order(m) { return [Number(m.dataset.at), Number(m.dataset.pk)]; }
  function earlier(a, b) { return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]); }

  // Upserts are appended at the end: put each where it belongs in time. One older than
  // the oldest page shown (a catch-up reports changes to those too) waits for its page.
  function placeRows(b) {
    var oldest = b.dataset.oldest && b.querySelector(":scope > .older") ? b.dataset.oldest.split(",").map(Number) : null;
    var prev = null;
    Array.from(b.querySelectorAll(":scope > .msg[data-at]")).forEach(function (m) {
      var key = order(m);
      if (oldest && earlier(key, oldest)) { m.remove(); return; }
      if (prev && earlier(key, order(prev))) {
        var spot = prev;
        while (spot.previousElementSibling && !(isA(spot.previousElementSibling, "msg") && !earlier(key, order(spot.previousElementSibling)))) {
          spot = spot.previousElementSibling;
          if (isA(spot, "older")) { spot = spot.nextElementSibling; break; }
        }
        b.insertBefore(m, spot);
        return;
      }
      prev = m;
    });
  }

  function markOldest(b) {
    var first = b.querySelector(":scope > .msg[data-at]");
    if (first) b.dataset.oldest = order(first).join(",");
  }

  var observer = new MutationObserver(function () {
    var b = box();
    if (b) tidy(b);
  });
  function tidy(b) {
    observer.disconnect();
    placeRows(b);
    regroup(b);
    observer.takeRecords();
    // Classes too: htmx settles a swapped row's classes after the swap.
    observer.observe(b, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
  }

  // Holding keeps app.js from scrolling to the end while the reader looks further up.
  function hold(b, on) {
    if (on) b.dataset.hold = "1";
    else delete b.dataset.hold;
  }

  function toast(text) {
    var t = document.querySelector(".conv-toast");
    if (!t) return;
    t.textContent = text;
    t.hidden = !text;
    clearTimeout(toast.timer);
    if (text) toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  // --- Older pages: the top row is a `.older` line with the URL of the page above.
  var loading = null;
  function loadOlder(b) {
    var sentinel = b.querySelector(":scope > .older");
    if (!sentinel) return Promise.resolve(false);
    if (loading) return loading;
    sentinel.classList.add("loading");
    loading = fetch(sentinel.dataset.url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var anchor = b.querySelector(":scope > .msg"); // not a day line: those stick
        var top = anchor ? anchor.getBoundingClientRect().top : 0;
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        // A row a push already brought is not shown twice.
        Array.from(tpl.content.children).forEach(function (n) {
          if (n.id && document.getElementById(n.id)) n.remove();
        });
        var nodes = Array.from(tpl.content.children);
        observer.disconnect();
        sentinel.replaceWith(tpl.content);
        markOldest(b);
        nodes.forEach(function (n) { htmx.process(n); });
        tidy(b);
        // Keep what the reader looked at where it was.
        if (anchor) b.scrollTop += anchor.getBoundingClientRect().top - top;
        return true;
      })
      .catch(function () {
        sentinel.classList.remove("loading");
        sentinel.querySelector("span").textContent = "Could not load older messages. Scroll up to try again.";
        return false;
      })
      .finally(function () { loading = null; });
    return loading;
  }

  function loadIfNearTop(b) {
    if (b.scrollTop < LOAD_MARGIN && b.querySelector(":scope > .older") && !loading) {
      loadOlder(b).then(function (more) { if (more) loadIfNearTop(b); });
    }
  }

  // Older pages until the row is there (or there are none left).
  function findRow(b, pk, pages) {
    var row = document.getElementById("msg-" + pk);
    if (row || pages <= 0) return Promise.resolve(row);
    return loadOlder(b).then(function (more) {
      return more ? findRow(b, pk, pages - 1) : document.getElementById("msg-" + pk);
    });
  }

  function highlight(b, row) {
    hold(b, true);
    row.scrollIntoView({ block: "center" });
    row.classList.remove("highlight");
    void row.offsetWidth; // restart the animation
    row.classList.add("highlight");
    setTimeout(function () { row.classList.remove("highlight"); }, 2000);
  }

  function jumpToQuoted(quote) {
    var b = box();
    var pk = quote.dataset.replyTo;
    if (!b) return;
    if (!pk) { toast("The quoted message is not stored here."); return; }
    if (!document.getElementById("msg-" + pk)) toast("Loading the quoted message…");
    findRow(b, pk, 30).then(function (row) {
      if (row) { toast(""); highlight(b, row); } else toast("The quoted message could not be found.");
    });
  }

  // --- Unread line and "New messages" pill.
  function showUnread(b) {
    var pk = b.dataset.firstUnread;
    if (!pk) return;
    findRow(b, pk, 5).then(function (row) {
      if (!row || b.querySelector(".unread-sep")) return;
      var line = document.createElement("div");
      line.className = "unread-sep";
      line.setAttribute("role", "separator");
      line.textContent = "Unread messages";
      observer.disconnect();
      b.insertBefore(line, row);
      tidy(b);
      var day = line.previousElementSibling;
      var top = (isA(day, "day-sep") ? day : line).getBoundingClientRect().top;
      b.scrollTop += top - b.getBoundingClientRect().top - 8;
      if (!nearBottom(b)) hold(b, true);
    });
  }

  function pill() { return document.querySelector(".new-below"); }

  function maxPk(b) {
    var max = 0;
    b.querySelectorAll(":scope > .msg[data-pk]").forEach(function (m) { max = Math.max(max, Number(m.dataset.pk)); });
    return max;
  }

  var beforePush = null;
  document.addEventListener("htmx:wsBeforeMessage", function () {
    var b = box();
    beforePush = b ? { near: nearBottom(b), max: maxPk(b) } : null;
  });
  document.addEventListener("coiweb:pushed", function () {
    var b = box();
    if (!b || !beforePush) return;
    var p = pill();
    if (p && !beforePush.near && maxPk(b) > beforePush.max) p.hidden = false;
  });

  document.addEventListener("click", function (evt) {
    var p = evt.target.closest(".new-below");
    if (p) {
      var b = box();
      p.hidden = true;
      if (b) { hold(b, false); b.scrollTop = b.scrollHeight; }
      return;
    }
    var quote = evt.target.closest(".bubble .quote");
    if (quote) jumpToQuoted(quote);
  });
  document.addEventListener("keydown", function (evt) {
    if ((evt.key === "Enter" || evt.key === " ") && evt.target.matches && evt.target.matches(".bubble .quote")) {
      evt.preventDefault();
      jumpToQuoted(evt.target);
    }
  });

  // --- Drafts: one per chat in localStorage, back on return, gone once sent.
  function draftKey(form) { return form && form.dataset.draftKey; }
  function saveDraft(form) {
    var key = draftKey(form);
    if (!key || form.querySelector("[name=edit_of]").value) return;
    var text = form.querySelector("textarea").value;
    try {
      if (text.trim()) localStorage.setItem(key, text);
      else localStorage.removeItem(key);
    } catch (e) { /* storage full or off: the draft just isn't kept */ }
  }
  function restoreDraft(form) {
    var key = draftKey(form);
    var ta = form.querySelector("textarea");
    try {
      var text = localStorage.getItem(key);
      if (text && !ta.value) ta.value = text;
    } catch (e) { /* storage off */ }
    fitHeight(ta);
  }
  function fitHeight(ta) {
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight + 2, 160) + "px";
  }
  document.addEventListener("input", function (evt) {
    if (evt.target.matches && evt.target.matches("#composer textarea")) {
      saveDraft(evt.target.form);
      fitHeight(evt.target);
    }
  });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    var b = box();
    if (b) hold(b, false); // sending shows one's own message at the end
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    // app.js has emptied the textarea, or put the text back if the request failed.
    saveDraft(evt.detail.elt);
    fitHeight(evt.detail.elt.querySelector("textarea"));
  });

  // --- Emoji picker: a small vendored list, inserted at the caret.
  var EMOJI = (
    "😀 grinning,😃 smiley,😄 smile,😁 grin,😆 laughing,😅 sweat smile,🤣 rolling on the floor,😂 tears of joy," +
    "🙂 slightly smiling,🙃 upside down,😉 wink,😊 blush,😇 innocent,🥰 in love,😍 heart eyes,🤩 star struck," +
    "😘 kiss,😋 yum,😛 tongue,😜 winking tongue,🤪 zany,🤗 hug,🤭 hand over mouth,🤫 shush," +
    "🤔 thinking,🤐 zipped mouth,🤨 raised eyebrow,😐 neutral,😑 expressionless,😶 no mouth,😏 smirk,😒 unamused," +
    "🙄 eye roll,😬 grimace,😌 relieved,😔 pensive,😪 sleepy,😴 sleeping,😷 mask,🤒 thermometer," +
    "🤕 bandage,🤢 nauseated,🤧 sneezing,🥵 hot,🥶 cold,🥴 woozy,😵 dizzy,🤯 mind blown," +
    "🤠 cowboy,🥳 party,😎 sunglasses,🤓 nerd,😕 confused,😟 worried,🙁 frowning,😮 open mouth," +
    "😲 astonished,😳 flushed,🥺 pleading,😦 frowning open mouth,😧 anguished,😨 fearful,😰 anxious,😥 sad but relieved," +
    "😢 crying,😭 sobbing,😱 scream,😖 confounded,😣 persevering,😞 disappointed,😓 downcast sweat,😩 weary," +
    "😫 tired,🥱 yawning,😤 triumph,😡 pouting,😠 angry,🤬 swearing,😈 smiling devil,💀 skull," +
    "💩 poo,🤡 clown,👻 ghost,👽 alien,🤖 robot,😺 cat smiling,😻 cat heart eyes,🙈 see no evil," +
    "🙉 hear no evil,🙊 speak no evil,💋 kiss mark,💌 love letter,💘 heart arrow,💖 sparkling heart,💔 broken heart,❤️ red heart," +
    "🧡 orange heart,💛 yellow heart,💚 green heart,💙 blue heart,💜 purple heart,🖤 black heart,🤍 white heart,💯 hundred," +
    "💥 collision,💫 dizzy star,💬 speech balloon,💤 zzz,👋 wave,🤚 raised back of hand,✋ raised hand,🖖 vulcan," +
    "👌 ok hand,🤌 pinched fingers,✌️ victory,🤞 crossed fingers,🤟 love you,🤘 horns,🤙 call me,👈 point left," +
    "👉 point right,👆 point up,👇 point down,👍 thumbs up,👎 thumbs down,✊ raised fist,👊 fist bump,👏 clap," +
    "🙌 raised hands,👐 open hands,🤲 palms up,🤝 handshake,🙏 folded hands,💪 flexed biceps,👀 eyes,🧠 brain," +
    "👶 baby,🧒 child,👩 woman,👨 man,🧓 older person,👪 family,🎉 party popper,🎂 birthday cake," +
    "🎁 gift,🎈 balloon,✨ sparkles,🔥 fire,⭐ star,🌟 glowing star,☀️ sun,🌈 rainbow," +
    "☔ umbrella rain,❄️ snowflake,🌸 cherry blossom,🌹 rose,🌻 sunflower,🌱 seedling,🍀 four leaf clover,🍁 maple leaf," +
    "🐶 dog,🐱 cat,🐭 mouse,🐰 rabbit,🦊 fox,🐻 bear,🐼 panda,🐸 frog," +
    "🍎 apple,🍕 pizza,🍔 burger,🍟 fries,🍝 spaghetti,🍰 cake,🍫 chocolate,🍿 popcorn," +
    "☕ coffee,🍵 tea,🍺 beer,🍷 wine,🥂 cheers,🍾 champagne,⚽ football,🏆 trophy," +
    "🚗 car,🚲 bicycle,✈️ airplane,🚀 rocket,🏠 house,⏰ alarm clock,📅 calendar,📌 pin," +
    "📎 paperclip,📷 camera,📞 phone,💻 laptop,💡 light bulb,📚 books,✏️ pencil,🔒 lock," +
    "✅ check mark,❌ cross mark,❓ question,❗ exclamation,⚠️ warning,🆗 ok button,➕ plus,👉 next"
  ).split(",").map(function (item) {
    var space = item.indexOf(" ");
    return { char: item.slice(0, space), name: item.slice(space + 1) };
  });
  var COLUMNS = 8;
  var caret = null;

  function picker() { var f = composer(); return f && f.querySelector(".emoji-picker"); }
  function toggleButton() { var f = composer(); return f && f.querySelector(".emoji-toggle"); }

  function buildPicker(p) {
    if (p.childElementCount) return;
    EMOJI.forEach(function (e, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "emoji";
      button.textContent = e.char;
      button.title = e.name;
      button.setAttribute("aria-label", e.name);
      button.tabIndex = i === 0 ? 0 : -1;
      p.appendChild(button);
    });
  }

  function openPicker() {
    var p = picker();
    var ta = composer().querySelector("textarea");
    caret = { start: ta.selectionStart, end: ta.selectionEnd };
    buildPicker(p);
    p.hidden = false;
    toggleButton().setAttribute("aria-expanded", "true");
    (p.querySelector("[tabindex='0']") || p.firstElementChild).focus();
  }

  function closePicker(refocus) {
    var p = picker();
    if (!p || p.hidden) return;
    p.hidden = true;
    toggleButton().setAttribute("aria-expanded", "false");
    if (refocus) composer().querySelector("textarea").focus();
  }

  function insertEmoji(char) {
    var ta = composer().querySelector("textarea");
    var start = caret ? caret.start : ta.value.length;
    var end = caret ? caret.end : ta.value.length;
    ta.setRangeText(char, start, end, "end");
    caret = { start: ta.selectionStart, end: ta.selectionEnd };
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (evt) {
    var toggle = evt.target.closest(".emoji-toggle");
    if (toggle) {
      if (picker().hidden) openPicker(); else closePicker(true);
      return;
    }
    var emoji = evt.target.closest(".emoji-picker .emoji");
    if (emoji) { insertEmoji(emoji.textContent); return; }
    if (!evt.target.closest(".emoji-picker")) closePicker(false);
  });
  document.addEventListener("keydown", function (evt) {
    var p = picker();
    if (!p || p.hidden || !p.contains(evt.target)) return;
    var buttons = Array.from(p.querySelectorAll(".emoji"));
    var i = buttons.indexOf(evt.target);
    var next = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + COLUMNS, ArrowUp: i - COLUMNS, Home: 0, End: buttons.length - 1 }[evt.key];
    if (evt.key === "Escape") {
      evt.preventDefault();
      evt.stopPropagation();
      closePicker(true);
    } else if (next !== undefined && i !== -1) {
      evt.preventDefault();
      var target = buttons[Math.max(0, Math.min(buttons.length - 1, next))];
      buttons[i].tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    } else if (evt.key === "Tab") {
      closePicker(false);
    }
  }, true);

  // --- Dropping files anywhere on the conversation (message-actions.js takes the drop).
  var dragDepth = 0;
  function hasFiles(evt) { return evt.dataTransfer && Array.from(evt.dataTransfer.types).indexOf("Files") !== -1; }
  function conversation() { return composer() && document.querySelector(".conversation"); }
  document.addEventListener("dragenter", function (evt) {
    var c = conversation();
    if (!c || !hasFiles(evt)) return;
    dragDepth += 1;
    c.classList.add("dropping");
  });
  document.addEventListener("dragleave", function () {
    var c = conversation();
    if (!c) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) c.classList.remove("dropping");
  });
  document.addEventListener("drop", function () {
    var c = conversation();
    dragDepth = 0;
    if (c) c.classList.remove("dropping");
  });

  document.addEventListener("DOMContentLoaded", function () {
    var b = box();
    if (!b) return;
    markOldest(b);
    tidy(b);
    var form = composer();
    if (form) restoreDraft(form);
    b.addEventListener("scroll", function () {
      var end = nearBottom(b);
      hold(b, !end); // reading further up: nothing yanks the view to the end
      var p = pill();
      if (end && p) p.hidden = true;
      loadIfNearTop(b);
    }, { passive: true });
    showUnread(b);
    loadIfNearTop(b);
  });
})();

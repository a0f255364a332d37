// The message menu (react, reply, edit, delete), files in the composer (button, drag and
// drop, paste, size check) and the image lightbox.
(function () {
  "use strict";

  var menu = function () { return document.getElementById("msg-menu"); };
  var composer = function () { return document.getElementById("composer"); };
  var menuFor = null;

  function closeMenu() {
    var m = menu();
    if (m) m.hidden = true;
    menuFor = null;
  }

  function openMenu(button) {
    var m = menu();
    if (!m) return;
    menuFor = button.closest(".msg");
    var own = button.dataset.own === "1";
    m.querySelectorAll("[data-own-only]").forEach(function (b) { b.hidden = !own; });
    var rect = button.getBoundingClientRect();
    m.hidden = false;
    var left = Math.min(window.innerWidth - m.offsetWidth - 8, Math.max(8, rect.right - m.offsetWidth));
    var top = rect.bottom + 4;
    if (top + m.offsetHeight > window.innerHeight - 8) top = Math.max(8, rect.top - m.offsetHeight - 4);
    m.style.left = left + "px";
    m.style.top = top + "px";
    var first = m.querySelector("button:not([hidden])");
    if (first) first.focus();
  }

  function setContext(kind, msg) {
    var form = composer();
    if (!form) return;
    var box = form.querySelector(".composer-context");
    var text = (msg.querySelector(".bubble > .text") || {}).textContent || "";
    form.querySelector("[name=reply_to]").value = kind === "reply" ? msg.dataset.pk : "";
    form.querySelector("[name=edit_of]").value = kind === "edit" ? msg.dataset.pk : "";
    box.querySelector(".what").textContent = (kind === "edit" ? "Editing: " : "Replying to: ") + text.trim().slice(0, 120);
    box.hidden = false;
    var ta = form.querySelector("textarea");
    if (kind === "edit") ta.value = text.trim();
    ta.focus();
  }

  function clearContext() {
    var form = composer();
    if (!form) return;
    form.querySelector("[name=reply_to]").value = "";
    form.querySelector("[name=edit_of]").value = "";
    form.querySelector(".composer-context").hidden = true;
  }

  function showError(text) {
    var form = composer();
    if (!form) return;
    var box = form.querySelector(".composer-error");
    box.textContent = text;
    box.hidden = !text;
  }

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return Math.round(bytes / 1024) + " KB";
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  // What will go with the message: a chip per file (a thumbnail for images) with ✕ to drop it.
  function describeFiles(input) {
    var form = composer();
    var list = form.querySelector(".composer-files");
    list.querySelectorAll("img").forEach(function (img) { URL.revokeObjectURL(img.src); });
    list.textContent = "";
    Array.from(input.files).forEach(function (f, i) {
      var chip = document.createElement("span");
      chip.className = "file-chip";
      if (/^image\//.test(f.type)) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(f);
        img.alt = "";
        chip.appendChild(img);
      } else {
        chip.appendChild(document.createTextNode("📎 "));
      }
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = f.name;
      var size = document.createElement("span");
      size.className = "size";
      size.textContent = sizeText(f.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove-file link";
      remove.dataset.index = i;
      remove.setAttribute("aria-label", "Remove " + f.name);
      remove.textContent = "✕";
      chip.append(name, " ", size, remove);
      list.appendChild(chip);
    });
    list.hidden = !input.files.length;
    var max = Number(input.dataset.maxBytes || 0);
    var total = Array.from(input.files).reduce(function (sum, f) { return sum + f.size; }, 0);
    if (max && total > max) {
      showError("Too large to send: the limit is " + Math.round(max / 1048576) + " MB per message. Nothing was sent.");
      return false;
    }
    showError("");
    return true;
  }

  function removeFile(index) {
    var form = composer();
    var input = form.querySelector("input[type=file]");
    var kept = new DataTransfer();
    Array.from(input.files).forEach(function (f, i) { if (i !== index) kept.items.add(f); });
    input.files = kept.files;
    describeFiles(input);
    offerVoice(form, input.files);
    form.querySelector("textarea").focus();
  }

  // One audio file may go as a voice message; its length comes from the browser's decoder
  // (left empty when it cannot tell, and then Chat-Duration is not sent).
  function offerVoice(form, files) {
    var option = form.querySelector(".composer-voice");
    var duration = form.querySelector("input[name=duration_ms]");
    if (!option || !duration) return;
    var audio = files.length === 1 && /^audio\//.test(files[0].type) ? files[0] : null;
    option.hidden = !audio;
    duration.value = "";
    if (!audio) { option.querySelector("input").checked = false; return; }
    var probe = document.createElement("audio");
    var url = URL.createObjectURL(audio);
    probe.preload = "metadata";
    probe.addEventListener("loadedmetadata", function () {
      if (isFinite(probe.duration) && probe.duration > 0) duration.value = Math.round(probe.duration * 1000);
      URL.revokeObjectURL(url);
    });
    probe.addEventListener("error", function () { URL.revokeObjectURL(url); });
    probe.src = url;
  }

  function addFiles(files) {
    var form = composer();
    if (!form || !files || !files.length) return;
    var input = form.querySelector("input[type=file]");
    var all = new DataTransfer();
    Array.from(input.files).concat(Array.from(files)).forEach(function (f) { all.items.add(f); });
    input.files = all.files;
    describeFiles(input);
    offerVoice(form, input.files);
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest(".msg-menu-button");
    if (button) { evt.preventDefault(); openMenu(button); return; }
    var m = menu();
    var inMenu = m && evt.target.closest("#msg-menu");
    if (inMenu && menuFor) {
      var pk = menuFor.dataset.pk;
      var react = evt.target.closest("[data-react]");
      var action = evt.target.closest("[data-action]");
      if (react) {
        htmx.ajax("POST", "/messages/" + pk + "/react/", { values: { emoji: react.dataset.react }, swap: "none" });
      } else if (action && action.dataset.action === "delete") {
        if (window.confirm("Delete this message for everyone?")) {
          htmx.ajax("POST", "/messages/" + pk + "/delete/", { swap: "none" });
        }
      } else if (action) {
        setContext(action.dataset.action, menuFor);
      }
      closeMenu();
      return;
    }
    if (m && !m.hidden) closeMenu();
    var remove = evt.target.closest("#composer .remove-file");
    if (remove) { removeFile(Number(remove.dataset.index)); return; }
    if (evt.target.closest(".composer-context .cancel")) { clearContext(); return; }
    var image = evt.target.closest("a.file.image");
    if (image && !evt.ctrlKey && !evt.metaKey) {
      var box = document.getElementById("lightbox");
      if (box && box.showModal) {
        evt.preventDefault();
        box.querySelector("img").src = image.href;
        box.querySelector("img").alt = image.querySelector("img").alt;
        box.showModal();
      }
    }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") { closeMenu(); clearContext(); }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.matches("#composer input[type=file]")) {
      describeFiles(evt.target);
      offerVoice(composer(), evt.target.files);
    }
  });
  document.addEventListener("paste", function (evt) {
    if (evt.target.closest && evt.target.closest("#composer") && evt.clipboardData.files.length) {
      evt.preventDefault();
      addFiles(evt.clipboardData.files);
    }
  });
  document.addEventListener("dragover", function (evt) {
    if (composer() && evt.dataTransfer && Array.from(evt.dataTransfer.types).indexOf("Files") !== -1) evt.preventDefault();
  });
  document.addEventListener("drop", function (evt) {
    if (!composer() || !evt.dataTransfer || !evt.dataTransfer.files.length) return;
    evt.preventDefault();
    addFiles(evt.dataTransfer.files);
  });

  // Before sending: refuse oversized files here, with a clear message, nothing half-sent.
  document.addEventListener("htmx:confirm", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    var input = evt.detail.elt.querySelector("input[type=file]");
    if (input && !describeFiles(input)) evt.preventDefault();
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.elt.id !== "composer") return;
    if (evt.detail.successful) {
      var input = evt.detail.elt.querySelector("input[type=file]");
      input.value = "";
      describeFiles(input);
      offerVoice(evt.detail.elt, input.files);
      clearContext();
    } else if (evt.detail.xhr) {
      showError(evt.detail.xhr.responseText || "The message could not be sent. Please try again.");
    }
  });
})();

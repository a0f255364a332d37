// Installable app: registers the service worker, and turns push notifications on this
// device on and off (the control in templates/pwa/_push_control.html).
(function () {
  "use strict";

  var script = document.currentScript;
  if (!("serviceWorker" in navigator) || !script || !script.dataset.sw) return;
  navigator.serviceWorker.register(script.dataset.sw, { scope: "/" }).catch(function (err) {
    console.warn("coiweb: service worker not registered:", err);
  });

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (err) {
      return "";
    }
  }

  function post(url, fields) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
      body: new URLSearchParams(fields),
    }).then(function (response) {
      if (!response.ok) throw new Error("the server answered " + response.status);
      return response;
    });
  }

  function keyBytes(base64url) {
    var b64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }

  function sameKey(buffer, base64url) {
    var a = new Uint8Array(buffer), b = keyBytes(base64url);
    return a.length === b.length && a.every(function (x, i) { return x === b[i]; });
  }

  function setUpControl(control) {
    var button = control.querySelector("[data-push-toggle]");
    var status = control.querySelector("[data-push-status]");
    var key = control.dataset.vapidKey;
    if (!button || !key) return;
    if (!("PushManager" in window) || !("Notification" in window)) {
      status.textContent = "This browser cannot show notifications from coiweb.";
      return;
    }
    var registration = navigator.serviceWorker.ready;

    function show(text, label) {
      status.textContent = text;
      button.hidden = !label;
      button.textContent = label || "";
    }

    function refresh() {
      return registration.then(function (reg) { return reg.pushManager.getSubscription(); })
        .then(function (sub) {
          button.dataset.on = sub ? "1" : "";
          if (Notification.permission === "denied") {
            show("Notifications are blocked for this site in the browser's settings.", null);
          } else if (sub) {
            show("Notifications are on for this device.", "Turn off");
          } else {
            show("", "Enable notifications on this device");
          }
          return sub;
        });
    }

    function enable() {
      return Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") return undefined;
        return registration.then(function (reg) {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
        }).then(function (sub) {
          var json = sub.toJSON();
          return post(control.dataset.subscribeUrl, {
            endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth,
          });
        });
      });
    }

    function disable(sub) {
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () {
        return post(script.dataset.unsubscribe, { endpoint: endpoint });
      });
    }

    button.addEventListener("click", function () {
      button.disabled = true;
      var change = button.dataset.on
        ? registration.then(function (reg) { return reg.pushManager.getSubscription(); })
            .then(function (sub) { return sub && disable(sub); })
        : enable();
      change.then(refresh, function (err) {
        return refresh().then(function () {
          status.textContent = "Could not change notifications: " + err.message;
        });
      }).finally(function () { button.disabled = false; });
    });

    refresh().then(function (sub) {
      // Made with a server key that has since changed: the push service would refuse
      // our notifications, so renew the subscription with the current key.
      var old = sub && sub.options && sub.options.applicationServerKey;
      if (old && !sameKey(old, key) && Notification.permission === "granted") {
        return disable(sub).then(enable).then(refresh);
      }
      return undefined;
    }).catch(function (err) {
      console.warn("coiweb: push notifications:", err);
    });
  }

  var control = document.getElementById("push-control");
  if (control) setUpControl(control);

  // Signing out turns this device's notifications off first: on a shared computer the
  // next person must not see the previous one's messages pop up.
  var signingOut = false;
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (signingOut || !script.dataset.logout || !("PushManager" in window)) return;
    if (new URL(form.action, location.href).pathname !== script.dataset.logout) return;
    evt.preventDefault();
    signingOut = true;
    var unsubscribe = navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg && reg.pushManager.getSubscription();
    }).then(function (sub) {
      if (!sub) return undefined;
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () {
        return post(script.dataset.unsubscribe, { endpoint: endpoint });
      });
    });
    var timeout = new Promise(function (resolve) { setTimeout(resolve, 3000); });
    Promise.race([unsubscribe, timeout]).catch(function () {}).then(function () { form.submit(); });
  });
})();

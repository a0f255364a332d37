// coiweb's service worker: the offline page, the app shell, and push notifications.
// Served from /sw.js so that its scope is the whole site; rendered by pwa.views.
"use strict";

var CACHE = "coiweb-shell-{{ version }}";
var OFFLINE_URL = "{{ offline_url }}";
var SHELL = {{ shell|safe }};
var ICON = "{{ icon }}";
var BADGE = "{{ badge }}";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // Past the HTTP cache: a new version must not store the previous one's files.
      return cache.addAll([OFFLINE_URL].concat(SHELL).map(function (url) {
        return new Request(url, { cache: "reload" });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("coiweb-shell-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    // Pages come from the server, always: they hold private chats and are never cached.
    // Only when it cannot be reached does the offline page stand in.
    event.respondWith(fetch(request).catch(function () {
      return caches.match(OFFLINE_URL);
    }));
    return;
  }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && SHELL.indexOf(url.pathname) !== -1) {
    // Network first here too: a page fresh from the server must not run last version's
    // scripts (the new worker is only installed while that page loads).
    event.respondWith(fetch(request).catch(function () {
      return caches.match(url.pathname, { cacheName: CACHE });
    }));
  }
});

function samePath(a, b) {
  return new URL(a, self.location.origin).pathname === new URL(b, self.location.origin).pathname;
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (err) {
    data = { body: event.data.text() };
  }
  var url = new URL(data.url || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      // Whoever is looking at this very chat sees the message arrive: no notification.
      var watching = windows.some(function (w) {
        return w.visibilityState === "visible" && samePath(w.url, url);
      });
      if (watching) return undefined;
      var options = { body: data.body || "", icon: ICON, badge: BADGE, data: { url: url } };
      if (data.tag) {
        // One notification per chat, replaced by the newest message, which alerts again.
        options.tag = data.tag;
        options.renotify = true;
      }
      return self.registration.showNotification(data.title || "coiweb", options);
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      var open = windows.filter(function (w) { return samePath(w.url, url); })[0];
      if (open) return open.focus();
      if (windows.length) {
        // Reuse a window of the app; navigate() only works on one this worker controls.
        return windows[0].focus().then(function (w) { return w.navigate(url); }).catch(function () {
          return self.clients.openWindow(url);
        });
      }
      return self.clients.openWindow(url);
    })
  );
});

"use strict";
// The QR scanner page (bots/web/scanner.py). The messenger's own scanner reads the code where it has one
// (Telegram 6.4+: showScanQrPopup; VK: VKWebAppOpenCodeReader); elsewhere the browser's camera
// (BarcodeDetector) or a photo. What is read goes to the server with the launch data the messenger signed;
// the answer comes in the chat, so the page closes itself once the string is in.
(() => {
  const platform = document.body.dataset.platform;
  const TEXTS = {
    ru: {
      title: "QR-код чека", scan: "📷 Сканировать QR", camera: "🎥 Камера браузера", upload: "🖼 Выбрать фото чека",
      starting: "Открываю сканер…", aim: "Наведите камеру на QR-код внизу чека",
      fallback: "Сканер мессенджера здесь недоступен: снимите QR-код камерой или выберите фото чека.",
      outside_web: "Откройте эту страницу кнопкой «📷 Сканировать QR» в веб-чате.",
      fallback_web: "Снимите QR-код камерой или выберите фото чека.",
      sent_web: "Готово! Чек отправлен — возвращаю в чат.",
      choose: "Отсканируйте QR-код внизу чека или выберите его фото.", looking: "Ищу QR-код в кадре…",
      sending: "Отправляю…", sent: "Готово! Чек отправлен — ответ пришёл в чат с ботом.",
      repeat: "Этот код уже отправлен — ответ в чате с ботом.",
      outside: "Откройте эту страницу кнопкой «📷 Сканировать QR» в чате с ботом.",
      expired: "Страница открыта слишком давно. Нажмите «📷 Сканировать QR» в чате ещё раз.",
      not_receipt: "Это не QR-код кассового чека. Отсканируйте код внизу чека.",
      no_qr: "Не вижу QR-код на фото. Снимите его крупно и целиком.",
      blurry: "Фото размытое. Подойдите ближе и держите телефон неподвижно.",
      too_large: "Фото слишком большое — до 20 МБ.", too_many: "Слишком много попыток. Подождите минуту.",
      busy: "Сейчас много фото — попробуйте через минуту.", camera_denied: "Нет доступа к камере. Выберите фото чека.",
      offline: "Нет связи. Попробуйте ещё раз.", failed: "Не получилось. Попробуйте ещё раз или пришлите фото в чат.",
    },
    en: {
      title: "Receipt QR code", scan: "📷 Scan the QR", camera: "🎥 Browser camera", upload: "🖼 Choose a receipt photo",
      starting: "Opening the scanner…", aim: "Point the camera at the QR code at the bottom of the receipt",
      fallback: "The messenger's scanner is not available here: use the camera or choose a photo of the receipt.",
      outside_web: "Open this page with the “📷 Scan the QR” button in the web chat.",
      fallback_web: "Use the camera or choose a photo of the receipt.",
      sent_web: "Done! The receipt is sent — back to the chat.",
      choose: "Scan the QR code at the bottom of the receipt or choose its photo.", looking: "Looking for the QR code…",
      sending: "Sending…", sent: "Done! The receipt is sent — the answer is in the chat with the bot.",
      repeat: "This code was sent already — the answer is in the chat with the bot.",
      outside: "Open this page with the “📷 Scan the QR” button in the chat with the bot.",
      expired: "This page has been open too long. Press “📷 Scan the QR” in the chat again.",
      not_receipt: "That is not a till receipt's QR code. Scan the code at the bottom of the receipt.",
      no_qr: "I can't see a QR code in the photo. Take it large and whole.",
      blurry: "The photo is blurry. Move closer and hold the phone still.",
      too_large: "The photo is too big — 20 MB at most.", too_many: "Too many tries. Wait a minute.",
      busy: "Many photos right now — try again in a minute.", camera_denied: "No access to the camera. Choose a photo.",
      offline: "No connection. Please try again.", failed: "That didn't work. Try again or send the photo in the chat.",
    },
  };
  const ERRORS = { forged: "outside", missing: "outside", malformed: "outside", another_app: "outside",
    expired: "expired", not_receipt: "not_receipt", no_fiscal_qr: "not_receipt", no_qr: "no_qr", blurry: "blurry",
    too_large: "too_large", too_many_pixels: "too_large", too_long: "not_receipt", too_many: "too_many",
    busy: "busy", too_slow: "busy", try_again: "offline" };
  const MAX_PHOTO = 20 * 1024 * 1024;
  const $ = (id) => document.getElementById(id);
  let lang = "ru";
  let stream = null;

  const t = (key) => TEXTS[lang][key] || TEXTS.ru[key] || key;
  function say(key, kind) {
    const status = $("status");
    status.textContent = t(platform === "web" && TEXTS.ru[`${key}_web`] ? `${key}_web` : key);  // no messenger there
    status.className = kind || "";
    status.dataset.key = key;  // what a test (or a screen reader's user) can tell apart, whatever the language
  }

  function telegram() {
    const app = window.Telegram && window.Telegram.WebApp;
    // Telegram puts the signed launch data in the address's hash too: read there when its script did not load
    const launch = (app && app.initData) || new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
    const user = app && app.initDataUnsafe && app.initDataUnsafe.user;
    return {
      launch, language: user && user.language_code,
      ready() { if (app) { app.ready(); if (app.expand) app.expand(); } },
      async hasScanner() {
        return Boolean(app && app.isVersionAtLeast && app.isVersionAtLeast("6.4") && app.showScanQrPopup);
      },
      scan() {
        return new Promise((resolve, reject) => {
          let done = false;
          const closed = () => { if (!done) { done = true; reject(new Error("cancelled")); } };
          if (app.onEvent) app.onEvent("scanQrPopupClosed", closed);
          app.showScanQrPopup({ text: t("aim") }, (text) => {
            if (!done) { done = true; resolve(String(text)); }
            return true;  // closes the popup: one code is enough
          });
        });
      },
      close() { if (app && app.close) app.close(); },
    };
  }

  function vk() {
    const bridge = window.vkBridge;
    const query = new URLSearchParams(location.search);
    const within = (promise, ms) => Promise.race([promise, new Promise((_, no) => setTimeout(() => no(new Error("timeout")), ms))]);
    return {
      launch: location.search.slice(1), language: query.get("vk_language"),
      ready() { if (bridge) bridge.send("VKWebAppInit").catch(() => {}); },
      async hasScanner() {
        if (!bridge) return false;
        try { return await within(bridge.supportsAsync("VKWebAppOpenCodeReader"), 2000); } catch (e) { return false; }
      },
      async scan() { return String((await bridge.send("VKWebAppOpenCodeReader")).code_data || ""); },
      close() { if (bridge) bridge.send("VKWebAppClose", { status: "success" }).catch(() => {}); },
    };
  }

  function site() {  // the site's own chat: its link carries the launch the chat signed; back to the chat after
    return {
      launch: location.hash.slice(1), language: null, ready() {}, async hasScanner() { return false; },
      scan() { return Promise.reject(new Error("no scanner")); }, close() { location.assign("/chat"); },
    };
  }

  const messenger = platform === "vk" ? vk() : platform === "web" ? site() : telegram();

  async function post(path, body) {
    say("sending");
    const json = !(body instanceof FormData);
    let response, answer = {};
    try {
      response = await fetch(`/scan/${platform}/${path}`, { method: "POST", body: json ? JSON.stringify(body) : body,
        headers: json ? { "Content-Type": "application/json" } : {}, credentials: "omit" });
      answer = await response.json().catch(() => ({}));
    } catch (e) {
      say("offline", "error");
      offer();
      return;
    }
    if (response.ok) {
      say(answer.repeat ? "repeat" : "sent", "done");
      hideChoices();
      setTimeout(() => messenger.close(), 1500);  // the confirmation waits in the chat
      return;
    }
    say(ERRORS[answer.error] || "failed", "error");
    if (ERRORS[answer.error] !== "outside" && answer.error !== "expired") offer();
    else hideChoices();
  }

  const submit = (text) => post("text", { launch: messenger.launch, text });

  async function native() {
    try {
      const text = await messenger.scan();
      if (text) { await submit(text); return; }
    } catch (e) { /* closed without a code */ }
    say("choose");
    offer();
  }

  function cameraAvailable() {
    return "BarcodeDetector" in window && Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("video").hidden = true;
  }

  async function camera() {
    const video = $("video");
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      say("looking");
      while (stream) {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) {
          stopCamera();
          await submit(codes[0].rawValue);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } catch (e) {
      stopCamera();
      say("camera_denied", "error");
    }
  }

  function hideChoices() { ["scan", "camera", "upload"].forEach((id) => { $(id).hidden = true; }); }

  let scanner = false;
  function offer() {
    $("scan").hidden = !scanner;
    $("camera").hidden = !cameraAvailable();
    $("upload").hidden = false;
  }

  async function start() {
    messenger.ready();
    const wanted = (messenger.language || navigator.language || "ru").slice(0, 2).toLowerCase();
    lang = TEXTS[wanted] ? wanted : "ru";
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
    if (!messenger.launch) { say("outside", "error"); return; }
    $("scan").addEventListener("click", native);
    $("camera").addEventListener("click", camera);
    $("photo").addEventListener("change", async () => {
      const file = $("photo").files[0];
      $("photo").value = "";
      if (!file) return;
      if (file.size > MAX_PHOTO) { say("too_large", "error"); return; }
      stopCamera();
      const form = new FormData();
      form.append("launch", messenger.launch);  // first: the server reads who sent it before the photo
      form.append("photo", file);
      await post("photo", form);
    });
    scanner = await messenger.hasScanner();
    if (scanner) { native(); return; }
    say("fallback");
    offer();
  }

  start();
})();

// jobcluster web UI: live blocks, pod logs and confirmations. The pages
// work without it, only without live updates and with a confirmation page.
"use strict";

(function () {
  const liveState = document.getElementById("live-state");
  function setLive(state) {
    if (!liveState) return;
    liveState.className = "live-state " + state;
    liveState.textContent = state === "on" ? "live" : "reconnecting";
  }

  // Live block: the server re-renders it and sends it when it changed.
  const live = document.getElementById("live");
  if (live && live.dataset.src && window.EventSource) {
    const es = new EventSource(live.dataset.src);
    es.onopen = () => setLive("on");
    es.onerror = () => setLive("off");
    es.onmessage = (e) => {
      setLive("on");
      live.innerHTML = e.data;
    };
    window.addEventListener("pagehide", () => es.close());
  }

  // Pod log: appended chunk by chunk while the pod runs.
  const log = document.getElementById("log");
  const logState = document.getElementById("log-state");
  if (log && log.dataset.src && window.EventSource) {
    const es = new EventSource(log.dataset.src);
    const say = (text, cls) => { if (logState) { logState.textContent = text; logState.className = "badge " + (cls || ""); } };
    es.onopen = () => say("following", "running");
    es.onmessage = (e) => {
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(document.createTextNode(JSON.parse(e.data)));
      if (atEnd) log.scrollTop = log.scrollHeight;
    };
    es.addEventListener("end", () => { es.close(); say("ended", "complete"); });
    es.addEventListener("fail", (e) => {
      es.close();
      say("failed", "failed");
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = e.data;
      log.after(p);
    });
    window.addEventListener("pagehide", () => es.close());
  }

  // Actions ask first, in a dialog; the live block may replace the form
  // meanwhile, so the confirmed copy is posted from outside it.
  const dialog = document.getElementById("confirm");
  const question = document.getElementById("confirm-question");
  const questions = {
    suspend: (kind, name) => kind === "job" ? `Suspend job ${name}? Its running pods are stopped.` : `Suspend cronjob ${name}? It creates no new Jobs until resumed.`,
    resume: (kind, name) => `Resume ${kind} ${name}?`,
    delete: (kind, name) => kind === "job" ? `Delete job ${name} and its pods?` : `Delete cronjob ${name}, its Jobs and their pods?`,
    trigger: (kind, name) => `Create a Job from cronjob ${name} now?`,
  };
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!form.hasAttribute("data-confirm") || !dialog || !dialog.showModal) return;
    e.preventDefault();
    const kind = form.elements.kind.value, name = form.elements.name.value, what = form.elements.do.value;
    question.textContent = (questions[what] || (() => `${what} ${kind} ${name}?`))(kind, name);
    const copy = form.cloneNode(true);
    copy.removeAttribute("data-confirm");
    copy.elements.confirmed.value = "yes";
    copy.hidden = true;
    dialog.onclose = () => {
      if (dialog.returnValue !== "ok") return;
      document.body.append(copy);
      copy.submit();
    };
    dialog.returnValue = "";
    dialog.showModal();
  });
})();

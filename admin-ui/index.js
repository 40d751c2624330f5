fetch('/healthz').then(r => r.ok ? r.json() : Promise.reject(r.status))
  .then(() => { const s = document.getElementById('status'); s.textContent = 'up'; s.className = 'ok'; })
  .catch(() => { const s = document.getElementById('status'); s.textContent = 'unreachable'; s.className = 'bad'; });

// The landing page of a signed hub (docs/explorer.md): fills the departments' table from
// GET /departments (ids, names, ok/down, probe latency; the hub probes at most every 2 s).
// Every value from the hub goes into the page as text, never as HTML.

const body = document.getElementById('departments-body');
const status = document.getElementById('departments-status');
const refresh = document.getElementById('refresh');

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function load() {
  refresh.disabled = true;
  status.textContent = 'Checking…';
  try {
    const res = await fetch('/departments', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { departments, checkedAt } = await res.json();
    const rows = departments.map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.department = d.id;
      tr.append(cell(d.id), cell(d.title), cell(d.ok ? 'ok' : 'down', d.ok ? 'state-ok' : 'state-down'), cell(`${d.latencyMs} ms`));
      return tr;
    });
    body.replaceChildren(...rows);
    const down = departments.filter((d) => !d.ok).length;
    status.textContent = `${departments.length} departments, ${down === 0 ? 'all ok' : `${down} down`} (probed ${new Date(checkedAt).toLocaleTimeString()}).`;
  } catch (error) {
    status.textContent = `The departments' state could not be read (${error.message}).`;
  } finally {
    refresh.disabled = false;
  }
}

refresh.addEventListener('click', () => void load());
void load();

// What both clients share: the session, a login, the wait for expiry and the burst.
import axios from 'axios';

export const BASE = process.env.BASE || 'http://127.0.0.1:9000';
export const N = Number(process.env.N || 50);
export const tokens = { access: '', refresh: '' };
export const counts = { refreshCalls: 0 };

export async function login() {
  const { data } = await axios.post(`${BASE}/api/token/`, { username: 'demo', password: 'demo' });
  tokens.access = data.access;
  tokens.refresh = data.refresh;
}

// refresh posts the refresh token the caller sees now (simplejwt's wire format).
export async function refresh() {
  counts.refreshCalls++;
  const { data } = await axios.post(`${BASE}/api/token/refresh/`, { refresh: tokens.refresh });
  tokens.access = data.access;
  if (data.refresh) tokens.refresh = data.refresh; // ROTATE_REFRESH_TOKENS
}

function expiry(jwt) {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  return payload.exp * 1000;
}

// run logs in, waits until the access token has expired, sends N requests at once and says how
// many the app got back.
export async function run(name, api) {
  await login();
  await new Promise((r) => setTimeout(r, Math.max(0, expiry(tokens.access) - Date.now() + 100)));
  const results = await Promise.allSettled(Array.from({ length: N }, () => api.get('/api/protected/')));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const byStatus = {};
  for (const r of results) {
    if (r.status === 'rejected') {
      const s = r.reason?.response?.status ?? 'network';
      byStatus[s] = (byStatus[s] || 0) + 1;
    }
  }
  console.log(JSON.stringify({ client: name, requests: N, ok, lost: N - ok, failed_by_status: byStatus, refresh_calls: counts.refreshCalls }));
}

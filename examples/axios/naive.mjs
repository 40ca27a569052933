// The seeds' interceptor: a 401 refreshes with the refresh token at hand and resends the
// request once. No single flight: N requests rejected together make N refresh calls.
import axios from 'axios';
import { BASE, tokens, refresh, run } from './common.mjs';

const api = axios.create({ baseURL: BASE });
api.interceptors.request.use((config) => {
  config.headers.Authorization = `Bearer ${tokens.access}`;
  return config;
});
api.interceptors.response.use(
  (response) => response,
  async (error) => {
    const original = error.config;
    if (error.response?.status === 401 && !original._retry) {
      original._retry = true;
      await refresh();
      return api(original);
    }
    return Promise.reject(error);
  },
);

await run('naive', api);

// axios-auth-refresh 5.0.2 wired as its README says: createAuthRefresh with a refresh
// function, and a request interceptor that sets the current token.
import axios from 'axios';
import { createAuthRefresh } from 'axios-auth-refresh';
import { BASE, tokens, refresh, run } from './common.mjs';

const api = axios.create({ baseURL: BASE });
const refreshAuthLogic = (failedRequest) =>
  refresh().then(() => {
    failedRequest.response.config.headers['Authorization'] = 'Bearer ' + tokens.access;
    return Promise.resolve();
  });
createAuthRefresh(api, refreshAuthLogic);
api.interceptors.request.use((request) => {
  request.headers['Authorization'] = `Bearer ${tokens.access}`;
  return request;
});

await run('axios-auth-refresh', api);

// The one place the page talks to the API: the key from sessionStorage as a Bearer token.

const KEY = "ringfence.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  // sessionStorage only: never localStorage, a cookie or the URL.
  save: (key) => sessionStorage.setItem(KEY, key),
  forget: () => sessionStorage.removeItem(KEY),
};

let onUnauthenticated = () => {};
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${session.key() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: "http_error", message: response.statusText };
    if (response.status === 401) onUnauthenticated(error.message);
    throw new ApiError(response.status, error.code, error.message);
  }
  return data;
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};
const seg = encodeURIComponent;

export const api = {
  whoami: () => call("GET", "/v1/whoami"),
  rings: (filters) => call("GET", `/v1/rings${q(filters)}`),
  ring: (id) => call("GET", `/v1/rings/${seg(id)}`),
  putCase: (id, body) => call("PUT", `/v1/rings/${seg(id)}/case`, body),
  account: (id) => call("GET", `/v1/accounts/${seg(id)}`),
  labelHistory: (id) => call("GET", `/v1/accounts/${seg(id)}/labels`),
  subgraph: (id, limit) => call("GET", `/v1/accounts/${seg(id)}/subgraph${q({ hops: 1, limit })}`),
  identifier: (type, id, params = {}) => call("GET", `/v1/identifiers/${seg(type)}/${seg(id)}${q(params)}`),
  benign: (type, id, benign) => call("POST", `/v1/identifiers/${seg(type)}/${seg(id)}/benign`, { benign }),
  label: (accountIds, label, note) => call("POST", "/v1/labels", {
    labels: accountIds.map((account_id) => ({ account_id, label, source: "ui", note: note || undefined })),
  }),
};
api.reasons = (id) => call("GET", `/v1/accounts/${seg(id)}/reasons`);

// The dashboard's only way to the ledger: fetch() calls to the public /v1 API with the bearer token
// kept in sessionStorage (never localStorage, never a cookie). A 401 answer throws Unauthorized, and
// the page returns to sign-in; other refusals throw ApiError with the problem's status and detail.

const TOKEN_KEY = "ledger.token";

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** One call: the decoded body and the response headers. */
export async function call(path, params = {}, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token.get() || ""}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, params), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  if (response.status === 401) throw new Unauthorized();
  const decoded = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, decoded && decoded.detail);
  return { body: decoded, headers: response.headers };
}

/** Every row of a projection, following ``next_cursor`` until it is null or absent. */
export async function projection(view, params) {
  const rows = [];
  let cursor = null;
  let last = null;
  do {
    const { body } = await call(`/v1/projections/${view}`, { ...params, cursor });
    rows.push(...body.rows);
    last = body;
    cursor = body.next_cursor || null;
  } while (cursor);
  return { rows, position: last.position, lag: last.lag };
}

/** A retiree's whole history, following the RFC 8288 ``Link: <...>; rel="next"`` header. */
export async function history(id) {
  const entries = [];
  let path = `/v1/retirees/${encodeURIComponent(id)}/history?limit=1000`;
  while (path) {
    const { body, headers } = await call(path);
    entries.push(...body);
    const link = /<([^>]+)>;\s*rel="next"/.exec(headers.get("Link") || "");
    path = link ? link[1] : null;
  }
  return entries;
}

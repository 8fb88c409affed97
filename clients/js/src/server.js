// sessiond-client/server: pattern (a), the app's own /api/session route in
// front of sessiond, on the web-standard Request/Response (Next.js App Router
// route handlers, or any server with fetch). The session token lives in the
// app's HttpOnly cookie; sessiond is called with Authorization: Session, which
// skips its CSRF check, so these helpers check Origin / Sec-Fetch-Site on
// every write themselves.
import { createClient, SessiondError } from './index.js';
import { errorFor } from './errors.js';

export { SessiondError };

function parseCookies(header) {
	const out = {};
	for (const part of (header ?? '').split(';')) {
		const i = part.indexOf('=');
		if (i < 1) continue;
		const k = part.slice(0, i).trim();
		if (!(k in out)) out[k] = part.slice(i + 1).trim();
	}
	return out;
}

function json(status, body, headers = {}) {
	return new Response(JSON.stringify(body), {
		status,
		headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
	});
}

function errorResponse(e, extraHeaders = {}) {
	if (!(e instanceof SessiondError)) throw e;
	const headers = { ...extraHeaders };
	if (e.retryAfter != null) headers['Retry-After'] = String(e.retryAfter);
	const status = e.status || 502;
	const body = { error: { code: e.code, message: e.message } };
	if (e.session !== undefined && e.session !== null) body.session = e.session;
	return json(status, body, headers);
}

// writeAllowed(request, allowedOrigins): a state-changing request came from the app's own pages:
// its Origin is listed (or, with no list, is the request's own origin); without an Origin, the
// browser's Sec-Fetch-Site says same-origin. Anything else (no proof at all too) is refused.
export function writeAllowed(request, allowedOrigins) {
	const origin = request.headers.get('origin');
	if (origin && origin !== 'null') {
		const allowed = allowedOrigins?.length ? allowedOrigins : [new URL(request.url).origin];
		return allowed.includes(origin);
	}
	return request.headers.get('sec-fetch-site') === 'same-origin';
}

// sessionRoute(options): {GET, POST, PATCH, DELETE} for the app's /api/session route.
//   sessiondUrl      where sessiond's /api/sessions/ lives (server to server)
//   clientIp(req)    the browser's address (a Request carries no peer address): from your
//                    platform or edge; sent as X-Forwarded-For, which sessiond believes only
//                    from an address in its trusted_proxies
//   allowedOrigins   origins whose pages may write; default the request's own origin
//   cookieName       the app's cookie (default app_session); cookie: {secure, sameSite, path}
//   accessToken(req, body)  the Auth0 access token for create; default body.accessToken
//   fetch            a fetch to use instead of the global one
// POST with {accessToken, user?, ...fields} creates (user is not sent: sessiond takes the
// identity from the token); POST {action: 'refresh', hours?, rotate?} refreshes;
// POST {action: 'logout-everywhere', keepCurrent?}; GET reads; PATCH updates; DELETE logs out.
export function sessionRoute(options = {}) {
	const { sessiondUrl, clientIp, allowedOrigins } = options;
	if (!sessiondUrl) throw new TypeError('sessionRoute needs sessiondUrl');
	if (typeof clientIp !== 'function') throw new TypeError('sessionRoute needs clientIp(request): a Request carries no peer address');
	const name = options.cookieName ?? 'app_session';
	const c = { secure: true, sameSite: 'Lax', path: '/', ...(options.cookie ?? {}) };
	const attrs = `Path=${c.path}; HttpOnly; SameSite=${c.sameSite}${c.secure ? '; Secure' : ''}`;
	const setCookie = (token, expiresAt) => {
		const age = Math.max(0, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000));
		return `${name}=${token}; ${attrs}; Max-Age=${age}`;
	};
	const clearCookie = `${name}=; ${attrs}; Max-Age=0`;

	const clientFor = (request, token) => createClient({
		baseUrl: sessiondUrl, credentials: 'header', token, fetch: options.fetch, channel: false,
		headers: { 'X-Forwarded-For': String(clientIp(request) ?? ''), 'User-Agent': request.headers.get('user-agent') ?? '' },
	});
	const tokenOf = (request) => parseCookies(request.headers.get('cookie'))[name] || null;
	const refused = () => json(403, { error: { code: 'csrf_failed', message: 'this write did not come from the app\'s own pages (Origin / Sec-Fetch-Site)' } });
	const noSession = (code = 'missing_credentials') =>
		json(401, { error: { code, message: 'no session' } }, { 'Set-Cookie': clearCookie });
	async function readBody(request) {
		const text = await request.text();
		if (!text) return {};
		try {
			const b = JSON.parse(text);
			return b && typeof b === 'object' && !Array.isArray(b) ? b : null;
		} catch {
			return null;
		}
	}
	const badBody = () => json(400, { error: { code: 'invalid_json', message: 'the body is not a JSON object' } });
	// run(request, fn): fn(client) with the session of the app's cookie; errors become answers.
	async function run(request, fn) {
		const token = tokenOf(request);
		if (!token) return noSession();
		const client = clientFor(request, token);
		try {
			return await fn(client);
		} catch (e) {
			const gone = client.getState().status === 'signed-out';
			return errorResponse(e, gone ? { 'Set-Cookie': clearCookie } : {});
		}
	}

	return {
		async GET(request) {
			return run(request, async (client) => {
				const s = await client.current();
				return s ? json(200, s) : noSession(client.getState().reason ?? 'invalid_session');
			});
		},
		async POST(request) {
			if (!writeAllowed(request, allowedOrigins)) return refused();
			const body = await readBody(request);
			if (!body) return badBody();
			if (body.action === 'refresh') {
				return run(request, async (client) => {
					const r = await client.refresh({ hours: body.hours, rotate: body.rotate === true });
					const headers = r.rotated ? { 'Set-Cookie': setCookie(client.getToken(), r.expires_at) } : {};
					return json(200, { expires_at: r.expires_at, rotated: r.rotated }, headers);
				});
			}
			if (body.action === 'logout-everywhere') {
				return run(request, async (client) => {
					const r = await client.logoutEverywhere({ keepCurrent: body.keepCurrent === true });
					return json(200, r, body.keepCurrent === true ? {} : { 'Set-Cookie': clearCookie });
				});
			}
			const { accessToken: fromBody, user: _user, action: _action, ...fields } = body;
			const accessToken = options.accessToken ? await options.accessToken(request, body) : fromBody;
			if (typeof accessToken !== 'string' || !accessToken) {
				return json(400, { error: { code: 'invalid_body', message: 'accessToken (the Auth0 access token) is required' } });
			}
			const client = clientFor(request, null);
			try {
				const s = await client.create(accessToken, fields);
				return json(201, s, { 'Set-Cookie': setCookie(client.getToken(), s.expires_at) });
			} catch (e) {
				return errorResponse(e);
			}
		},
		async PATCH(request) {
			if (!writeAllowed(request, allowedOrigins)) return refused();
			const body = await readBody(request);
			if (!body) return badBody();
			const ifMatch = request.headers.get('if-match');
			return run(request, async (client) => {
				const s = await client.update(body, ifMatch ? { ifMatch: ifMatch.replace(/"/g, '') } : {});
				return json(200, s, { ETag: `"${s.version}"` });
			});
		},
		async DELETE(request) {
			if (!writeAllowed(request, allowedOrigins)) return refused();
			const token = tokenOf(request);
			if (token) await clientFor(request, token).logout().catch(() => {});
			return json(200, { message: 'logged out' }, { 'Set-Cookie': clearCookie });
		},
	};
}

// getSession(request, options): in a server component or middleware, the session of the
// app's cookie, or null. options: {sessiondUrl, clientIp, cookieName, fetch}.
export async function getSession(request, options = {}) {
	const token = parseCookies(request.headers.get('cookie'))[options.cookieName ?? 'app_session'];
	if (!token) return null;
	const client = createClient({
		baseUrl: options.sessiondUrl, credentials: 'header', token, fetch: options.fetch, channel: false,
		headers: { 'X-Forwarded-For': String(options.clientIp?.(request) ?? ''), 'User-Agent': request.headers.get('user-agent') ?? '' },
	});
	return client.current();
}

// serviceClient({sessiondUrl, serviceKey, fetch}): the payment backend's side of billing.
// setBilling(userId, {subscription_plan, subscription_status}) sets them on every live
// session of the user (PATCH /internal/users/{user_id}/) → {count}.
export function serviceClient({ sessiondUrl, serviceKey, fetch: f } = {}) {
	if (!sessiondUrl || !serviceKey) throw new TypeError('serviceClient needs sessiondUrl and serviceKey');
	const doFetch = f ?? ((...a) => globalThis.fetch(...a));
	const base = sessiondUrl.replace(/\/+$/, '') + '/api/sessions';
	return {
		async setBilling(userId, fields) {
			const r = await doFetch(`${base}/internal/users/${encodeURIComponent(userId)}/`, {
				method: 'PATCH',
				headers: { Authorization: `Service ${serviceKey}`, 'Content-Type': 'application/json', Accept: 'application/json' },
				body: JSON.stringify(fields),
			});
			const text = await r.text();
			let body = null;
			try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
			if (r.status !== 200) throw errorFor(r.status, body, r.headers);
			return body;
		},
	};
}

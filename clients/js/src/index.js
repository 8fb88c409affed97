// sessiond-client, the core: one client object per app that talks to
// sessiond's /api/sessions/ routes, keeps the session state, the CSRF token
// and (header mode) the session token, and keeps several tabs in step.
import {
	SessiondError, AuthError, CsrfError, ServerOwnedFieldError, VersionConflictError,
	TooManyFailuresError, UnavailableError, NetworkError, errorFor, BILLING_MESSAGE,
} from './errors.js';

export {
	SessiondError, AuthError, CsrfError, ServerOwnedFieldError, VersionConflictError,
	TooManyFailuresError, UnavailableError, NetworkError, BILLING_MESSAGE,
};

const API = '/api/sessions';
// Members of the guide's createSession() argument that sessiond takes from the verified token
// (sending them is 400 read_only_field), or that are not session fields at all.
const NOT_SENT_ON_CREATE = ['user', 'accessToken'];
const MAX_WAIT_MS = 5000;

// withTenantId(s): the session with tenantId, an alias of tenant.id (null without a tenant).
export function withTenantId(s) {
	if (s && typeof s === 'object') s.tenantId = s.tenant?.id ?? null;
	return s;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const hasWindow = () => typeof window !== 'undefined' && typeof document !== 'undefined';

function storage() {
	try {
		return typeof localStorage !== 'undefined' ? localStorage : null;
	} catch {
		return null; // storage disabled
	}
}

export function createClient(options = {}) {
	const base = (options.baseUrl ?? '').replace(/\/+$/, '') + API;
	const mode = options.credentials ?? 'cookie';
	if (mode !== 'cookie' && mode !== 'header') throw new TypeError("credentials must be 'cookie' or 'header'");
	const doFetch = options.fetch ?? ((...a) => globalThis.fetch(...a));
	const retries = options.retries ?? 2;
	const channelName = options.channel === undefined ? 'sessiond' : options.channel;
	const lockName = `sessiond-rotate ${base}`;
	const epochKey = `sessiond-rotation ${base}`;
	const id = Math.random().toString(36).slice(2);

	let token = options.token ?? null; // header mode only
	let csrf = null;                   // cookie mode: sessiond's X-CSRF-Token
	let state = { status: 'unknown', session: null, reason: null };
	const listeners = new Set();
	const creating = new Map();        // create() in flight or done, by its arguments
	let memEpoch = 0;                  // rotation counter where there is no localStorage
	let localLock = Promise.resolve();
	let channel = null;

	// ---- state ---------------------------------------------------------------------
	function setState(next, event) {
		state = { ...state, ...next };
		for (const fn of [...listeners]) {
			try { fn(state, event); } catch (e) { setTimeout(() => { throw e; }); }
		}
	}
	function signedIn(session, event) {
		setState({ status: 'signed-in', session: withTenantId(session), reason: null }, event);
	}
	function signedOut(reason, event = 'signed-out') {
		token = null;
		csrf = null;
		creating.clear();
		if (state.status !== 'signed-out' || state.reason !== reason) setState({ status: 'signed-out', session: null, reason }, event);
	}
	function broadcast(type) {
		try { channel?.postMessage({ type, from: id }); } catch { /* closed */ }
	}

	// ---- one HTTP exchange -----------------------------------------------------------
	// raw(method, path, o): {status, body, headers}; o: {body, auth, ifMatch, safe}.
	// Retries (safe requests only) on no answer and on 502/503/504.
	async function raw(method, path, o = {}) {
		const headers = { Accept: 'application/json' };
		const extra = typeof options.headers === 'function' ? options.headers() : options.headers;
		if (extra) Object.assign(headers, extra);
		if (o.body !== undefined) headers['Content-Type'] = 'application/json';
		if (o.auth) headers.Authorization = o.auth;
		else if (mode === 'header' && token) headers.Authorization = `Session ${token}`;
		if (mode === 'cookie' && method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
		if (o.ifMatch !== undefined) headers['If-Match'] = `"${String(o.ifMatch).replace(/"/g, '')}"`;
		const init = {
			method, headers,
			body: o.body === undefined ? undefined : JSON.stringify(o.body),
			credentials: mode === 'cookie' ? 'include' : 'omit',
			cache: 'no-store',
		};
		for (let attempt = 0; ; attempt++) {
			let r;
			try {
				r = await doFetch(base + path, init);
			} catch (e) {
				if (o.safe && attempt < retries) { await sleep(200 * 2 ** attempt); continue; }
				throw new NetworkError(`${method} ${path}: no answer from sessiond (${e?.message ?? e})`, { cause: e });
			}
			if (o.safe && attempt < retries && (r.status === 502 || r.status === 503 || r.status === 504)) {
				const ra = Number(r.headers.get('Retry-After'));
				await r.body?.cancel?.();
				await sleep(Math.min(MAX_WAIT_MS, ra > 0 ? ra * 1000 : 200 * 2 ** attempt));
				continue;
			}
			const text = await r.text();
			let body = null;
			try { body = text ? JSON.parse(text) : null; } catch { /* not JSON (a proxy's page) */ }
			const c = r.headers.get('X-CSRF-Token');
			if (c && mode === 'cookie') csrf = c;
			return { status: r.status, body, headers: r.headers };
		}
	}

	// call(method, path, o): the answer of a session-authenticated route, or its typed error.
	// A 401 is confirmed by one GET /current/ before the client goes to signed-out; when the
	// session turns out alive (a sibling tab rotated the cookie) the request, which a 401 shows
	// was not applied, is sent once more unless o.noReplay. A 403 csrf_failed in cookie mode
	// re-reads the CSRF token the same way (it changes with a rotation elsewhere).
	async function call(method, path, o = {}) {
		if (mode === 'cookie' && method !== 'GET' && !csrf && state.status !== 'signed-out') await readCurrent(true);
		const r = await raw(method, path, o);
		if (r.status < 300) return r;
		const err = errorFor(r.status, r.body, r.headers);
		if (r.status === 401) {
			const alive = await readCurrent(true);
			if (alive && !o.replayed && !o.noReplay) return call(method, path, { ...o, replayed: true });
			throw err; // when not alive, readCurrent moved the client to signed-out
		}
		if (err instanceof CsrfError && mode === 'cookie' && !o.replayed) {
			csrf = null;
			if (await readCurrent(true)) return call(method, path, { ...o, replayed: true });
		}
		throw err;
	}

	// readCurrent(quiet, fromPeer): GET /current/ → the session, or null when signed out (401).
	// Callers at the same moment share one request.
	let reading = null;
	function readCurrent(quiet = false, fromPeer = false) {
		if (!reading) reading = getCurrent().finally(() => { reading = null; });
		return reading.then((r) => settleCurrent(r, quiet, fromPeer));
	}
	async function getCurrent() {
		const r = await raw('GET', '/current/', { safe: true });
		// A signed-in client confirms a 401 once: it may have raced a sibling tab's rotation.
		if (r.status === 401 && state.status === 'signed-in' && mode === 'cookie') return raw('GET', '/current/', { safe: true });
		return r;
	}
	function settleCurrent(r, quiet, fromPeer) {
		if (r.status === 200) {
			const before = state.session?.version;
			signedIn(r.body, 'current');
			if (!quiet && !fromPeer && before !== undefined && before !== r.body.version) broadcast('changed');
			return state.session;
		}
		if (r.status === 401) {
			const was = state.status;
			signedOut(r.body?.error?.code ?? 'invalid_session');
			if (was === 'signed-in' && !fromPeer) broadcast('signed-out');
			return null;
		}
		throw errorFor(r.status, r.body, r.headers);
	}

	// ---- rotation across tabs ------------------------------------------------------------
	function readEpoch() {
		const s = storage();
		return s ? s.getItem(epochKey) ?? '0' : String(memEpoch);
	}
	function bumpEpoch() {
		memEpoch++;
		storage()?.setItem(epochKey, `${Date.now()}-${id}-${memEpoch}`);
	}
	function withLock(fn) {
		const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
		if (locks?.request) return locks.request(lockName, { mode: 'exclusive' }, fn);
		const run = localLock.then(fn, fn);
		localLock = run.then(() => {}, () => {});
		return run;
	}
	async function rotate(hours) {
		const seen = readEpoch();
		const seenCsrf = mode === 'cookie' ? csrf : null;
		return withLock(async () => {
			let current = null;
			let rotatedElsewhere = readEpoch() !== seen;
			if (!rotatedElsewhere && seenCsrf !== null) {
				// localStorage reaches other tabs asynchronously, so the epoch may not show a
				// rotation that just ended in another tab. The cookie jar does: the CSRF token
				// follows the session token, so a changed one means the token was rotated.
				current = await readCurrent(true);
				if (!current) throw new AuthError('signed out', { status: 401, code: state.reason ?? 'invalid_session' });
				rotatedElsewhere = csrf !== seenCsrf;
			}
			if (rotatedElsewhere) {
				// Another tab (or call) rotated while this one waited: adopt its token.
				const s = current ?? (await readCurrent(true));
				if (!s) throw new AuthError('signed out', { status: 401, code: state.reason ?? 'invalid_session' });
				return { expires_at: s.expires_at, rotated: false, adopted: true };
			}
			const body = hours === undefined ? { rotate: true } : { rotate: true, hours };
			const r = await call('POST', '/refresh/', { body, noReplay: true }).catch(async (e) => {
				if (e instanceof AuthError && state.status === 'signed-in') {
					// Rotated by a tab outside this lock: the jar already holds its cookie.
					return null;
				}
				throw e;
			});
			if (r === null) return { expires_at: state.session?.expires_at ?? null, rotated: false, adopted: true };
			if (mode === 'header') token = r.body.session_token;
			bumpEpoch();
			if (state.session) signedIn({ ...state.session, expires_at: r.body.expires_at }, 'rotated');
			broadcast('rotated');
			const out = { expires_at: r.body.expires_at, rotated: true, adopted: false };
			if (mode === 'header') out.session_token = r.body.session_token;
			return out;
		});
	}

	// ---- the API ---------------------------------------------------------------------------
	const client = {
		credentials: mode,
		getState: () => state,
		getToken: () => token,
		setToken(t) { token = t; },
		getCsrfToken: () => csrf,
		subscribe(fn) {
			listeners.add(fn);
			return () => listeners.delete(fn);
		},

		// create(accessToken, fields): POST /create/ with the Auth0 access token. Never retried;
		// the same arguments while a create is in flight (or signed in by it) give the same answer.
		create(accessToken, fields = {}) {
			if (typeof accessToken !== 'string' || !accessToken) return Promise.reject(new TypeError('create needs the Auth0 access token'));
			const body = {};
			for (const [k, v] of Object.entries(fields ?? {})) if (!NOT_SENT_ON_CREATE.includes(k)) body[k] = v;
			const key = `${accessToken}\n${JSON.stringify(body)}`;
			if (creating.has(key)) return creating.get(key);
			const p = (async () => {
				const r = await raw('POST', '/create/', { body, auth: `Bearer ${accessToken}` });
				if (r.status !== 201) throw errorFor(r.status, r.body, r.headers);
				token = mode === 'header' ? r.body.session_token : null;
				signedIn(r.body.session, 'created');
				broadcast('signed-in');
				return state.session;
			})();
			creating.set(key, p);
			p.catch(() => creating.delete(key));
			return p;
		},

		// current(): the session, or null when there is none (the client is then signed out).
		current: () => readCurrent(false),

		// update(patch, {ifMatch}): PATCH /current/ with only the given fields. ifMatch: a
		// version, or true for the version this client holds; only then is it retried.
		async update(patch, { ifMatch } = {}) {
			const v = ifMatch === true ? state.session?.version : ifMatch;
			if (ifMatch === true && v === undefined) throw new TypeError('update({ifMatch: true}) needs a session read first');
			try {
				const r = await call('PATCH', '/current/', { body: patch, ifMatch: v ?? undefined, safe: v != null });
				signedIn(r.body, 'updated');
				broadcast('changed');
				return state.session;
			} catch (e) {
				if (e instanceof VersionConflictError) {
					const s = await readCurrent(true);
					e.session = s;
					e.version = s?.version ?? null;
				}
				throw e;
			}
		},

		// refresh({hours, rotate}): extends the expiry; rotates the token only when asked.
		async refresh({ hours, rotate: rot = false } = {}) {
			if (rot) return rotate(hours);
			const r = await call('POST', '/refresh/', { body: hours === undefined ? {} : { hours } });
			if (state.session) signedIn({ ...state.session, expires_at: r.body.expires_at }, 'refreshed');
			broadcast('refreshed');
			return { expires_at: r.body.expires_at, rotated: false, adopted: false };
		},

		async logout() {
			try {
				await call('DELETE', '/current/', { noReplay: true });
			} catch (e) {
				if (!(e instanceof AuthError)) throw e; // already signed out
			}
			signedOut('logged_out');
			broadcast('signed-out');
		},

		async logoutEverywhere({ keepCurrent = false } = {}) {
			const r = await call('POST', '/invalidate-all/', { body: { keep_current: !!keepCurrent } });
			if (!keepCurrent) {
				signedOut('logged_out');
				broadcast('signed-out');
			}
			return r.body;
		},

		async list() {
			const r = await call('GET', '/', { safe: true });
			r.body.sessions.forEach(withTenantId);
			return r.body;
		},

		async revoke(sessionId) {
			const r = await call('DELETE', `/${encodeURIComponent(sessionId)}/`);
			if (state.session && sessionId.toLowerCase() === state.session.id) {
				signedOut('logged_out');
				broadcast('signed-out');
			}
			return r.body;
		},

		// connect(o): in a browser, listen to the other tabs (BroadcastChannel), re-check when the
		// tab becomes visible, and refresh before expiry while the tab is visible. Returns the
		// function that stops all of it. o: {refreshHours, rotate, marginSeconds}.
		connect(o = {}) {
			let timer = null;
			let due = false;
			let stopped = false;
			let stuck = null; // an expiry a refresh could not move (max_lifetime reached)
			const visible = () => !hasWindow() || document.visibilityState !== 'hidden';
			const margin = (left) => Math.min((o.marginSeconds ?? 600) * 1000, left / 10);
			const schedule = () => {
				clearTimeout(timer);
				timer = null;
				if (stopped || state.status !== 'signed-in' || !state.session?.expires_at) return;
				if (state.session.expires_at === stuck) return;
				const left = Date.parse(state.session.expires_at) - Date.now();
				const m = margin(Math.max(left, 0));
				// Jittered so that tabs (and machines waking together) do not all refresh at once.
				const wait = Math.max(0, left - m + Math.random() * m * 0.5 - m * 0.5);
				timer = setTimeout(fire, Math.min(wait, 2 ** 31 - 1));
			};
			const fire = async () => {
				if (!visible()) { due = true; return; }
				due = false;
				const was = state.session?.expires_at;
				try {
					await client.refresh({ hours: o.refreshHours, rotate: !!o.rotate });
					if (state.session?.expires_at === was) stuck = was;
				} catch {
					// A 401 moved the state; anything else is tried again a minute later.
					clearTimeout(timer);
					if (!stopped && state.status === 'signed-in') timer = setTimeout(fire, 60000);
					return;
				}
				schedule();
			};
			const unsub = client.subscribe(() => schedule());
			const onVisible = () => {
				if (document.visibilityState !== 'visible' || state.status === 'signed-out') return;
				if (due) fire();
				else readCurrent(false).then(schedule, () => {});
			};
			if (hasWindow()) document.addEventListener('visibilitychange', onVisible);
			if (channelName && typeof BroadcastChannel !== 'undefined') {
				channel = new BroadcastChannel(channelName);
				channel.onmessage = ({ data }) => {
					if (!data || data.from === id) return;
					readCurrent(false, true).catch(() => {});
				};
			}
			schedule();
			return () => {
				stopped = true;
				clearTimeout(timer);
				unsub();
				if (hasWindow()) document.removeEventListener('visibilitychange', onVisible);
				channel?.close();
				channel = null;
			};
		},
	};
	return client;
}

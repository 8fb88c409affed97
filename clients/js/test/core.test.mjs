// sessiond-client's core against the live stack (real nginx → sessiond →
// PostgreSQL): every method, every error it maps, CSRF in cookie mode, the
// conflict path, the signed-out transition, the retry policy and billing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
	createClient, AuthError, CsrfError, ServerOwnedFieldError, VersionConflictError,
	TooManyFailuresError, NetworkError, SessiondError,
} from 'sessiond-client';
import { BASE, jwt, uniqueSub, sql, jarFetch, recording, ownAddress, noteSecret, SERVICE_KEY } from './live.mjs';

const headerClient = (o = {}) => createClient({ baseUrl: BASE, credentials: 'header', headers: ownAddress(), ...o });

test('create keeps the Auth0 user out of the body, answers the session with tenantId, and subscribers hear it', async () => {
	const sub = uniqueSub('create');
	const token = jwt(sub);
	// What sessiond does with the guide's body as it is: 400 read_only_field.
	const r = await fetch(`${BASE}/api/sessions/create/`, {
		method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...ownAddress() },
		body: JSON.stringify({ user: { name: 'Ada' }, needs_onboarding: true }),
	});
	assert.equal(r.status, 400);
	assert.equal((await r.json()).error.code, 'read_only_field');
	const rec = recording();
	const c = headerClient({ fetch: rec });
	const events = [];
	c.subscribe((s, ev) => events.push(`${ev}:${s.status}`));
	const s = await c.create(token, { user: { name: 'Ada', sub }, needs_onboarding: true, subscription_plan: 'free' });
	noteSecret(c.getToken());
	assert.equal(s.user.id, sub);
	assert.equal(s.user.name, 'Ada');
	assert.equal(s.tenant.id, 'org_1');
	assert.equal(s.tenantId, 'org_1');
	assert.equal(s.needs_onboarding, true);
	assert.equal(s.subscription_plan, 'free');
	assert.equal(c.getToken().length, 43);
	assert.deepEqual(events, ['created:signed-in']);
	assert.deepEqual(rec.log, ['POST /create/ 201']);
	assert.equal((await c.current()).id, s.id);
});

test('create: the same arguments at once make one session (StrictMode double effects)', async () => {
	const sub = uniqueSub('dedupe');
	const token = jwt(sub);
	const c = headerClient();
	const [a, b] = await Promise.all([c.create(token, { needs_onboarding: true }), c.create(token, { needs_onboarding: true })]);
	noteSecret(c.getToken());
	assert.equal(a.id, b.id);
	assert.equal(sql(`SELECT count(*) FROM sessions WHERE user_id = '${sub}'`), '1');
});

test('create with a refused Auth0 token: AuthError invalid_token, never retried', async () => {
	const rec = recording();
	const c = headerClient({ fetch: rec });
	await assert.rejects(c.create('not.a.jwt'), (e) => e instanceof AuthError && e.status === 401 && e.code === 'invalid_token');
	const expired = jwt(uniqueSub('old'), { exp: Math.floor(Date.now() / 1000) - 3600 });
	await assert.rejects(c.create(expired), (e) => e instanceof AuthError && e.code === 'invalid_token');
	assert.deepEqual(rec.log, ['POST /create/ 401', 'POST /create/ 401']);
	assert.equal(c.getState().status, 'unknown');
});

test('update: only the given fields, a version check on request, the conflict hands back the current session', async () => {
	const c = headerClient();
	const s = await c.create(jwt(uniqueSub('update')), { needs_onboarding: true, onboarding_step: 'business_info' });
	noteSecret(c.getToken());
	const u = await c.update({ needs_onboarding: false, onboarding_completed: true, session_data: { theme: 'dark' } });
	assert.equal(u.version, s.version + 1);
	assert.equal(u.onboarding_step, 'business_info'); // not sent, not touched
	assert.equal(u.tenantId, 'org_1');
	const v = await c.update({ session_data: { lang: 'fr' } }, { ifMatch: true });
	assert.deepEqual(v.session_data, { theme: 'dark', lang: 'fr' });
	// Another writer moves the version on: the stale If-Match is a conflict with the current session.
	const other = headerClient({ token: c.getToken() });
	await other.update({ onboarding_step: 'plan' });
	await assert.rejects(c.update({ onboarding_step: 'x' }, { ifMatch: v.version }), (e) => {
		assert.ok(e instanceof VersionConflictError);
		assert.equal(e.status, 412);
		assert.equal(e.code, 'version_conflict');
		assert.equal(e.version, v.version + 1);
		assert.equal(e.session.onboarding_step, 'plan');
		return true;
	});
	// The retry with the version it handed back succeeds.
	const w = await c.update({ onboarding_step: 'done' }, { ifMatch: c.getState().session.version });
	assert.equal(w.onboarding_step, 'done');
});

test('billing from the client: ServerOwnedFieldError explaining the service route; the service route sets it', async () => {
	const sub = uniqueSub('billing');
	const c = headerClient();
	await c.create(jwt(sub), { subscription_plan: 'free' });
	noteSecret(c.getToken());
	await assert.rejects(c.update({ subscription_plan: 'pro', subscription_status: 'active', onboarding_completed: true }), (e) => {
		assert.ok(e instanceof ServerOwnedFieldError);
		assert.equal(e.status, 403);
		assert.equal(e.code, 'server_owned_field');
		assert.match(e.message, /PATCH \/api\/sessions\/internal\/users\/\{user_id\}\//);
		assert.match(e.message, /Authorization: Service/);
		return true;
	});
	assert.equal((await c.current()).onboarding_completed, false); // nothing of that PATCH applied
	const r = await fetch(`${BASE}/api/sessions/internal/users/${encodeURIComponent(sub)}/`, {
		method: 'PATCH', headers: { Authorization: `Service ${SERVICE_KEY}`, 'Content-Type': 'application/json' },
		body: JSON.stringify({ subscription_plan: 'pro', subscription_status: 'active' }),
	});
	assert.equal(r.status, 200);
	const s = await c.current();
	assert.equal(s.subscription_plan, 'pro');
	assert.equal(s.subscription_status, 'active');
	// Sending the value it already has back is allowed (the guide's onboarding step does).
	assert.equal((await c.update({ subscription_plan: 'pro', onboarding_completed: true })).onboarding_completed, true);
});

test('refresh extends without rotating; rotate issues a new token and the old one is dead', async () => {
	const c = headerClient();
	const s = await c.create(jwt(uniqueSub('refresh')));
	const t0 = c.getToken();
	noteSecret(t0);
	const r = await c.refresh({ hours: 48 });
	assert.equal(r.rotated, false);
	assert.equal(c.getToken(), t0);
	assert.ok(Date.parse(r.expires_at) > Date.parse(s.expires_at));
	assert.equal(c.getState().session.expires_at, r.expires_at);
	const r2 = await c.refresh({ rotate: true });
	assert.equal(r2.rotated, true);
	assert.notEqual(c.getToken(), t0);
	assert.equal(r2.session_token, c.getToken());
	noteSecret(c.getToken());
	const old = await fetch(`${BASE}/api/sessions/current/`, { headers: { Authorization: `Session ${t0}`, ...ownAddress() } });
	assert.equal(old.status, 401);
	assert.equal((await c.current()).id, s.id);
});

test('two rotations at once in one context: one rotates, the other adopts, both end signed in', async () => {
	const rec = recording();
	const c = headerClient({ fetch: rec });
	await c.create(jwt(uniqueSub('rot2')));
	noteSecret(c.getToken());
	const [a, b] = await Promise.all([c.refresh({ rotate: true }), c.refresh({ rotate: true })]);
	noteSecret(c.getToken());
	assert.deepEqual([a.rotated, b.adopted], [true, true]);
	assert.equal(rec.log.filter((l) => l.startsWith('POST /refresh/')).length, 1);
	assert.equal(c.getState().status, 'signed-in');
	assert.ok(await c.current());
});

test('a 401 is confirmed by one current(), then the client is signed out and subscribers hear it', async () => {
	const sub = uniqueSub('revoked');
	const rec = recording();
	const c = headerClient({ fetch: rec });
	const s = await c.create(jwt(sub));
	noteSecret(c.getToken());
	const other = headerClient();
	await other.create(jwt(sub));
	noteSecret(other.getToken());
	await other.revoke(s.id);
	const events = [];
	c.subscribe((st, ev) => events.push(`${ev}:${st.status}:${st.reason}`));
	await assert.rejects(c.update({ onboarding_step: 'x' }), (e) => e instanceof AuthError && e.code === 'invalid_session');
	assert.deepEqual(rec.log.slice(1), ['PATCH /current/ 401', 'GET /current/ 401']);
	assert.deepEqual(events, ['signed-out:signed-out:invalid_session']);
	assert.equal(c.getState().session, null);
	assert.equal(other.getState().status, 'signed-in');
});

test('an expired session: current() is null, reason session_expired; a write is AuthError session_expired', async () => {
	const c = headerClient();
	const s = await c.create(jwt(uniqueSub('expired')));
	noteSecret(c.getToken());
	const t = c.getToken();
	sql(`UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = '${s.id}'`);
	sql(`DELETE FROM session_cache`);
	assert.equal(await c.current(), null);
	assert.equal(c.getState().reason, 'session_expired');
	const d = headerClient({ token: t });
	await assert.rejects(d.refresh(), (e) => e instanceof AuthError && e.code === 'session_expired');
});

test('list, revoke, logoutEverywhere and logout', async () => {
	const sub = uniqueSub('list');
	const a = headerClient();
	const b = headerClient();
	const c = headerClient();
	const sa = await a.create(jwt(sub));
	const sb = await b.create(jwt(sub));
	await c.create(jwt(sub));
	noteSecret(a.getToken(), b.getToken(), c.getToken());
	const l = await a.list();
	assert.equal(l.count, 3);
	assert.equal(l.sessions.length, 3);
	assert.equal(l.sessions.filter((x) => x.current).map((x) => x.id).join(), sa.id);
	assert.ok(l.sessions.every((x) => x.tenantId === 'org_1' && !('session_token' in x)));
	assert.match(l.sessions.find((x) => x.current).ip_address, /^198\.51\.100\./);
	assert.equal((await a.revoke(sb.id)).message.length > 0, true);
	await assert.rejects(a.revoke(sb.id), (e) => e instanceof SessiondError && e.status === 404 && e.code === 'session_not_found');
	assert.equal(await b.current(), null);
	const kept = await a.logoutEverywhere({ keepCurrent: true });
	assert.equal(kept.count, 1); // c's
	assert.equal(a.getState().status, 'signed-in');
	assert.ok(await a.current());
	assert.equal(await c.current(), null);
	const d = headerClient();
	await d.create(jwt(sub));
	noteSecret(d.getToken());
	const all = await d.logoutEverywhere();
	assert.equal(all.count, 2);
	assert.equal(d.getState().status, 'signed-out');
	assert.equal(await a.current(), null);
	const e = headerClient();
	await e.create(jwt(sub));
	noteSecret(e.getToken());
	const t = e.getToken();
	await e.logout();
	assert.equal(e.getState().status, 'signed-out');
	assert.equal(e.getState().reason, 'logged_out');
	const after = await fetch(`${BASE}/api/sessions/current/`, { headers: { Authorization: `Session ${t}`, ...ownAddress() } });
	assert.equal(after.status, 401);
	await assert.rejects(e.update({ onboarding_step: 'x' }), (err) => err instanceof AuthError && err.code === 'missing_credentials');
});

test('cookie mode: the client keeps X-CSRF-Token and sends it on writes; a write without it is refused', async () => {
	const jf = jarFetch();
	const c = createClient({ baseUrl: BASE, credentials: 'cookie', fetch: jf, headers: ownAddress() });
	const s = await c.create(jwt(uniqueSub('cookie')), { needs_onboarding: true });
	assert.equal(c.getToken(), null); // the token lives in the cookie only
	assert.equal(jf.jar.size, 1);
	const csrf = c.getCsrfToken();
	assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
	// A cookie-authenticated write from elsewhere: the cookie alone (no Origin from Node, no token) is refused.
	const bare = await jf(`${BASE}/api/sessions/current/`, {
		method: 'PATCH', headers: { 'Content-Type': 'application/json', ...ownAddress() }, body: '{"onboarding_step":"forged"}',
	});
	assert.equal(bare.status, 403);
	assert.equal((await bare.json()).error.code, 'csrf_failed');
	const u = await c.update({ onboarding_step: 'mine' });
	assert.equal(u.onboarding_step, 'mine');
	// Rotation: a new cookie and a new CSRF token, both used from then on.
	const r = await c.refresh({ rotate: true });
	assert.equal(r.rotated, true);
	assert.equal(r.session_token, undefined);
	assert.notEqual(c.getCsrfToken(), csrf);
	assert.equal((await c.update({ onboarding_step: 'after-rotation' })).id, s.id);
	// A page that starts with the cookie only reads the token with its first GET, then writes.
	const fresh = createClient({ baseUrl: BASE, credentials: 'cookie', fetch: jf, headers: ownAddress() });
	assert.equal((await fresh.update({ onboarding_step: 'fresh-tab' })).onboarding_step, 'fresh-tab');
	// Where a proxy strips the header, the write fails with CsrfError (once re-read, then given up).
	const stripping = async (url, init = {}) => {
		const h = new Headers(init.headers);
		h.delete('X-CSRF-Token');
		return jf(url, { ...init, headers: h });
	};
	const stripped = createClient({ baseUrl: BASE, credentials: 'cookie', fetch: recording(stripping), headers: ownAddress() });
	await assert.rejects(stripped.update({ onboarding_step: 'x' }), (e) => e instanceof CsrfError && e.status === 403 && e.code === 'csrf_failed');
	await c.logout();
	assert.equal(jf.jar.size, 0);
	assert.equal(await fresh.current(), null);
	assert.equal(fresh.getState().reason, 'missing_credentials');
});

test('too_many_failures carries Retry-After', async () => {
	const addr = { 'X-Forwarded-For': '203.0.113.77' };
	const c = createClient({ baseUrl: BASE, credentials: 'header', headers: addr });
	let last;
	for (let i = 0; i < 8 && !(last instanceof TooManyFailuresError); i++) {
		c.setToken('A'.repeat(42) + String.fromCharCode(65 + i));
		last = await c.refresh().then(() => null, (e) => e);
	}
	assert.ok(last instanceof TooManyFailuresError, `got ${last}`);
	assert.equal(last.status, 429);
	assert.equal(last.code, 'too_many_failures');
	assert.ok(Number.isInteger(last.retryAfter) && last.retryAfter > 0, `retryAfter ${last.retryAfter}`);
});

test('retries: only GET and PATCH with If-Match are re-sent when no answer came; never create, a bare PATCH or a rotation', async () => {
	// A port nothing listens on: every attempt gets no answer.
	const net = await import('node:net');
	const srv = net.createServer();
	await new Promise((res) => srv.listen(0, '127.0.0.1', res));
	const dead = `http://127.0.0.1:${srv.address().port}`;
	await new Promise((res) => srv.close(res));
	const rec = recording();
	const c = createClient({ baseUrl: dead, credentials: 'header', token: 'B'.repeat(43), fetch: rec, retries: 2 });
	await assert.rejects(c.current(), NetworkError);
	await assert.rejects(c.update({ onboarding_step: 'x' }, { ifMatch: 3 }), NetworkError);
	await assert.rejects(c.update({ onboarding_step: 'x' }), NetworkError);
	await assert.rejects(c.refresh({ rotate: true }), NetworkError);
	await assert.rejects(c.create('a.b.c'), NetworkError);
	assert.deepEqual(rec.log, [
		'GET /current/ 0', 'GET /current/ 0', 'GET /current/ 0',
		'PATCH /current/ 0', 'PATCH /current/ 0', 'PATCH /current/ 0',
		'PATCH /current/ 0',
		'POST /refresh/ 0',
		'POST /create/ 0',
	]);
});

// sessiond-client/server against the live stack: the legacy /api/session
// route as web-standard Request → Response handlers (what a Next.js App Router
// route exports), the app's own HttpOnly cookie, the caller-given client
// address, the Origin / Sec-Fetch-Site check on writes, and the payment
// backend's service client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionRoute, getSession, serviceClient, writeAllowed } from 'sessiond-client/server';
import { createClient } from 'sessiond-client';
import { BASE, SERVICE_KEY, jwt, uniqueSub, noteSecret } from './live.mjs';

const APP = 'https://app.example.test';
const route = sessionRoute({ sessiondUrl: BASE, clientIp: () => '192.0.2.55', allowedOrigins: [APP] });

// req(method, {origin, site, cookie, body, ifMatch}): a Request as the browser would send it to the app.
function req(method, o = {}) {
	const headers = { 'User-Agent': 'Mozilla/5.0 (js client test)' };
	if (o.origin) headers.Origin = o.origin;
	if (o.site) headers['Sec-Fetch-Site'] = o.site;
	if (o.cookie) headers.Cookie = o.cookie;
	if (o.ifMatch) headers['If-Match'] = o.ifMatch;
	if (o.body !== undefined) headers['Content-Type'] = 'application/json';
	return new Request(`${APP}/api/session`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
}
function cookieOf(res) {
	const line = res.headers.get('set-cookie') ?? '';
	const v = /^app_session=([^;]*)/.exec(line)?.[1] ?? null;
	noteSecret(v);
	return { line, value: v, cookie: `app_session=${v}` };
}

test('create through the route: app cookie HttpOnly, no token in the body, user not sent, client address recorded', async () => {
	const sub = uniqueSub('route');
	const res = await route.POST(req('POST', { origin: APP, body: {
		accessToken: jwt(sub), user: { name: 'Ada', sub }, needs_onboarding: true, onboarding_step: 'business_info', subscription_plan: 'free' } }));
	assert.equal(res.status, 201);
	const c = cookieOf(res);
	assert.match(c.line, /^app_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/);
	const body = await res.json();
	assert.equal(body.user.id, sub);
	assert.equal(body.tenantId, 'org_1');
	assert.ok(!JSON.stringify(body).includes(c.value), 'the token is not in the body');
	// The address the caller passed and the browser's User-Agent are what sessiond recorded.
	const list = await createClient({ baseUrl: BASE, credentials: 'header', token: c.value }).list();
	const mine = list.sessions.find((s) => s.current);
	assert.equal(mine.ip_address, '192.0.2.55');
	assert.equal(mine.user_agent, 'Mozilla/5.0 (js client test)');

	const got = await route.GET(req('GET', { cookie: c.cookie }));
	assert.equal(got.status, 200);
	assert.equal((await got.json()).id, body.id);
	const s = await getSession(req('GET', { cookie: c.cookie }), { sessiondUrl: BASE, clientIp: () => '192.0.2.55' });
	assert.equal(s.id, body.id);
	assert.equal(await getSession(req('GET'), { sessiondUrl: BASE }), null);
});

test('writes need the app\'s Origin or Sec-Fetch-Site: same-origin', async () => {
	const res = await route.POST(req('POST', { origin: APP, body: { accessToken: jwt(uniqueSub('origin')) } }));
	const c = cookieOf(res);
	for (const o of [{ origin: 'https://evil.example.test' }, { origin: 'null' }, {}, { site: 'same-site' }, { site: 'cross-site' }]) {
		const r = await route.PATCH(req('PATCH', { ...o, cookie: c.cookie, body: { onboarding_step: 'forged' } }));
		assert.equal(r.status, 403, JSON.stringify(o));
		assert.equal((await r.json()).error.code, 'csrf_failed');
		const d = await route.DELETE(req('DELETE', { ...o, cookie: c.cookie }));
		assert.equal(d.status, 403);
	}
	const forgedCreate = await route.POST(req('POST', { origin: 'https://evil.example.test', body: { accessToken: jwt(uniqueSub('evil')) } }));
	assert.equal(forgedCreate.status, 403);
	assert.equal((await (await route.GET(req('GET', { cookie: c.cookie }))).json()).onboarding_step, null);
	const ok = await route.PATCH(req('PATCH', { site: 'same-origin', cookie: c.cookie, body: { onboarding_step: 'plan' } }));
	assert.equal(ok.status, 200);
	assert.equal(ok.headers.get('etag'), '"2"');
	assert.equal((await ok.json()).onboarding_step, 'plan');
	const stale = await route.PATCH(req('PATCH', { origin: APP, cookie: c.cookie, ifMatch: '"1"', body: { onboarding_step: 'x' } }));
	assert.equal(stale.status, 412);
	const sb = await stale.json();
	assert.equal(sb.error.code, 'version_conflict');
	assert.equal(sb.session.version, 2);
	assert.equal(writeAllowed(new Request(`${APP}/x`, { method: 'POST', headers: { Origin: APP } })), true);
	assert.equal(writeAllowed(new Request(`${APP}/x`, { method: 'POST', headers: { Origin: 'https://other.test' } })), false);
});

test('billing through the route is refused with the explanation; the service client sets it', async () => {
	const sub = uniqueSub('routebilling');
	const c = cookieOf(await route.POST(req('POST', { origin: APP, body: { accessToken: jwt(sub), subscription_plan: 'free' } })));
	const r = await route.PATCH(req('PATCH', { origin: APP, cookie: c.cookie, body: { subscription_plan: 'pro', subscription_status: 'active' } }));
	assert.equal(r.status, 403);
	const e = (await r.json()).error;
	assert.equal(e.code, 'server_owned_field');
	assert.match(e.message, /internal\/users/);
	const svc = serviceClient({ sessiondUrl: BASE, serviceKey: SERVICE_KEY });
	assert.deepEqual(await svc.setBilling(sub, { subscription_plan: 'pro', subscription_status: 'active' }), { count: 1 });
	const s = await (await route.GET(req('GET', { cookie: c.cookie }))).json();
	assert.equal(s.subscription_plan, 'pro');
	const wrong = serviceClient({ sessiondUrl: BASE, serviceKey: 'wrong-wrong-wrong-wrong' });
	await assert.rejects(wrong.setBilling(sub, { subscription_plan: 'x' }), (err) => err.status === 401 && err.code === 'invalid_service_key');
});

test('refresh, rotation (a new app cookie), logout everywhere and logout through the route', async () => {
	const sub = uniqueSub('routerot');
	const c = cookieOf(await route.POST(req('POST', { origin: APP, body: { accessToken: jwt(sub) } })));
	const plain = await route.POST(req('POST', { origin: APP, cookie: c.cookie, body: { action: 'refresh', hours: 2 } }));
	assert.equal(plain.status, 200);
	assert.equal(plain.headers.get('set-cookie'), null);
	assert.equal((await plain.json()).rotated, false);
	const rot = await route.POST(req('POST', { origin: APP, cookie: c.cookie, body: { action: 'refresh', rotate: true } }));
	assert.equal(rot.status, 200);
	const c2 = cookieOf(rot);
	assert.notEqual(c2.value, c.value);
	const old = await route.GET(req('GET', { cookie: c.cookie }));
	assert.equal(old.status, 401);
	assert.equal((await old.json()).error.code, 'invalid_session');
	assert.match(old.headers.get('set-cookie'), /^app_session=; .*Max-Age=0$/);
	assert.equal((await route.GET(req('GET', { cookie: c2.cookie }))).status, 200);
	const other = cookieOf(await route.POST(req('POST', { origin: APP, body: { accessToken: jwt(sub) } })));
	const all = await route.POST(req('POST', { origin: APP, cookie: c2.cookie, body: { action: 'logout-everywhere', keepCurrent: true } }));
	assert.equal((await all.json()).count, 1);
	assert.equal((await route.GET(req('GET', { cookie: other.cookie }))).status, 401);
	const out = await route.DELETE(req('DELETE', { origin: APP, cookie: c2.cookie }));
	assert.equal(out.status, 200);
	assert.match(out.headers.get('set-cookie'), /Max-Age=0$/);
	assert.equal((await route.GET(req('GET', { cookie: c2.cookie }))).status, 401);
	assert.equal((await route.GET(req('GET'))).status, 401);
	const bad = await route.POST(req('POST', { origin: APP, body: { needs_onboarding: true } }));
	assert.equal(bad.status, 400);
	assert.equal((await route.POST(new Request(`${APP}/api/session`, { method: 'POST', headers: { Origin: APP }, body: '[1' }))).status, 400);
});

// Pattern (a) of docs/frontend.md, as the legacy Next.js /api/session route
// talks to the session service: server-side fetch() with
// "Authorization: Session <token>", the browser's address in X-Forwarded-For
// and its User-Agent, no cookie and no Origin (a server sends none). Runs the
// frontend's flow and prints one JSON line: the status (and error code) of
// each step. The session token is written to the file named by
// LEGACY_TOKEN_FILE (so the test can check no log holds it), never printed.
//
//   LEGACY_JWT=... LEGACY_TOKEN_FILE=... node legacy-proxy.mjs BASE_URL CLIENT_IP USER_AGENT
import { writeFileSync } from 'node:fs';

const [base, clientIp, userAgent] = process.argv.slice(2);
const jwt = process.env.LEGACY_JWT;
const steps = [];

async function call(name, method, path, auth, body) {
	const headers = { Authorization: auth, 'X-Forwarded-For': clientIp, 'User-Agent': userAgent };
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	const text = await r.text();
	let json = null;
	try { json = JSON.parse(text); } catch { /* 204 or not JSON */ }
	steps.push({ name, status: r.status, code: json?.error?.code ?? null, setCookie: r.headers.has('set-cookie') });
	return json;
}

// Registration / login: the body the legacy route sends on create.
const created = await call('create', 'POST', '/api/sessions/create/', `Bearer ${jwt}`,
	{ needs_onboarding: true, onboarding_step: 'business_info', subscription_plan: 'free', session_type: 'web' });
const token = created?.session_token;
if (!token) {
	console.log(JSON.stringify({ steps }));
	process.exit(1);
}
writeFileSync(process.env.LEGACY_TOKEN_FILE, token + '\n');
const S = `Session ${token}`;
const current = await call('current', 'GET', '/api/sessions/current/', S);
// Onboarding completion: what useSession's update() sends.
const patched = await call('complete_onboarding', 'PATCH', '/api/sessions/current/', S,
	{ needs_onboarding: false, onboarding_completed: true, onboarding_step: null, session_data: { company: 'Acme' } });
await call('refresh', 'POST', '/api/sessions/refresh/', S, { hours: 24 });
await call('logout', 'DELETE', '/api/sessions/current/', S);
await call('after_logout', 'GET', '/api/sessions/current/', S);
console.log(JSON.stringify({
	steps,
	session_id: created.session.id,
	current_id: current?.id ?? null,
	onboarding_completed: patched?.onboarding_completed ?? null,
	version: patched?.version ?? null,
}));

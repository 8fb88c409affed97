// What the live tests share: the stack they run against (from the environment
// tests/integration/25_js_client.sh sets), JWTs minted with the stack's key,
// SQL on its database, a cookie jar over the real fetch, and a fetch that
// records what went out. Every credential made here is written to
// SECRETS_FILE, so the test's log check can prove none reached a log.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

export const BASE = process.env.SESSIOND_BASE;
if (!BASE) throw new Error('SESSIOND_BASE is not set: run through tests/integration/25_js_client.sh');
export const SERVICE_KEY = readFileSync(process.env.SERVICE_KEY_FILE, 'utf8').trim();

export function noteSecret(...values) {
	for (const v of values) if (typeof v === 'string' && v.length >= 16) appendFileSync(process.env.SECRETS_FILE, v + '\n');
}

let n = 0;
// jwt(sub, extra): an Auth0-shaped access token for sub, signed with the stack's key.
export function jwt(sub, extra = {}) {
	const now = Math.floor(Date.now() / 1000);
	const claims = {
		iss: 'https://sessiond.local/', aud: ['https://api.sessiond.local'], sub, iat: now, exp: now + 3600,
		email: 'ada@example.com', name: 'Ada', org_id: 'org_1', org_name: 'Acme', ...extra,
	};
	const t = execFileSync(process.env.MINT, ['sign', '--key', `${process.env.KEYS}/dev.key.pem`, '--kid', 'dev',
		'--claims-json', JSON.stringify(claims)], { encoding: 'utf8' }).trim();
	noteSecret(t);
	return t;
}
export const uniqueSub = (label) => `auth0|js-${label}-${process.pid}-${++n}`;

// sql(statement): its unaligned output, through the test's psql wrapper.
export const sql = (statement) => execFileSync(process.env.SQL_SH, [statement], { encoding: 'utf8' }).trim();

// A fetch that keeps a cookie jar (what a browser does in cookie mode), over the real fetch.
export function jarFetch() {
	const jar = new Map();
	const f = async (url, init = {}) => {
		const headers = new Headers(init.headers);
		if (jar.size) headers.set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
		const r = await fetch(url, { ...init, headers });
		for (const line of r.headers.getSetCookie()) {
			const [kv, ...attrs] = line.split(';');
			const i = kv.indexOf('=');
			const k = kv.slice(0, i).trim();
			const v = kv.slice(i + 1).trim();
			noteSecret(v);
			if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || v === '') jar.delete(k);
			else jar.set(k, v);
		}
		return r;
	};
	f.jar = jar;
	return f;
}

// recording(inner): a fetch that records "METHOD path status" of every exchange (status 0: no answer).
export function recording(inner = fetch) {
	const log = [];
	const f = async (url, init = {}) => {
		const path = new URL(url).pathname.replace(/^\/api\/sessions/, '');
		try {
			const r = await inner(url, init);
			log.push(`${init.method ?? 'GET'} ${path} ${r.status}`);
			return r;
		} catch (e) {
			log.push(`${init.method ?? 'GET'} ${path} 0`);
			throw e;
		}
	};
	f.log = log;
	return f;
}

// An address of its own per test, so the brute-force guard's counts stay apart (trusted_proxies = 127.0.0.1).
let ip = 10;
export const ownAddress = () => ({ 'X-Forwarded-For': `198.51.100.${ip++}` });

// Validates real answers recorded by the integration tests against
// docs/openapi.yaml: the status is documented for that path and method, the
// JSON body matches the response schema, required headers are present and
// every documented header present matches its schema. Prints one PASS:/FAIL:
// line per answer, then one per operation never exercised.
//
//   node validate-responses.mjs OPENAPI.yaml RECORDS.jsonl
//
// A record is {"method","path","status","headers":{lower-case name: value},"body"}.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [docFile, recFile] = process.argv.slice(2);
const doc = parse(readFileSync(docFile, 'utf8'), { merge: true });
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let failed = 0;
const pass = (m) => console.log(`PASS: ${m}`);
const fail = (m) => { failed++; console.log(`FAIL: ${m}`); };

// '#/components/x/y' → the object, for response and header references.
function deref(o) {
	while (o && o.$ref) {
		o = o.$ref.slice(2).split('/').reduce((a, k) => a[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
	}
	return o;
}

function validator(pointer) {
	return ajv.getSchema(`openapi#${pointer}`) || ajv.compile({ $ref: `openapi#${pointer}` });
}

// Path templates, literal ones first (so /current/ never matches /{session_id}/).
const templates = Object.keys(doc.paths)
	.map((t) => ({
		t,
		params: (t.match(/\{/g) || []).length,
		re: new RegExp('^' + t.replace(/\/$/, '').replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+') + '/?$'),
	}))
	.sort((a, b) => a.params - b.params);

function esc(p) { return p.replace(/~/g, '~0').replace(/\//g, '~1'); }

function checkBody(label, rec, respPtr, resp) {
	const body = rec.body ?? '';
	const ctype = (rec.headers['content-type'] || '').split(';')[0].trim();
	if (body === '') {
		if (resp.content && Object.keys(resp.content).length && rec.status !== 204) {
			// Documented with a body: an empty one is a drift (except nginx's auth_request-style answers).
			return `empty body, the document says ${Object.keys(resp.content).join(', ')}`;
		}
		return null;
	}
	if (!resp.content) return `a body (${ctype}) the document does not describe`;
	const media = Object.keys(resp.content).find((m) => m === ctype);
	if (!media) return `content type ${ctype}, the document has ${Object.keys(resp.content).join(', ')}`;
	const schema = resp.content[media].schema;
	if (!schema) return null;
	if (ctype !== 'application/json') return null;
	let data;
	try { data = JSON.parse(body); } catch (e) { return `body is not JSON: ${e.message}`; }
	const v = validator(`${respPtr}/content/${esc(media)}/schema`);
	if (!v(data)) return `body does not match the schema: ${ajv.errorsText(v.errors)}; body ${body.slice(0, 200)}`;
	return null;
}

function checkHeaders(rec, respPtr, resp) {
	const problems = [];
	for (const [name, h0] of Object.entries(resp.headers || {})) {
		const h = deref(h0);
		const got = rec.headers[name.toLowerCase()];
		if (got === undefined) {
			if (h.required) problems.push(`required header ${name} missing`);
			continue;
		}
		if (h.schema) {
			const ptr = h0.$ref ? `${h0.$ref.slice(1)}/schema` : `${respPtr}/headers/${esc(name)}/schema`;
			const v = validator(ptr);
			if (!v(got)) problems.push(`header ${name}: '${got}' ${ajv.errorsText(v.errors)}`);
		}
	}
	return problems;
}

const seen = new Set();
const records = readFileSync(recFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
for (const rec of records) {
	const method = rec.method.toLowerCase();
	const label = `${rec.method} ${rec.path} → ${rec.status}`;
	const problems = [];
	if (rec.headers['cache-control'] !== 'no-store') problems.push(`Cache-Control '${rec.headers['cache-control']}', want no-store`);
	const tpl = templates.find((x) => x.re.test(rec.path.split('?')[0]));
	let respPtr = null;
	if (!tpl) {
		if (rec.status !== 404) problems.push('no such path in the document');
		else respPtr = '/components/responses/NotFound';
	} else if (!doc.paths[tpl.t][method]) {
		if (rec.status !== 405) problems.push(`no ${rec.method} for ${tpl.t} in the document`);
		else if (!rec.headers.allow) problems.push('405 without Allow');
		else respPtr = '/components/schemas/Error'; // validated as a bare schema below
	} else {
		const op = doc.paths[tpl.t][method];
		const key = String(rec.status);
		if (!op.responses[key]) problems.push(`status ${key} is not documented for ${rec.method} ${tpl.t}`);
		else {
			seen.add(`${method} ${tpl.t}`);
			const r0 = op.responses[key];
			respPtr = r0.$ref ? r0.$ref.slice(1) : `/paths/${esc(tpl.t)}/${method}/responses/${key}`;
		}
	}
	if (respPtr === '/components/schemas/Error') {
		const v = validator(respPtr);
		let data = null;
		try { data = JSON.parse(rec.body); } catch { /* reported below */ }
		if (!v(data)) problems.push(`405 body is not an Error: ${rec.body.slice(0, 200)}`);
	} else if (respPtr) {
		const resp = deref(respPtr.slice(1).split('/').reduce((a, k) => a[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc));
		const b = checkBody(label, rec, respPtr, resp);
		if (b) problems.push(b);
		problems.push(...checkHeaders(rec, respPtr, resp));
	}
	if (problems.length) fail(`openapi: ${label}: ${problems.join('; ')}`);
	else pass(`openapi: ${label} matches the document`);
}

for (const [t, item] of Object.entries(doc.paths)) {
	for (const m of METHODS) {
		if (item[m] && !seen.has(`${m} ${t}`)) fail(`openapi: ${m.toUpperCase()} ${t} was never exercised against the document`);
	}
}
console.log(`openapi: ${records.length} answers checked, ${failed} problems`);
process.exit(failed ? 1 : 0);

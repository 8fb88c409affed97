// The app's backend in the browser test: the payment webhook, which sets the
// user's plan through sessiond's service route with sessiond-client/server.
//   SERVICE_KEY_FILE=... node backend.mjs PORT SESSIOND_URL
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { serviceClient } from 'sessiond-client/server';

const [port, sessiondUrl] = process.argv.slice(2);
const billing = serviceClient({ sessiondUrl, serviceKey: readFileSync(process.env.SERVICE_KEY_FILE, 'utf8').trim() });

createServer(async (req, res) => {
	let body = '';
	for await (const chunk of req) body += chunk;
	const send = (status, obj) => {
		res.writeHead(status, { 'Content-Type': 'application/json' });
		res.end(JSON.stringify(obj));
	};
	if (req.method !== 'POST' || req.url !== '/backend/payment-webhook') return send(404, { error: { code: 'not_found' } });
	try {
		const { user_id: userId, plan } = JSON.parse(body);
		send(200, await billing.setBilling(userId, { subscription_plan: plan, subscription_status: 'active' }));
	} catch (e) {
		send(e.status || 500, { error: { code: e.code ?? 'internal_error' } });
	}
}).listen(Number(port), '127.0.0.1', () => console.log('listening'));

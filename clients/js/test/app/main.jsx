// The React app the browser test loads (bundled by build.mjs): the guide's
// flows over sessiond-client/react in cookie mode, same origin, under
// StrictMode. The guide's own component (../guide/component.jsx) renders the
// session; the rest is what an app around it does. Everything a test reads is
// on the page; window.app holds the hooks the WebDriver test calls.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient, ServerOwnedFieldError } from 'sessiond-client';
import { SessionProvider, useSession, useSessionClient } from 'sessiond-client/react';
import { MyComponent } from '../guide/component.jsx';

const client = createClient({ baseUrl: '', credentials: 'cookie' });
const loadId = Math.random().toString(36).slice(2);
const say = (id, text) => { document.getElementById(id).textContent = text; };

// The Auth0 callback page: the SDK has handed over the access token (the test puts it in
// sessionStorage); one createSession even though StrictMode runs this effect twice.
function Callback({ done }) {
	const { createSession } = useSession();
	useEffect(() => {
		const auth0Token = sessionStorage.getItem('auth0Token');
		const auth0User = { sub: 'from-the-sdk', name: 'Ada (SDK)', email: 'ada@example.com' };
		createSession({ accessToken: auth0Token, user: auth0User, needs_onboarding: true, subscription_plan: 'free' })
			.then(() => { sessionStorage.removeItem('auth0Token'); done(); }, (e) => say('callback', `create failed: ${e.code}`));
	}, []);
	return <p id="callback">Signing in…</p>;
}

// The payment step, as the guide's handler meant it (updateSession taken from the hook in the
// component, not inside the handler). The billing fields are refused from the browser; the
// payment provider's webhook reaches the app's backend, which sets them through the service route.
function Payment() {
	const { session, updateSession, isAuthenticated } = useSession();
	const c = useSessionClient();
	const [note, setNote] = useState('');
	if (!isAuthenticated()) return null;
	const handlePaymentSuccess = async (paymentData) => {
		try {
			await updateSession({ subscription_plan: paymentData.plan, subscription_status: 'active', needs_onboarding: false, onboarding_completed: true });
			setNote('updated by the browser');
		} catch (error) {
			if (!(error instanceof ServerOwnedFieldError)) { setNote(`failed: ${error.code}`); return; }
			setNote(`refused: ${error.code}`);
			// What the payment provider does: its webhook reaches the backend (simulated here by the page).
			const r = await fetch('/backend/payment-webhook', {
				method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ user_id: session.user.id, plan: paymentData.plan }),
			});
			await c.current(); // this tab reads the new plan; the others hear of it by BroadcastChannel
			setNote(`refused: ${error.code}; webhook ${r.status}; plan now ${c.getState().session?.subscription_plan}`);
		}
	};
	return (
		<section>
			<button id="pay" onClick={() => handlePaymentSuccess({ plan: 'pro' })}>Pay for Pro</button>
			<p id="payment">{note}</p>
		</section>
	);
}

function Status() {
	const { session, loading, isAuthenticated, logout } = useSession();
	const st = useSessionClient().getState();
	return (
		<footer id="status" data-status={st.status} data-reason={st.reason ?? ''} data-version={session?.version ?? ''}
			data-plan={session?.subscription_plan ?? ''} data-loading={String(loading)}>
			{st.status}{st.reason ? ` (${st.reason})` : ''} {session ? `v${session.version} ${session.tenantId}` : ''}
			{isAuthenticated() && <button id="logout" onClick={() => logout()}>Log out</button>}
		</footer>
	);
}

function App() {
	const [route, setRoute] = useState(location.hash);
	useEffect(() => {
		const on = () => setRoute(location.hash);
		window.addEventListener('hashchange', on);
		return () => window.removeEventListener('hashchange', on);
	}, []);
	return (
		<main>
			<p id="load">load {loadId}</p>
			{route === '#/callback' ? <Callback done={() => { location.hash = '#/'; }} /> : <MyComponent />}
			<Payment />
			<Status />
		</main>
	);
}

// Hooks for the WebDriver test: what a tab does on its own (a rotation, a re-check) and a
// hand-written write without the CSRF token.
window.app = {
	loadId,
	client,
	rotate: () => client.refresh({ rotate: true }),
	check: () => client.current().then((s) => (s ? 'signed-in' : 'signed-out')),
	rawPatch: async () => {
		const r = await fetch('/api/sessions/current/', {
			method: 'PATCH', credentials: 'include', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ onboarding_step: 'forged' }),
		});
		return `${r.status} ${(await r.json()).error?.code ?? ''}`;
	},
	// Holds the rotation lock until release() is called, so that two tabs queue behind it.
	holdLock: () => new Promise((held) => {
		navigator.locks.request("sessiond-rotate /api/sessions", () =>
			new Promise((release) => { window.app.release = release; held('held'); }));
	}),
};

createRoot(document.getElementById('root')).render(
	<StrictMode>
		<SessionProvider client={client}>
			<App />
		</SessionProvider>
	</StrictMode>,
);

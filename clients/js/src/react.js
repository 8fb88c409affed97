// sessiond-client/react: SessionProvider and useSession(), the surface of the
// migration guide (session, loading, error, isAuthenticated(), needsOnboarding(),
// updateSession(), createSession(), logout()) over one core client per app.
import { createContext, createElement, useContext, useEffect, useMemo, useState } from 'react';
import { createClient } from './index.js';

const SessionContext = createContext(null);

// <SessionProvider client? baseUrl? credentials? refresh?>: refresh is connect()'s options
// ({refreshHours, rotate, marginSeconds}).
export function SessionProvider({ children, client, baseUrl, credentials, refresh }) {
	// A state initializer (not an effect) so React 18 StrictMode's double effects share one client.
	const [c] = useState(() => client ?? createClient({ baseUrl, credentials }));
	const [view, setView] = useState(() => ({ state: c.getState(), error: null }));
	const refreshKey = JSON.stringify(refresh ?? {});

	useEffect(() => {
		const unsubscribe = c.subscribe((state) => setView({ state, error: null }));
		const disconnect = c.connect(JSON.parse(refreshKey));
		if (c.getState().status === 'unknown') {
			c.current().catch((e) => setView({ state: c.getState(), error: e.message || String(e) }));
		} else {
			setView({ state: c.getState(), error: null });
		}
		return () => {
			unsubscribe();
			disconnect();
		};
	}, [c, refreshKey]);

	const value = useMemo(() => {
		const { state, error } = view;
		return {
			client: c,
			session: state.session,
			loading: state.status === 'unknown' && error === null,
			error,
			isAuthenticated: () => state.status === 'signed-in',
			needsOnboarding: () => state.status === 'signed-in' && state.session?.needs_onboarding === true,
			// The Auth0 user stays out of the request: sessiond takes the identity from the token.
			createSession: ({ accessToken, user: _user, ...fields }) =>
				c.create(accessToken, fields).catch((e) => {
					setView({ state: c.getState(), error: e.message || String(e) });
					throw e;
				}),
			updateSession: (patch) => c.update(patch),
			logout: () => c.logout(),
		};
	}, [c, view]);
	return createElement(SessionContext.Provider, { value }, children);
}

function useValue() {
	const v = useContext(SessionContext);
	if (!v) throw new Error('useSession() needs a <SessionProvider> above it');
	return v;
}

export function useSession() {
	const { client: _client, ...surface } = useValue();
	return surface;
}

// useSessionClient(): the provider's core client (current(), refresh(), list(), ...).
export function useSessionClient() {
	return useValue().client;
}

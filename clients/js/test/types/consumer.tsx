// A strict TypeScript consumer of the three entry points: what the declarations
// promise, checked by tsc (and what they refuse, with @ts-expect-error).
import {
	createClient, AuthError, CsrfError, ServerOwnedFieldError, VersionConflictError, TooManyFailuresError,
	NetworkError, UnavailableError, SessiondError, type Session, type SessiondClient, type ClientState,
} from 'sessiond-client';
import { SessionProvider, useSession, useSessionClient } from 'sessiond-client/react';
import { sessionRoute, getSession, serviceClient } from 'sessiond-client/server';

const client: SessiondClient = createClient({ baseUrl: 'https://api.example.com', credentials: 'cookie' });
// @ts-expect-error credentials is 'cookie' or 'header'
createClient({ credentials: 'bearer' });

export async function flows(): Promise<string | null> {
	const s: Session = await client.create('jwt', { user: { name: 'Ada' }, needs_onboarding: true });
	const tenant: string | null = s.tenantId;
	const name: string | null = s.user.name;
	const maybe: Session | null = await client.current();
	// @ts-expect-error current() may be null
	const sure: Session = await client.current();
	void sure;
	await client.update({ onboarding_step: null, session_data: { theme: null } }, { ifMatch: true });
	// @ts-expect-error not a writable field
	await client.update({ user: { id: 'x' } });
	const r = await client.refresh({ rotate: true });
	const flags: boolean[] = [r.rotated, r.adopted];
	const l = await client.list();
	const cur: boolean = l.sessions[0].current;
	await client.revoke(l.sessions[0].id);
	const n: number = (await client.logoutEverywhere({ keepCurrent: true })).count;
	await client.logout();
	const stop: () => void = client.connect({ refreshHours: 24, rotate: false });
	stop();
	const un = client.subscribe((st: ClientState) => { void st.reason; });
	un();
	try {
		await client.update({ subscription_plan: 'pro' });
	} catch (e) {
		if (e instanceof VersionConflictError) return String(e.version) + e.session?.id;
		if (e instanceof TooManyFailuresError) return String(e.retryAfter);
		if (e instanceof ServerOwnedFieldError) return e.serverMessage;
		if (e instanceof AuthError || e instanceof CsrfError || e instanceof NetworkError || e instanceof UnavailableError) return e.code;
		if (e instanceof SessiondError) return `${e.status}`;
	}
	return [tenant, name, maybe?.id, flags, cur, n].join();
}

export function Dashboard() {
	const { session, loading, error, isAuthenticated, needsOnboarding, updateSession, createSession, logout } = useSession();
	const c: SessiondClient = useSessionClient();
	void c;
	const e: string | null = error;
	if (loading) return <p>Loading</p>;
	if (!isAuthenticated() || !session) return <p>{e}</p>;
	void createSession({ accessToken: 't', user: {}, needs_onboarding: true });
	// @ts-expect-error the access token is required
	void createSession({ needs_onboarding: true });
	return (
		<SessionProvider client={client} refresh={{ marginSeconds: 60 }}>
			<p onClick={() => { void updateSession({ onboarding_completed: true }); void logout(); }}>
				{session.user.name} {session.tenant?.name} {needsOnboarding() ? 'onboarding' : session.subscription_plan}
			</p>
		</SessionProvider>
	);
}

const route = sessionRoute({ sessiondUrl: 'http://127.0.0.1:8080', clientIp: (req: Request) => req.headers.get('x-real-ip') });
export const { GET, POST, PATCH, DELETE } = route;
// @ts-expect-error clientIp is required: a Request carries no peer address
sessionRoute({ sessiondUrl: 'http://127.0.0.1:8080' });
export async function handler(req: Request): Promise<Response> {
	const s = await getSession(req, { sessiondUrl: 'http://127.0.0.1:8080' });
	const { count } = await serviceClient({ sessiondUrl: 'http://127.0.0.1:8080', serviceKey: 'k' })
		.setBilling('auth0|42', { subscription_plan: 'pro', subscription_status: 'active' });
	return (await POST(req)).status === 201 ? new Response(`${s?.tenantId} ${count}`) : GET(req);
}

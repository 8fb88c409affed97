// Types of sessiond-client (the core).

export interface SessionUser {
	id: string;
	email: string | null;
	name: string | null;
	picture: string | null;
}

export interface SessionTenant {
	id: string;
	name: string | null;
}

/** A session as sessiond answers it, plus `tenantId`, an alias of `tenant.id`. */
export interface Session {
	id: string;
	user: SessionUser;
	tenant: SessionTenant | null;
	/** `tenant.id`, or null when the token named no tenant. */
	tenantId: string | null;
	needs_onboarding: boolean;
	onboarding_completed: boolean;
	onboarding_step: string | null;
	subscription_plan: string | null;
	subscription_status: string | null;
	session_data: Record<string, unknown>;
	session_type: 'web' | 'mobile' | 'api';
	is_active: boolean;
	is_expired: boolean;
	created_at: string;
	updated_at: string;
	last_activity: string;
	expires_at: string;
	version: number;
}

/** One entry of list(): the session fields plus where it was used from. */
export interface ListedSession extends Session {
	ip_address: string | null;
	user_agent: string | null;
	current: boolean;
}

/** What create() sends; `user` (the Auth0 user) is accepted and never sent. */
export interface CreateFields {
	needs_onboarding?: boolean;
	onboarding_completed?: boolean;
	onboarding_step?: string | null;
	session_type?: 'web' | 'mobile' | 'api';
	session_data?: Record<string, unknown>;
	/** Refused unless the operator set client_writable_billing. */
	subscription_plan?: string;
	subscription_status?: string;
	user?: unknown;
}

/** A merge patch of the client-writable fields. */
export interface SessionPatch {
	needs_onboarding?: boolean;
	onboarding_completed?: boolean;
	onboarding_step?: string | null;
	session_data?: Record<string, unknown | null>;
	/** 403 server_owned_field (ServerOwnedFieldError) unless client_writable_billing is on or the value is unchanged. */
	subscription_plan?: string;
	subscription_status?: string;
}

export type ClientStatus = 'unknown' | 'signed-in' | 'signed-out';

export interface ClientState {
	status: ClientStatus;
	session: Session | null;
	/** Why the client is signed out: sessiond's 401 code, or 'logged_out'. */
	reason: string | null;
}

export type ClientEvent = 'created' | 'current' | 'updated' | 'refreshed' | 'rotated' | 'signed-out';

export interface ClientOptions {
	/** Where sessiond's /api/sessions/ lives; '' (the default) is the page's own origin. */
	baseUrl?: string;
	/** 'cookie' (browsers, the default): the HttpOnly cookie plus X-CSRF-Token; 'header': Authorization: Session. */
	credentials?: 'cookie' | 'header';
	fetch?: typeof globalThis.fetch;
	/** Header mode: a session token to start with. */
	token?: string | null;
	/** Extra headers on every request (a server forwarding X-Forwarded-For and User-Agent). */
	headers?: Record<string, string> | (() => Record<string, string>);
	/** Attempts after the first for safe requests (GET, PATCH with If-Match) with no answer or 502/503/504; default 2. */
	retries?: number;
	/** BroadcastChannel name used by connect(); false: none. Default 'sessiond'. */
	channel?: string | false;
}

export interface RefreshResult {
	expires_at: string;
	/** This call issued a new token. */
	rotated: boolean;
	/** Another tab rotated while this one waited for the lock; this one took its result. */
	adopted: boolean;
	/** Header mode, after a rotation: the new token. */
	session_token?: string;
}

export interface ConnectOptions {
	/** hours for the refresh before expiry (sessiond's default: 24). */
	refreshHours?: number;
	/** Rotate the token at that refresh too. Default false. */
	rotate?: boolean;
	/** Refresh this long before expires_at at most (default 600 s; never more than a tenth of what is left). */
	marginSeconds?: number;
}

export interface SessiondClient {
	readonly credentials: 'cookie' | 'header';
	getState(): ClientState;
	/** Header mode: the session token (null in cookie mode: the browser keeps it). */
	getToken(): string | null;
	setToken(token: string | null): void;
	getCsrfToken(): string | null;
	/** Called on every state change; returns the unsubscribe function. */
	subscribe(listener: (state: ClientState, event: ClientEvent) => void): () => void;
	create(accessToken: string, fields?: CreateFields): Promise<Session>;
	/** The session, or null when there is none (the client is then signed out). */
	current(): Promise<Session | null>;
	update(patch: SessionPatch, options?: { ifMatch?: number | string | true }): Promise<Session>;
	refresh(options?: { hours?: number; rotate?: boolean }): Promise<RefreshResult>;
	logout(): Promise<void>;
	logoutEverywhere(options?: { keepCurrent?: boolean }): Promise<{ message: string; count: number }>;
	list(): Promise<{ count: number; sessions: ListedSession[] }>;
	revoke(sessionId: string): Promise<{ message: string }>;
	/** Browser: BroadcastChannel sync, re-check on visibility, refresh before expiry. Returns the stop function. */
	connect(options?: ConnectOptions): () => void;
}

export function createClient(options?: ClientOptions): SessiondClient;
export function withTenantId<T extends object | null>(session: T): T;

export interface SessiondErrorOptions {
	status?: number;
	code?: string;
	retryAfter?: number | null;
	cause?: unknown;
}

export class SessiondError extends Error {
	constructor(message: string, options?: SessiondErrorOptions);
	/** The HTTP status (0: no answer). */
	status: number;
	/** sessiond's error code: session_expired, csrf_failed, version_conflict, too_many_failures, ... */
	code: string;
	/** Seconds from Retry-After (429, 503), else null. */
	retryAfter: number | null;
}
export class AuthError extends SessiondError {}
export class CsrfError extends SessiondError {}
export class ServerOwnedFieldError extends SessiondError {
	/** sessiond's own message; `message` explains the service route. */
	serverMessage: string;
}
export class VersionConflictError extends SessiondError {
	/** The current session (null if it is gone meanwhile). */
	session: Session | null;
	/** Its version: the If-Match for a retry. */
	version: number | null;
}
export class TooManyFailuresError extends SessiondError {}
export class UnavailableError extends SessiondError {}
export class NetworkError extends SessiondError {}
export const BILLING_MESSAGE: string;

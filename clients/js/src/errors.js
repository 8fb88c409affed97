// The typed errors of sessiond-client: one class per kind of answer a caller
// handles differently, each carrying sessiond's error code.

export class SessiondError extends Error {
	constructor(message, { status = 0, code = 'unknown_error', retryAfter = null, cause } = {}) {
		super(message, cause === undefined ? undefined : { cause });
		this.name = 'SessiondError';
		this.status = status;
		this.code = code;
		this.retryAfter = retryAfter;
	}
}

// 401: no session, or no longer one (missing_credentials, invalid_session,
// session_expired), or a refused Auth0 token on create (invalid_token, token_not_jws).
export class AuthError extends SessiondError {
	constructor(message, o) { super(message, o); this.name = 'AuthError'; }
}

// 403 csrf_failed: a cookie-authenticated write without a trusted Origin or X-CSRF-Token.
export class CsrfError extends SessiondError {
	constructor(message, o) { super(message, o); this.name = 'CsrfError'; }
}

export const BILLING_MESSAGE =
	'sessiond refused a change to subscription_plan/subscription_status from the browser (403 server_owned_field): ' +
	'billing is set by your payment backend, which calls PATCH /api/sessions/internal/users/{user_id}/ ' +
	'with Authorization: Service <key> (every session of the user, in every tab, then shows the new plan); ' +
	'only an operator\'s client_writable_billing = on lets a browser write them';

// 403 server_owned_field: billing fields are the server's (see BILLING_MESSAGE).
export class ServerOwnedFieldError extends SessiondError {
	constructor(message, o) {
		super(BILLING_MESSAGE, o);
		this.name = 'ServerOwnedFieldError';
		this.serverMessage = message;
	}
}

// 412 version_conflict: the If-Match version is stale; session and version are the current ones.
export class VersionConflictError extends SessiondError {
	constructor(message, o, session, version) {
		super(message, o);
		this.name = 'VersionConflictError';
		this.session = session;
		this.version = version;
	}
}

// 429 too_many_failures: retryAfter says how many seconds to wait.
export class TooManyFailuresError extends SessiondError {
	constructor(message, o) { super(message, o); this.name = 'TooManyFailuresError'; }
}

// 503 store_unavailable / auth_unavailable, 502/504 from the web server: transient.
export class UnavailableError extends SessiondError {
	constructor(message, o) { super(message, o); this.name = 'UnavailableError'; }
}

// The request never got an answer (connection refused, reset, offline, CORS refusal).
export class NetworkError extends SessiondError {
	constructor(message, o) { super(message, { ...o, code: 'network_error' }); this.name = 'NetworkError'; }
}

// errorFor(status, body, headers): the typed error for a non-2xx answer.
export function errorFor(status, body, headers) {
	const code = body?.error?.code ?? `http_${status}`;
	const message = body?.error?.message ?? `sessiond answered ${status}`;
	const ra = headers?.get?.('Retry-After');
	const retryAfter = ra != null && /^\d+$/.test(ra) ? Number(ra) : null;
	const o = { status, code, retryAfter };
	if (status === 401) return new AuthError(message, o);
	if (status === 403 && code === 'csrf_failed') return new CsrfError(message, o);
	if (status === 403 && code === 'server_owned_field') return new ServerOwnedFieldError(message, o);
	if (status === 412) return new VersionConflictError(message, o, null, null);
	if (status === 429) return new TooManyFailuresError(message, o);
	if (status === 502 || status === 503 || status === 504) return new UnavailableError(message, o);
	return new SessiondError(message, o);
}

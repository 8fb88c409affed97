// Types of sessiond-client/server.
import type { Session } from './index.js';
export { SessiondError } from './index.js';

export interface SessionRouteOptions {
	/** Where sessiond's /api/sessions/ lives, server to server. */
	sessiondUrl: string;
	/** The browser's address: a Request carries no peer address. Sent as X-Forwarded-For (list this server in sessiond's trusted_proxies). */
	clientIp(request: Request): string | null | undefined;
	/** Origins whose pages may write; default the request's own origin. */
	allowedOrigins?: string[];
	/** The app's HttpOnly cookie holding the session token; default app_session. */
	cookieName?: string;
	cookie?: { secure?: boolean; sameSite?: 'Lax' | 'Strict' | 'None'; path?: string };
	/** The Auth0 access token for create; default the body's accessToken. */
	accessToken?(request: Request, body: Record<string, unknown>): string | Promise<string>;
	fetch?: typeof globalThis.fetch;
}

export interface SessionRoute {
	GET(request: Request): Promise<Response>;
	POST(request: Request): Promise<Response>;
	PATCH(request: Request): Promise<Response>;
	DELETE(request: Request): Promise<Response>;
}

export function sessionRoute(options: SessionRouteOptions): SessionRoute;
export function writeAllowed(request: Request, allowedOrigins?: string[]): boolean;
export function getSession(
	request: Request,
	options: { sessiondUrl: string; clientIp?(request: Request): string | null | undefined; cookieName?: string; fetch?: typeof globalThis.fetch },
): Promise<Session | null>;

export interface ServiceClient {
	setBilling(userId: string, fields: { subscription_plan?: string; subscription_status?: string }): Promise<{ count: number }>;
}
export function serviceClient(options: { sessiondUrl: string; serviceKey: string; fetch?: typeof globalThis.fetch }): ServiceClient;

// Types of sessiond-client/react.
import type { ReactNode, ReactElement } from 'react';
import type { ConnectOptions, CreateFields, Session, SessionPatch, SessiondClient } from './index.js';

export interface SessionProviderProps {
	children?: ReactNode;
	/** A client made with createClient(); default: one for the page's origin in cookie mode. */
	client?: SessiondClient;
	baseUrl?: string;
	credentials?: 'cookie' | 'header';
	/** Refresh before expiry (connect()'s options). */
	refresh?: ConnectOptions;
}

export function SessionProvider(props: SessionProviderProps): ReactElement;

export interface CreateSessionArgs extends CreateFields {
	/** The Auth0 access token. */
	accessToken: string;
	/** The Auth0 user: accepted, never sent (sessiond takes the identity from the token). */
	user?: unknown;
}

export interface UseSession {
	session: Session | null;
	loading: boolean;
	/** The message of the last failure to load or create the session, or null. */
	error: string | null;
	isAuthenticated(): boolean;
	needsOnboarding(): boolean;
	createSession(args: CreateSessionArgs): Promise<Session>;
	updateSession(patch: SessionPatch): Promise<Session>;
	logout(): Promise<void>;
}

export function useSession(): UseSession;
export function useSessionClient(): SessiondClient;

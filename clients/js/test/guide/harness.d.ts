// What the guide's snippets take from their surroundings (the test's harness,
// not part of the package): the Next.js router, the session in the payment
// handler's scope, the OnboardingFlow component, the Auth0 SDK's token and
// user, the plan the onboarding form chose, and useSession where a snippet
// uses it without importing it.
import type { Session } from 'sessiond-client';
import type { useSession as UseSession } from 'sessiond-client/react';
import type { JSX } from 'react';

declare global {
	const router: { push(url: string): void };
	const session: Session;
	function OnboardingFlow(): JSX.Element;
	const auth0Token: string;
	const auth0User: { sub: string; name?: string; email?: string };
	const selectedPlan: string;
	const useSession: typeof UseSession;
}

// src/app/auth/callback/page.js
import { useSession } from 'sessiond-client/react';

// After Auth0 authentication
const { createSession } = useSession();

const sessionData = await createSession({
  accessToken: auth0Token,
  user: auth0User,
  needs_onboarding: true,
  subscription_plan: 'free'
});

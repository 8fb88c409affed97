import { useSession } from 'sessiond-client/react';

function MyComponent() {
  const { 
    session, 
    loading, 
    error,
    isAuthenticated,
    needsOnboarding,
    updateSession 
  } = useSession();

  if (loading) return <div>Loading...</div>;
  if (error) return <div>Error: {error}</div>;
  if (!isAuthenticated()) return <div>Please login</div>;

  if (needsOnboarding()) {
    return <OnboardingFlow />;
  }

  return (
    <div>
      <h1>Welcome {session.user.name}</h1>
      <p>Tenant: {session.tenant.name}</p>
      <p>Plan: {session.subscription_plan}</p>
    </div>
  );
}

// After
const { updateSession } = useSession();
await updateSession({
  needs_onboarding: false,
  onboarding_completed: true,
  subscription_plan: selectedPlan
});

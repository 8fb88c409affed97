// In payment completion handler
const handlePaymentSuccess = async (paymentData) => {
  const { updateSession } = useSession();
  
  try {
    await updateSession({
      subscription_plan: paymentData.plan,
      subscription_status: 'active',
      needs_onboarding: false,
      onboarding_completed: true
    });
    
    // Redirect to dashboard
    router.push(`/tenant/${session.tenantId}/dashboard`);
  } catch (error) {
    console.error('Failed to update session:', error);
  }
};

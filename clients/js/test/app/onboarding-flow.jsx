// The OnboardingFlow the guide's component renders while needsOnboarding(): the guide's
// onboarding completion, with the plan the form chose (the one the session has, so sessiond
// accepts it from the browser).
import { useState } from 'react';
import { useSession } from 'sessiond-client/react';

export function OnboardingFlow() {
	const { updateSession } = useSession();
	const [selectedPlan] = useState('free');
	const [note, setNote] = useState('');
	const finish = async () => {
		try {
			await updateSession({ needs_onboarding: false, onboarding_completed: true, subscription_plan: selectedPlan });
		} catch (e) {
			setNote(`failed: ${e.code}`);
		}
	};
	return (
		<div id="onboarding">
			<h2>Onboarding</h2>
			<button id="finish" onClick={finish}>Finish onboarding</button>
			<p>{note}</p>
		</div>
	);
}

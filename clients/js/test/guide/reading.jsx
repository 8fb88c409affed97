// After (session-based)
import { useSession } from 'sessiond-client/react';

const { session, loading } = useSession();
if (session && !loading) {
  // Use session data
}

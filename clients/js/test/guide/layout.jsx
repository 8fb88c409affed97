// src/app/layout.js
import { SessionProvider } from 'sessiond-client/react';

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <SessionProvider>
          {/* ... other providers ... */}
          {children}
        </SessionProvider>
      </body>
    </html>
  );
}

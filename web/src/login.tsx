/** The login form: POST /api/auth/login sets the session cookie and hands back the CSRF token. */
import { useState } from 'preact/hooks';
import { call, type Session } from './api';

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    try {
      onLogin(await call<Session>('POST', '/api/auth/login', { username: f.get('username'), password: f.get('password') }));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>cordon</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          User name
          <input name="username" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && (
          <p role="alert" class="err-box">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

/** Log in with a username and password; says why the last session ended, if it did. */

import { useEffect, useState, type FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";
import type { LoginState } from "../App";
import { logIn } from "../api/auth";
import { ApiError } from "../api/http";
import { LOGGED_OUT_MESSAGE, session } from "../api/session";
import { Alert, errorText } from "../components/Alert";
import { noteLanding } from "../components/Layout";
import { useSession } from "../hooks/useSession";
import { usePageTitle } from "../hooks/usePageTitle";

export function LoginPage() {
  usePageTitle("Log in");
  useEffect(noteLanding, []);
  const current = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as LoginState | null)?.from ?? "/experiments";
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ended = session.lastEnded();

  if (current && !busy) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      await logIn(username.trim(), password);
      navigate(from, { replace: true });
    } catch (problem) {
      setBusy(false);
      setError(
        problem instanceof ApiError && problem.status === 401
          ? "The username or password is not right. Check them and try again."
          : errorText(problem),
      );
    }
  };

  return (
    <main id="main" className="login-page">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-brand" aria-hidden="true">
          <svg viewBox="0 0 32 32" width="40" height="40">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M7 22 L13 14 L18 18 L25 9" fill="none" stroke="#fff" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
        </div>
        <h1 id="login-title">Log in to AzuraForge</h1>
        {ended && !error ? (
          <Alert kind={ended.message === LOGGED_OUT_MESSAGE ? "success" : "info"}>{ended.message}</Alert>
        ) : null}
        {error ? <Alert kind="error">{error}</Alert> : null}
        <div className="field">
          <label htmlFor="username">Username</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <button type="submit" className="button button-primary button-wide" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <p className="muted small">
          The first administrator's password is printed by <code>forge up</code> when it starts for the first time.
        </p>
      </form>
    </main>
  );
}

/**
 * The frame of every page after log-in: a skip link, the header with the navigation and the
 * user's name, and the page. After a navigation, focus moves to the new page's heading so a
 * screen reader says where the user is now.
 */

import { useEffect, useRef } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { session } from "../api/session";
import { useSession } from "../hooks/useSession";

export function Layout() {
  const current = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [location.pathname]);

  const user = current?.user;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <NavLink to="/experiments" className="brand" aria-label="AzuraForge, experiments">
          <svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M7 22 L13 14 L18 18 L25 9" fill="none" stroke="#fff" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          <span>AzuraForge</span>
        </NavLink>
        <nav aria-label="Main" className="main-nav">
          <NavLink to="/experiments" end>
            Experiments
          </NavLink>
          <NavLink to="/experiments/new">New experiment</NavLink>
          <NavLink to="/compare">Compare</NavLink>
        </nav>
        <div className="user-box">
          {user ? (
            <span className="user-name" title={user.role === "admin" ? "Administrator" : "User"}>
              {user.username}
              {user.role === "admin" ? <span className="role-tag">admin</span> : null}
            </span>
          ) : null}
          <button type="button" className="button button-quiet" onClick={() => session.logOut()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" ref={main} className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

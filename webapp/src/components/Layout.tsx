/**
 * The frame of every page after log-in: a skip link, the header with the navigation and the
 * user's name, and the page. After a navigation (log-in and Launch included), focus moves to
 * the new page's heading once the page has drawn it, so a screen reader says where the user is
 * now: a page still saying "Loading…" has no `<h1>` yet, and focus waits for it. The page the
 * browser opened first keeps focus at the top of the document, as any web page does, and focus
 * the user has already moved elsewhere is left alone.
 */

import { useEffect, useRef } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { session } from "../api/session";
import { useSession } from "../hooks/useSession";

/** The path the browser loaded; the first view of it is not a navigation. */
const LANDING_PATH = window.location.pathname;
let landed = false;

/** Another page (the log-in page) was shown first: the next Layout is reached by navigating. */
export function noteLanding(): void {
  landed = true;
}

/**
 * Focus the first `<h1>` in `root` when it appears, unless the user has moved focus since the
 * navigation (focus that merely fell back to `<body>`, as when the Launch button went away, does
 * not count).
 */
export function focusHeadingWhenDrawn(root: HTMLElement): () => void {
  const before = document.activeElement;
  const tryFocus = (): boolean => {
    const heading = root.querySelector<HTMLElement>("h1");
    if (!heading) return false;
    const active = document.activeElement;
    if (active === before || active === null || active === document.body || active === root) heading.focus();
    return true;
  };
  if (tryFocus()) return () => {};
  const observer = new MutationObserver(() => {
    if (tryFocus()) observer.disconnect();
  });
  observer.observe(root, { childList: true, subtree: true });
  return () => observer.disconnect();
}

export function Layout() {
  const current = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    if (!landed) {
      landed = true;
      if (location.pathname === LANDING_PATH) return;
    }
    if (!main.current) return;
    return focusHeadingWhenDrawn(main.current);
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
          <NavLink to="/sweeps">Sweeps</NavLink>
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

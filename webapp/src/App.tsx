/** The app's pages and the rule that every page but the log-in page needs a session. */

import type { ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { Layout } from "./components/Layout";
import { useSession } from "./hooks/useSession";
import { ComparePage } from "./pages/ComparePage";
import { ExperimentPage } from "./pages/ExperimentPage";
import { ExperimentsPage } from "./pages/ExperimentsPage";
import { LoginPage } from "./pages/LoginPage";
import { NewExperimentPage } from "./pages/NewExperimentPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SweepPage } from "./pages/SweepPage";
import { SweepsPage } from "./pages/SweepsPage";

/** Where the log-in page sends the user back to, carried in the location's state. */
export interface LoginState {
  from?: string;
}

function RequireSession({ children }: { children: ReactNode }) {
  const current = useSession();
  const location = useLocation();
  if (!current) {
    const state: LoginState = { from: `${location.pathname}${location.search}` };
    return <Navigate to="/login" replace state={state} />;
  }
  return children;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="/experiments" replace />} />
        <Route path="experiments" element={<ExperimentsPage />} />
        <Route path="experiments/new" element={<NewExperimentPage />} />
        <Route path="experiments/:id" element={<ExperimentPage />} />
        <Route path="compare" element={<ComparePage />} />
        <Route path="sweeps" element={<SweepsPage />} />
        <Route path="sweeps/:id" element={<SweepPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

import { Link } from "react-router";
import { usePageTitle } from "../hooks/usePageTitle";

export function NotFoundPage() {
  usePageTitle("Not found");
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing at this address. Go to the <Link to="/experiments">experiments</Link>.
      </p>
    </>
  );
}

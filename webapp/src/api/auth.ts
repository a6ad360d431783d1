/** Logging in (`POST auth/token`, OAuth2's password grant) and asking who we are (`auth/me`). */

import { requestJson } from "./http";
import { session } from "./session";
import { parseLogin, parseUser, type User } from "./types";

/** Log in and start the session; an `ApiError` (401 for a wrong password) otherwise. */
export async function logIn(username: string, password: string): Promise<User> {
  const login = parseLogin(
    await requestJson("auth/token", {
      method: "POST",
      json: { username, password, grant_type: "password" },
      anonymous: true,
    }),
  );
  session.start({
    token: login.token,
    expiresAt: login.expiresInSeconds > 0 ? Date.now() + login.expiresInSeconds * 1000 : null,
    user: login.user,
  });
  const user = login.user ?? (await whoAmI());
  session.setUser(user);
  return user;
}

export async function whoAmI(): Promise<User> {
  return parseUser(await requestJson("auth/me"));
}

/** Logging in (`POST auth/token`, OAuth2's password grant) and asking who we are (`auth/me`). */

import { requestJson } from "./http";
import { session } from "./session";
import { parseUser, type User } from "./types";
import { asNumber, asObject, asString, field } from "./wire";

/** Log in and start the session; an `ApiError` (401 for a wrong password) otherwise. */
export async function logIn(username: string, password: string): Promise<User> {
  const data = asObject(
    await requestJson("auth/token", {
      method: "POST",
      json: { username, password, grant_type: "password" },
      anonymous: true,
    }),
  );
  const token = asString(field(data, "access_token"));
  const expiresIn = asNumber(field(data, "expires_in"));
  const rawUser = field(data, "user");
  session.start({
    token,
    expiresAt: expiresIn > 0 ? Date.now() + expiresIn * 1000 : null,
    user: rawUser ? parseUser(rawUser) : null,
  });
  const user = rawUser ? parseUser(rawUser) : await whoAmI();
  session.setUser(user);
  return user;
}

export async function whoAmI(): Promise<User> {
  return parseUser(await requestJson("auth/me"));
}

// oidc-client-ts 3.5.0: UserManager (signinRedirect + signinCallback).
export { UserManager } from 'oidc-client-ts';

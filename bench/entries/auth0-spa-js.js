// @auth0/auth0-spa-js: createAuth0Client (loginWithRedirect + handleRedirectCallback).
export { createAuth0Client } from '@auth0/auth0-spa-js';

// @auth0/auth0-spa-js 2.4.1 (the version of the first peer comparison, before it depended on @auth0/auth0-auth-js): createAuth0Client.
export { createAuth0Client } from 'auth0-spa-js-2.4.1';

// @auth0/auth0-spa-js 2.4.1 (the version REFERENCE §6 measured): createAuth0Client.
export { createAuth0Client } from 'auth0-spa-js-2.4.1';

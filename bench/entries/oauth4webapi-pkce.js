// oauth4webapi 3.8.8: PKCE + state only (REFERENCE §6 row 2).
export { generateRandomCodeVerifier, calculatePKCECodeChallenge, generateRandomState } from 'oauth4webapi';

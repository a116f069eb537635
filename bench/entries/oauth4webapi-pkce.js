// oauth4webapi 3.8.8: PKCE + state only (the second oauth4webapi row of docs/BENCHMARKS.md "Payload").
export { generateRandomCodeVerifier, calculatePKCECodeChallenge, generateRandomState } from 'oauth4webapi';

// oauth4webapi 3.8.8: what a code-flow sign-in in a SPA uses (the first oauth4webapi row of docs/BENCHMARKS.md "Payload").
export {
  generateRandomCodeVerifier,
  calculatePKCECodeChallenge,
  generateRandomState,
  validateAuthResponse,
  authorizationCodeGrantRequest,
  processAuthorizationCodeResponse,
} from 'oauth4webapi';

// oauth4webapi 3.8.8: what a code-flow sign-in in a SPA uses (REFERENCE §6 row 1).
export {
  generateRandomCodeVerifier,
  calculatePKCECodeChallenge,
  generateRandomState,
  validateAuthResponse,
  authorizationCodeGrantRequest,
  processAuthorizationCodeResponse,
} from 'oauth4webapi';

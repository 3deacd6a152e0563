/**
 * What the request verifier needs of a replay guard. The guards themselves (in memory, in Redis)
 * are the shared state's (src/state); the gateway hands one to the verifier.
 */
export interface ReplayGuard {
  /** Records `jti` until `expiresAt` (epoch ms); true when it was not seen before, false for a replay. */
  checkAndRemember(jti: string, expiresAt: number): Promise<boolean>;
}

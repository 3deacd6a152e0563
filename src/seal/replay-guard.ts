/**
 * What the request verifier needs of a replay guard. The guards themselves (in memory, in Redis)
 * are the shared state's (src/state); the gateway hands one to the verifier.
 */
export interface ReplayGuard {
  /** Records `jti` until `expiresAt` (epoch ms); true when it was not seen before, false for a replay. */
  checkAndRemember(jti: string, expiresAt: number): Promise<boolean>;
  /**
   * Since when (epoch ms) the guard holds every id it was given: the start of the process for a
   * guard in memory, the moment a shared guard found its store empty (Redis flushed or
   * restarted without its data). A token issued before then may have been used already without
   * the guard knowing, so the verifier refuses it (REPLAY_STATE_RESET). Absent: never reset.
   */
  knownSince?(): Promise<number>;
}
